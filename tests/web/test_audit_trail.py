"""Issue 10 item 12: every administrator write (pages and API) and every read of someone else's mail is in
the audit trail, with who, what, on what and from where; the page shows and filters it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, select, text

from portal import create_app
from portal.extensions import db
from portal.models import Admin, AuditEvent
from portal.services import audit
from tests.conftest import csrf_token, login
from tests.world import PASSWORD, World

MESSAGE = "quarantined-1@bad.example"  # in user@a.example's quarantine, with an attachment (part 2)


def _events(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        db.session.expunge_all()
        return events


def test_api_writes_are_recorded_with_who_what_whom_and_where(app: Flask, client: FlaskClient,
                                                               world: World) -> None:
    h = world.headers("domainA")
    assert client.patch(f"/api/domains/{world.id('A')}", json={"description": "night shift"},
                        headers=h).status_code == 204
    assert client.delete(f"/api/users/{world.id('otherA')}", headers=h).status_code == 204
    created = client.post(f"/api/domains/{world.id('A')}/admins", headers=world.headers("sysadmin"), json={
        "login": "helper", "email": "helper@a.example", "password": "a long secret passphrase",
        "permissions": ["USER_READ"]})
    assert created.status_code == 201
    patched, deleted, added = _events(app)
    assert (patched.actor, patched.method, patched.route) == ("admin-a", "PATCH", "/api/domains/<domainId>")
    assert patched.target == "domain a.example" and patched.client == "127.0.0.1"
    assert "night shift" in patched.detail and patched.action
    assert (deleted.method, deleted.target, deleted.user_id) == ("DELETE", "user other@a.example", None)
    assert (added.actor, added.route) == ("root", "/api/domains/<domainId>/admins")
    assert "helper" in added.detail and "USER_READ" in added.detail
    assert "passphrase" not in added.detail, "a password went to the audit trail"


def test_refused_and_end_user_writes_are_not_recorded(app: Flask, client: FlaskClient, world: World) -> None:
    assert client.patch(f"/api/domains/{world.id('A')}", json={"description": "x"},
                        headers=world.headers("domainB")).status_code == 404
    rule = {"value": "pal@x.example", "type": "ALLOW", "spfOn": False}
    assert client.post(f"/api/users/{world.id('userA')}/wblist", json=[rule],
                       headers=world.headers("enduser")).status_code == 201
    assert _events(app) == []


def test_page_writes_are_recorded(app: Flask, client: FlaskClient, world: World) -> None:
    assert login(client, "root", PASSWORD).status_code == 302
    token = csrf_token(client.get("/account").text)
    saved = client.post(f"/admin/domains/{world.id('A')}/settings", data={
        "csrf_token": token, "description": "changed", "status": "ENABLED", "wblist_priority": "USER",
        "default_language": "EN", "policy_id": world.id("policyA")})
    assert saved.status_code == 302
    refused = client.post(f"/admin/policies/{world.id('policyA')}/delete", data={"csrf_token": token})
    assert refused.status_code == 302  # a policy in use: refused on the page, with an error flashed
    deleted = client.post(f"/admin/users/{world.id('otherA')}/delete", data={"csrf_token": token})
    assert deleted.status_code == 302
    events = _events(app)
    assert [(e.actor, e.method, e.route) for e in events] == [
        ("root", "POST", "/admin/domains/<domain_id>/settings"), ("root", "POST", "/admin/users/<user_id>/delete")]
    assert events[0].target == "domain a.example" and "description=changed" in events[0].detail
    assert "csrf" not in events[0].detail
    assert events[1].target == "user other@a.example"


def test_reading_someone_elses_mail_is_recorded(app: Flask, client: FlaskClient, world: World) -> None:
    base = f"/api/users/{world.id('userA')}/emails/Quarantine/{MESSAGE}"
    assert client.get(f"{base}?fields=HEADERS,BODY,SOURCE", headers=world.headers("enduser")).status_code == 200
    assert client.get(f"{base}/attachments/2", headers=world.headers("enduser")).status_code == 200
    assert _events(app) == [], "the owner reading its own mail is not an event"
    assert client.get(base, headers=world.headers("customer")).status_code == 200
    assert client.get(f"{base}/attachments/2", headers=world.headers("customer")).status_code == 200
    message, attachment = _events(app)
    assert (message.actor, message.action, message.user_id, message.target) == (
        "customer1", "MAIL_READ", world.pk["userA"], "user@a.example")
    assert message.method == "GET" and MESSAGE in message.detail and "Quarantine" in message.detail
    assert attachment.detail.startswith("attachment 2")


def test_view_as_reads_and_admin_page_reads_are_recorded(app: Flask, client: FlaskClient, world: World) -> None:
    assert login(client, "admin-a", PASSWORD).status_code == 302
    user_id = world.id("userA")
    assert client.get(f"/admin/users/{user_id}/quarantine/message?id={MESSAGE}").status_code == 200
    token = csrf_token(client.get(f"/admin/users/{user_id}").text)
    assert client.post(f"/admin/users/{user_id}/impersonate", data={"csrf_token": token}).status_code == 302
    assert client.get(f"/me/quarantine/message?id={MESSAGE}").status_code == 200
    assert client.get(f"/me/quarantine/attachment?id={MESSAGE}&part=2").status_code == 200
    events = [(e.actor, e.action, e.user_id) for e in _events(app)]
    assert events == [("admin-a", "MAIL_READ", world.pk["userA"]), ("admin-a", "IMPERSONATE_START", world.pk["userA"]),
                      ("admin-a", "MAIL_READ", world.pk["userA"]), ("admin-a", "MAIL_READ", world.pk["userA"])]


def test_the_audit_page_shows_the_request_and_filters_by_administrator(app: Flask, client: FlaskClient,
                                                                       world: World) -> None:
    client.patch(f"/api/domains/{world.id('A')}", json={"description": "by a"}, headers=world.headers("domainA"))
    client.patch(f"/api/domains/{world.id('B')}", json={"description": "by b"}, headers=world.headers("domainB"))
    assert login(client, "root", PASSWORD).status_code == 302
    page = client.get("/admin/audit")
    assert page.status_code == 200
    for title in ("Request", "Concerning", "Client address"):
        assert f"{title}</" in page.text
    assert "PATCH /api/domains/&lt;domainId&gt;" in page.text and "127.0.0.1" in page.text
    only_a = client.get("/admin/audit?actor=Admin-A")
    assert "domain a.example" in only_a.text and "domain b.example" not in only_a.text
    assert 'value="Admin-A"' in only_a.text
    client.post("/language", data={"csrf_token": csrf_token(page.text), "lang": "FR"})
    french = client.get("/admin/audit")
    assert "Adresse du client" in french.text


def test_the_trail_of_one_administrator_is_read_through_an_index(app: Flask) -> None:
    with app.app_context():
        indexes = {i["name"]: i["column_names"] for i in inspect(db.engine).get_indexes("audit_events")}
        assert indexes["ix_audit_events_actor_at"] == ["actor", "at"]
        if db.engine.dialect.name == "sqlite":
            plan = db.session.execute(text(
                "EXPLAIN QUERY PLAN SELECT * FROM audit_events WHERE actor = 'root' ORDER BY at DESC, id DESC"
            )).all()
            assert "ix_audit_events_actor_at" in " ".join(str(row) for row in plan)


@pytest.fixture
def proxied(app: Flask) -> Iterator[Flask]:
    """The same database, served behind one reverse proxy (POSTERN_PROXY_HOPS=1)."""
    other = create_app({**{k: app.config[k] for k in (
        "TESTING", "SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "INSTANCE_DIR", "PASSWORD_HASHER", "REDIS_URL",
        "RATELIMIT_STORAGE_URI", "BASE_URL", "GATEWAY_MX_HOSTS", "DNS_SERVERS")}, "PROXY_HOPS": 1})
    yield other
    with other.app_context():
        db.engine.dispose()


def test_the_client_address_honours_a_proxy_only_when_configured(app: Flask, client: FlaskClient, world: World,
                                                                 proxied: Flask) -> None:
    forged = {**world.headers("domainA"), "X-Forwarded-For": "203.0.113.9"}
    client.patch(f"/api/domains/{world.id('A')}", json={"description": "direct"}, headers=forged)
    proxied.test_client().patch(f"/api/domains/{world.id('A')}", json={"description": "proxied"}, headers=forged)
    assert [e.client for e in _events(app)] == ["127.0.0.1", "203.0.113.9"]



def test_hostile_ids_in_a_write_url_are_described_without_a_lookup(app: Flask, world: World) -> None:
    """The URL's objects are named before the view runs, so before it refuses a hostile id: no error there."""
    with app.app_context():
        described = audit.describe({"userId": "99999999999999999999999999", "userIdOrEmail": "x\x00y@a.example",
                                    "domainId": "z" * 40, "adminId": "-1", "policyId": world.id("policyA")})
        assert described == ("user 99999999999999999999999999 (unknown), user x\x00y@a.example (unknown), "
                             f"domain {'z' * 40} (unknown), admin -1 (unknown), policy Policy-a.example", None)


def test_whatever_a_request_held_is_storable(app: Flask, world: World) -> None:
    with app.app_context():
        admin = db.session.get(Admin, world.pk["sysadmin"])
        audit.record_request(admin, audit.Request(method="POST", route="/x", action="x", client="127.0.0.1",
                                                  target="a\x00b", detail="bad \ud800 text\x00"), [], write=True)
        db.session.commit()
        event = db.session.scalars(select(AuditEvent)).one()
        assert (event.target, event.detail) == ("a\\x00b", "bad \\ud800 text\\x00")
