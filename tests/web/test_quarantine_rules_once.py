"""One home per rule on the quarantine pages: `scanner.is_infected` (list, message page and release agree),
`mailboxes.capabilities` (what the pages offer is what the services allow), release claims seen from pages."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.clock import utcnow
from portal.extensions import db
from portal.integrations.mailstore import maildir_root
from portal.models import Admin, Domain, MailUser, Release
from portal.services import mailboxes, release
from portal.services.principal import principal_for_admin, principal_for_user
from tests.conftest import csrf_token
from tests.services_runtime import EICAR, SmtpSink, clamd, free_port, smtp_server
from tests.world import PASSWORD, World

SNEAKY = (b"From: a@b.example\nSubject: harmless?\nX-Fuglu-Id: sneaky\nX-Quarantine-Reason: SPAM\n"
          b"X-Original-To: user@a.example\n\n" + EICAR + b"\n")
NAMED = ("From: c@d.example\nSubject: named\nX-Fuglu-Id: named\nX-Quarantine-Reason: BAD_ATTACHMENTS\n"
         "X-Virus-Name: Some-Trojan\nX-Original-To: user@a.example\n\nattached\n")
CLEAN = ("From: e@f.example\nSubject: clean\nX-Fuglu-Id: clean\nX-Quarantine-Reason: SPAM\n"
         "X-Original-To: user@a.example\n\nhello\n")


@pytest.fixture
def held(app: Flask, world: World) -> Iterator[SmtpSink]:
    with smtp_server() as (sink, port):
        with app.app_context():
            db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = port
            db.session.commit()
            folder = mailbox.Maildir(str(maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example"))
                                     ).get_folder("Quarantine")
            for text in (SNEAKY, NAMED, CLEAN):
                folder.add(mailbox.MaildirMessage(text))
        yield sink


def _login(client: FlaskClient) -> str:
    page = client.get("/me/login")
    client.post("/me/login", data={"csrf_token": csrf_token(page.text), "email": "user@a.example",
                                   "password": PASSWORD})
    return csrf_token(client.get("/me/").text)


def test_message_page_and_release_agree_on_infected(app: Flask, client: FlaskClient, world: World,
                                                    held: SmtpSink) -> None:
    token = _login(client)
    with clamd() as address:
        app.config["CLAMD"] = address
        try:
            page = client.get("/me/quarantine/message?id=sneaky")  # only clamd flags it
            assert page.status_code == 200 and 'id="infected-badge"' in page.text and 'name="virus_lover"' in page.text
            assert 'id="infected-badge"' not in client.get("/me/quarantine/message?id=clean").text
            listed = client.get("/me/quarantine").text  # the list reads the headers' verdict only
            assert listed.count("reason-virus") == 1  # the named one (reason BAD_ATTACHMENTS + X-Virus-Name)
            refused = client.post("/me/quarantine/release", data={"csrf_token": token, "id": "sneaky"})
            assert "infected" in client.get(refused.headers["Location"]).text and held.messages == []
            client.post("/me/quarantine/release", data={"csrf_token": token, "id": "sneaky", "virus_lover": "on"})
            assert len(held.messages) == 1
            app.config["CLAMD"] = f"127.0.0.1:{free_port()}"  # configured but down
            down = client.get("/me/quarantine/message?id=clean")
            assert down.status_code == 200 and 'id="scan-error"' in down.text
            assert 'id="infected-badge"' in client.get("/me/quarantine/message?id=named").text  # headers suffice
        finally:
            app.config["CLAMD"] = None


def test_bulk_release_leaves_a_message_in_flight(app: Flask, client: FlaskClient, world: World,
                                                 held: SmtpSink) -> None:
    """Another request holds the claim: the bulk action says so and sends nothing for it."""
    with app.app_context():
        db.session.add(Release(user_id=world.pk["userA"], message_key="clean", recipient="user@a.example", relay="",
                               released_by="other tab", claim="1" * 32, claimed_at=utcnow()))
        db.session.commit()
    token = _login(client)
    done = client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "release", "ids": ["clean"]})
    assert str(release.IN_FLIGHT_DETAIL) in client.get(done.headers["Location"]).text and held.messages == []
    single = client.post("/me/quarantine/release", data={"csrf_token": token, "id": "clean"})
    assert "being released right now" in client.get(single.headers["Location"]).text and held.messages == []


def test_capabilities_is_the_one_answer(app: Flask, world: World) -> None:
    with app.app_context():
        user = db.session.get(MailUser, world.pk["userA"])
        own = mailboxes.capabilities(principal_for_user(user), user)
        assert own.release and own.delete and own.rules and own.send and own.source and not own.domain_rules
        other = mailboxes.capabilities(principal_for_user(db.session.get(MailUser, world.pk["otherA"])), user)
        assert other == mailboxes.Capabilities()
        user.domain.end_user_permissions = "QUARANTINE_VIEW"
        limited = mailboxes.capabilities(principal_for_user(user), user)
        assert limited.read_quarantine
        assert not (limited.release or limited.rules or limited.send or limited.read_folders)
        admin_a = mailboxes.capabilities(principal_for_admin(db.session.get(Admin, world.pk["domainA"])), user)
        assert admin_a.release and admin_a.delete and admin_a.domain_rules and not admin_a.source
        admin_b = mailboxes.capabilities(principal_for_admin(db.session.get(Admin, world.pk["domainB"])), user)
        assert not (admin_b.visible or admin_b.read_quarantine or admin_b.release)
        db.session.rollback()


def test_bulk_release_stops_starting_releases_when_its_time_is_up(app: Flask, client: FlaskClient, world: World,
                                                                   held: SmtpSink,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Probe: 45 selected messages through a relay taking 1.5 s each outlived gunicorn's worker timeout (the
    worker was killed mid-release, the user got a reset connection). Past the budget the rest is left, and said."""
    from portal.services import quarantine

    with app.app_context():
        folder = mailbox.Maildir(str(maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example"))
                                 ).get_folder("Quarantine")
        folder.add(mailbox.MaildirMessage(CLEAN.replace("X-Fuglu-Id: clean", "X-Fuglu-Id: clean2")))
    monkeypatch.setattr(quarantine, "RELEASE_BUDGET_SECONDS", 0.0)  # spent once the first release is done
    token = _login(client)
    done = client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "release",
                                                     "ids": ["clean", "clean2"]})
    page = client.get(done.headers["Location"]).text
    assert "1 message released." in page and "1 message was not released yet" in page
    assert len(held.messages) == 1
