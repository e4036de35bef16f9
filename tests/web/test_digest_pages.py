"""The digest's pages: a link lands on a confirm page (GET changes nothing), its POST acts once; wrong action,
reused, expired, another user's and tampered links are refused with a clear page; List-Unsubscribe's one-click
POST turns the digest off; the user's Notifications page; an administrator's test digest."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Domain, LinkToken, MailUser, Release, SenderRule
from portal.services import digest
from tests.conftest import csrf_token, login
from tests.services.test_digest import sink  # noqa: F401  (the aiosmtpd fixture: Postern's own mail)
from tests.services_runtime import SmtpSink, smtp_server
from tests.world import PASSWORD, World


@pytest.fixture
def relay(app: Flask, world: World) -> Iterator[SmtpSink]:
    """aiosmtpd as domain A's relay: where a release goes."""
    with smtp_server() as (received, port):
        with app.app_context():
            db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = port
            db.session.commit()
        yield received


@pytest.fixture
def mailed(app: Flask, world: World, sink: SmtpSink) -> dict[str, list[str]]:  # noqa: F811
    """The digest of user@a.example (its 2 held messages) sent; its links by action."""
    with app.app_context():
        digest.send(world.pk["userA"], "2026-11-27")
        db.session.commit()
    text = message_from_bytes(sink.messages[0][2], policy=policy.default).get_body(("plain",)).get_content()
    found: dict[str, list[str]] = {}
    for action, token in re.findall(r"http://postern\.test/me/digest/([a-z-]+)/([\w-]{43})", text):
        found.setdefault(action, []).append(token)
    assert set(found) == {"release", "release-and-allow", "block", "off"} and len(found["release"]) == 2
    return found


def _post(client: FlaskClient, path: str) -> tuple[int, str]:
    page = client.get(path)
    token = csrf_token(page.text) if 'name="csrf_token"' in page.text else ""
    answer = client.post(path, data={"csrf_token": token})
    return answer.status_code, answer.text


def _rules(app: Flask, user_id: int) -> list[tuple[str, str]]:
    with app.app_context():
        return [(r.value, r.type) for r in db.session.scalars(select(SenderRule).where(SenderRule.user_id == user_id))]


def test_release_link_confirms_then_releases_once(app: Flask, client: FlaskClient, world: World,
                                                  mailed: dict[str, list[str]], relay: SmtpSink) -> None:
    path = f"/me/digest/release/{mailed['release'][0]}"
    page = client.get(path)
    assert page.status_code == 200 and 'id="digest-confirm-form"' in page.text and "offer" in page.text
    assert client.get(path).status_code == 200 and relay.messages == []  # a GET (twice) changes nothing
    status, text = _post(client, path)
    assert status == 200 and 'id="digest-done"' in text
    assert len(relay.messages) == 1 and relay.messages[0][1] == ["user@a.example"]
    again = client.get(path)
    assert again.status_code == 410 and "was used already" in again.text
    assert client.post(path, data={"csrf_token": csrf_token(page.text)}).status_code == 410
    assert len(relay.messages) == 1


def test_release_and_allow_and_block(app: Flask, client: FlaskClient, world: World, mailed: dict[str, list[str]],
                                     relay: SmtpSink) -> None:
    before = _rules(app, world.pk["userA"])
    status, _ = _post(client, f"/me/digest/block/{mailed['block'][0]}")
    assert status == 200 and relay.messages == []
    status, _ = _post(client, f"/me/digest/release-and-allow/{mailed['release-and-allow'][1]}")
    assert status == 200 and len(relay.messages) == 1
    added = set(_rules(app, world.pk["userA"])) - set(before)
    assert {kind for _, kind in added} == {"BLOCK", "ALLOW"} and len(added) == 2


def test_a_link_under_another_action_is_refused(client: FlaskClient, mailed: dict[str, list[str]],
                                                relay: SmtpSink) -> None:
    release = mailed["release"][0]
    for action in ("block", "release-and-allow", "off"):
        page = client.get(f"/me/digest/{action}/{release}")
        assert page.status_code == 410 and "This link is not valid" in page.text
        assert client.post(f"/me/digest/{action}/{release}", data={"List-Unsubscribe": "One-Click"}
                           ).status_code in (400, 410)
    assert client.get(f"/me/digest/delete/{release}").status_code == 404  # no such action
    assert relay.messages == []


def test_tampered_and_hostile_tokens_are_refused(client: FlaskClient, mailed: dict[str, list[str]]) -> None:
    token = mailed["release"][0]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (flipped, token[:-1], token + "x", "x" * 200, "%0d%0aSet-Cookie:%20a=b", "é" * 43):
        page = client.get(f"/me/digest/release/{bad}")
        assert page.status_code in (404, 410) and "Set-Cookie" not in page.headers.get("Set-Cookie", "")
    assert client.get(f"/me/digest/release/{token}").status_code == 200  # the real one still works


