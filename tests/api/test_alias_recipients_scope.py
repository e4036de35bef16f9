"""Issue 10 item 6: an alias recipient outside the caller's scope reads as an external address, without names."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import EmailAlias, EmailAliasRecipient, MailUser
from tests.conftest import csrf_token, login
from tests.world import PASSWORD, World

FOREIGN = ("user@b.example", "user@c.example", "team@c.example")  # B: same customer as A; C: another broker


def _foreign_people(app: Flask, world: World) -> None:
    with app.app_context():
        for email in ("user@b.example",):
            user = db.session.scalar(db.select(MailUser).where(MailUser.email == email))
            user.firstname, user.lastname = "Alice", "Secret"
        db.session.add(MailUser(domain_id=world.pk["C"], email="user@c.example", firstname="Carol",
                                lastname="Hidden"))
        db.session.add(EmailAlias(domain_id=world.pk["C"], email="team@c.example"))
        user_a = db.session.get(MailUser, world.pk["userA"])
        user_a.firstname, user_a.lastname = "Ann", "Own"
        db.session.commit()


def test_a_foreign_recipient_reads_as_external(app: Flask, client: FlaskClient, world: World) -> None:
    _foreign_people(app, world)
    base = f"/api/domains/{world.id('A')}/groups/{world.id('groupA')}"
    added = client.post(f"{base}/addresses", json=[*FOREIGN, "other@a.example"], headers=world.headers("domainA"))
    assert added.status_code == 201
    seen = {r["email"]: r for r in added.json["recipients"]}
    for email in FOREIGN:
        assert seen[email]["type"] == "EXTERNAL_ADDRESS", email
        assert seen[email]["firstname"] is None and seen[email]["lastname"] is None
    assert seen["user@a.example"]["type"] == "USER" and seen["user@a.example"]["firstname"] == "Ann"
    assert seen["other@a.example"]["type"] == "USER"
    text = added.get_data(as_text=True)
    assert "Alice" not in text and "Carol" not in text
    listed = client.get(f"/api/domains/{world.id('A')}/groups", headers=world.headers("domainA")).get_data(
        as_text=True)
    assert "Alice" not in listed and "Carol" not in listed and '"USER"' in listed


def test_a_recipient_typed_by_a_wider_admin_is_masked_for_a_narrower_one(
        app: Flask, client: FlaskClient, world: World) -> None:
    """The customer sees b.example's users: for it user@b.example is a USER; for admin-a it is not."""
    _foreign_people(app, world)
    base = f"/api/domains/{world.id('A')}/groups/{world.id('groupA')}"
    added = client.post(f"{base}/addresses", json=["user@b.example"], headers=world.headers("customer"))
    by_customer = {r["email"]: r for r in added.json["recipients"]}
    assert by_customer["user@b.example"]["type"] == "USER" and by_customer["user@b.example"]["firstname"] == "Alice"
    for url in (base, f"/api/domains/{world.id('A')}/groups"):
        text = client.get(url, headers=world.headers("domainA")).get_data(as_text=True)
        assert "Alice" not in text and "Secret" not in text
    seen = {r["email"]: r for r in client.get(base, headers=world.headers("domainA")).json["recipients"]}
    assert seen["user@b.example"]["type"] == "EXTERNAL_ADDRESS" and seen["user@b.example"]["firstname"] is None
    with app.app_context():  # what is stored keeps the writer's view; what is shown is the reader's
        stored = db.session.scalar(db.select(EmailAliasRecipient.type).where(
            EmailAliasRecipient.email == "user@b.example"))
        assert stored == "USER"


def test_the_alias_page_shows_no_foreign_names(app: Flask, client: FlaskClient, world: World) -> None:
    _foreign_people(app, world)
    client.post(f"/api/domains/{world.id('A')}/groups/{world.id('groupA')}/addresses", json=list(FOREIGN),
                headers=world.headers("customer"))
    assert login(client, "admin-a", PASSWORD).status_code == 302
    page = client.get(f"/admin/domains/{world.id('A')}/rules/groups")
    assert page.status_code == 200 and "user@c.example" in page.text
    assert "Alice" not in page.text and "Carol" not in page.text
    assert csrf_token(page.text)