def test_an_expired_link_is_refused(app: Flask, client: FlaskClient, mailed: dict[str, list[str]]) -> None:
    with app.app_context():
        db.session.execute(update(LinkToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    page = client.get(f"/me/digest/release/{mailed['release'][0]}")
    assert page.status_code == 410 and "has expired" in page.text


def test_another_users_link_is_refused(app: Flask, client: FlaskClient, world: World,
                                       mailed: dict[str, list[str]], relay: SmtpSink) -> None:
    with app.app_context():
        from portal.services.passwords import hash_password

        db.session.get(MailUser, world.pk["otherA"]).password_hash = hash_password(PASSWORD)
        db.session.commit()
    page = client.get("/me/login")
    client.post("/me/login", data={"csrf_token": csrf_token(page.text), "email": "other@a.example",
                                   "password": PASSWORD})
    path = f"/me/digest/release/{mailed['release'][0]}"
    refused = client.get(path)
    assert refused.status_code == 403 and "another account" in refused.text
    assert client.post(path, data={"csrf_token": csrf_token(client.get("/me/notifications").text)}).status_code == 403
    assert relay.messages == []
    admin = app.test_client()
    login(admin, "root", PASSWORD)  # an administrator's session is another account too
    assert admin.get(path).status_code == 403


def test_a_failed_release_leaves_the_link_usable(app: Flask, client: FlaskClient, world: World,
                                                 mailed: dict[str, list[str]], relay: SmtpSink) -> None:
    relay.refuse.add("user@a.example")
    path = f"/me/digest/release/{mailed['release'][0]}"
    status, text = _post(client, path)
    assert status == 502 and 'id="digest-error"' in text and "550" in text
    relay.refuse.clear()
    status, _ = _post(client, path)
    assert status == 200 and len(relay.messages) == 1
    with app.app_context():
        assert db.session.scalar(select(Release.state)) == "delivered"


def test_one_click_unsubscribe_turns_the_digest_off(app: Flask, client: FlaskClient, world: World,
                                                    mailed: dict[str, list[str]]) -> None:
    path = f"/me/digest/off/{mailed['off'][0]}"
    assert client.get(path).status_code == 200  # the confirm page
    answer = client.post(path, data={"List-Unsubscribe": "One-Click"})  # RFC 8058: no session, no CSRF token
    assert answer.status_code == 200
    with app.app_context():
        user = db.session.get(MailUser, world.pk["userA"])
        assert digest.settings_of(user).frequency == "NEVER"
        assert user.id not in {u for u, _ in digest.due(utcnow() + timedelta(days=2))}
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 410


def test_the_notifications_page(app: Flask, client: FlaskClient, world: World) -> None:
    page = client.get("/me/login")
    client.post("/me/login", data={"csrf_token": csrf_token(page.text), "email": "user@a.example",
                                   "password": PASSWORD})
    page = client.get("/me/notifications")
    assert page.status_code == 200 and 'href="/me/notifications"' in page.text
    token = csrf_token(page.text)
    bad = client.post("/me/notifications", data={"csrf_token": token, "frequency": "HOURLY", "time": "8h",
                                                 "timezone": "Mars/Olympus", "day": "", "language": "XX"})
    assert bad.status_code == 400
    for field in ("frequency", "time", "timezone", "language"):
        assert f'id="{field}-error"' in bad.text
    with app.app_context():
        assert digest.choices(db.session.get(MailUser, world.pk["userA"]))["time"].own is None  # nothing saved
    good = client.post("/me/notifications", data={"csrf_token": token, "frequency": "WEEKLY", "time": "07:30",
                                                  "day": "FRIDAY", "timezone": "Europe/Oslo", "language": "DA"})
    assert good.status_code == 302
    with app.app_context():
        user = db.session.get(MailUser, world.pk["userA"])
        settings = digest.settings_of(user)
        assert (settings.frequency, settings.at.isoformat(), settings.day, str(settings.zone), user.language) == (
            "WEEKLY", "07:30:00", 4, "Europe/Oslo", "DA")
    client.post("/me/notifications", data={"csrf_token": token, "frequency": "", "time": "", "day": "",
                                           "timezone": "", "language": "EN"})  # blank: inherit again
    with app.app_context():
        assert all(c.own is None for c in digest.choices(db.session.get(MailUser, world.pk["userA"])).values())


def test_an_admin_sends_a_test_digest(app: Flask, client: FlaskClient, world: World,
                                      sink: SmtpSink) -> None:  # noqa: F811
    login(client, "admin-a", PASSWORD)
    tab = client.get(f"/admin/domains/{world.public['A']}/tab/options")
    assert tab.status_code == 200 and "Send a test digest" in tab.text and "DIGEST_TIME" in tab.text
    token = csrf_token(tab.text)
    unknown = client.post(f"/admin/domains/{world.public['A']}/test-digest",
                          data={"csrf_token": token, "email": "user@b.example"})
    assert unknown.status_code == 400 and "is not a user of this domain" in unknown.text and sink.messages == []
    sent = client.post(f"/admin/domains/{world.public['A']}/test-digest",
                       data={"csrf_token": token, "email": "user@a.example"})
    assert sent.status_code == 302  # the job ran after the commit (in-process here)
    (_, rcpts, raw), = sink.messages
    mail = message_from_bytes(raw, policy=policy.default)
    assert rcpts == ["user@a.example"] and mail["Subject"].startswith("[Test] Quarantine digest")
    with app.app_context():
        assert not digest.recent_runs(db.session.get(MailUser, world.pk["userA"]))  # no period was claimed
