"""Release (seed 5.7.9) through a real SMTP peer: nothing lost, nothing sent twice, viruses guarded."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.integrations.mailstore import maildir_root
from portal.models import Domain, MailUser, Platform, Policy, Release
from tests.services_runtime import EICAR, SmtpSink, clamd, free_port, smtp_server
from tests.world import World

SPAM = ("From: winner@lottery.example\nTo: user@a.example\nSubject: [SPAM] You won\nX-Fuglu-Id: rel1\n"
        "X-Spam-Score: 12.5\nX-Quarantine-Reason: SPAM\nX-Original-To: user@a.example\n\nclaim it\n")
VIRUS = ("From: it@evil.example\nTo: user@a.example\nSubject: invoice\nX-Fuglu-Id: vir1\n"
         "X-Quarantine-Reason: VIRUS\nX-Virus-Name: Eicar-Test-Signature\n\nopen it\n")


@pytest.fixture
def relay(app: Flask, world: World) -> Iterator[SmtpSink]:
    with smtp_server() as (sink, port), app.app_context():
        platform = db.session.get(Domain, world.pk["A"]).platforms[0]
        platform.transport_port = port
        db.session.get(Policy, world.pk["policyA"]).relay_props = {"prefixSpam": "[SPAM]", "spamScoreLimit": 10}
        root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
        quarantine = mailbox.Maildir(str(root)).get_folder("Quarantine")
        for text in (SPAM, VIRUS):
            quarantine.add(mailbox.MaildirMessage(text))
        db.session.commit()
        yield sink


def _release(client: FlaskClient, world: World, message_id: str, role: str = "enduser", **headers: str):
    return client.post(f"/api/users/{world.id('userA')}/emails/Quarantine/{message_id}/release",
                       headers={**world.headers(role), **headers})


def test_release_once(app: Flask, client: FlaskClient, world: World, relay: SmtpSink) -> None:
    assert _release(client, world, "rel1").status_code == 204
    (sender, recipients, raw), = relay.messages
    assert sender == "postern@localhost" and recipients == ["user@a.example"]
    delivered = message_from_bytes(raw)
    assert delivered["Subject"] == "You won" and delivered["X-Spam-Score"] is None
    assert delivered["X-Quarantine-Reason"] is None and delivered["X-Postern-Released"]
    assert b"claim it" in raw
    assert _release(client, world, "rel1").status_code == 204  # a double click sends nothing more
    assert _release(client, world, "rel1", role="domainA").status_code == 204
    assert len(relay.messages) == 1
    forced = client.post(f"/api/users/{world.id('userA')}/emails/Quarantine/rel1/release?force=true",
                         headers=world.headers("enduser"))
    assert forced.status_code == 204 and len(relay.messages) == 2
    with app.app_context():
        (record,) = db.session.query(Release).all()
        assert (record.message_key, record.recipient, record.released_by) == ("rel1", "user@a.example",
                                                                               "user@a.example")


def test_virus_lover(client: FlaskClient, world: World, relay: SmtpSink) -> None:
    refused = _release(client, world, "vir1")
    assert refused.status_code == 412 and "X-Virus-Lover" in refused.json["detail"]
    assert _release(client, world, "rel1", **{"X-Virus-Lover": "yes"}).status_code == 412
    assert relay.messages == []
    assert _release(client, world, "vir1", **{"X-Virus-Lover": "yes"}).status_code == 204
    assert len(relay.messages) == 1


def _copy(app: Flask, fuglu_id: str) -> mailbox.MaildirMessage:
    root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
    return next(m for m in mailbox.Maildir(str(root)).get_folder("Quarantine") if m["X-Fuglu-Id"] == fuglu_id)


def test_released_copy_is_flagged(app: Flask, client: FlaskClient, world: World, relay: SmtpSink) -> None:
    assert "P" not in _copy(app, "rel1").get_flags()
    assert _release(client, world, "rel1").status_code == 204
    assert "P" in _copy(app, "rel1").get_flags()  # Maildir's "passed" flag: $Released over IMAP
    listed = client.get(f"/api/users/{world.id('userA')}/emails/Quarantine", headers=world.headers("enduser")).json
    assert {m["id"]: m["released"] for m in listed if m["id"] in ("rel1", "vir1")} == {"rel1": True, "vir1": False}
    one = client.get(f"/api/users/{world.id('userA')}/emails/Quarantine/rel1", headers=world.headers("enduser"))
    assert one.json["released"] is True


def test_a_release_record_alone_marks_the_listed_copy(app: Flask, client: FlaskClient, world: World,
                                                     relay: SmtpSink) -> None:
    """A store that lost the flag: the list asks the release records of the messages it shows (not every
    release the user ever had), and the copy is still shown released."""
    assert _release(client, world, "rel1").status_code == 204
    root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
    folder = mailbox.Maildir(str(root)).get_folder("Quarantine")
    for key, message in folder.items():
        if message["X-Fuglu-Id"] == "rel1":
            message.remove_flag("P")
            folder[key] = message
    assert "P" not in _copy(app, "rel1").get_flags()
    listed = client.get(f"/api/users/{world.id('userA')}/emails/Quarantine", headers=world.headers("enduser")).json
    assert {m["id"]: m["released"] for m in listed if m["id"] in ("rel1", "vir1")} == {"rel1": True, "vir1": False}
    with app.app_context():
        from portal.integrations.mailstore import MaildirStore, Search
        from portal.services import release

        user = db.session.get(MailUser, world.pk["userA"])
        shown, _ = MaildirStore(root).messages("Quarantine", Search(), "receivedDate", 0, 50)
        assert release.released_keys(user, shown) == {"rel1"}
        assert release.released_keys(user, [s for s in shown if release.message_key(s) != "rel1"]) == set()
        assert release.released_keys(user, []) == set()


@pytest.mark.parametrize("refusal", ["refuse", "full"])
def test_refused_recipient_keeps_the_message(app: Flask, client: FlaskClient, world: World,
                                             relay: SmtpSink, refusal: str) -> None:
    getattr(relay, refusal).add("user@a.example")
    response = _release(client, world, "rel1")
    assert response.status_code == 400 and ("550" if refusal == "refuse" else "452") in response.json["detail"]
    with app.app_context():
        assert db.session.query(Release).count() == 0
    assert "P" not in _copy(app, "rel1").get_flags()
    getattr(relay, refusal).clear()
    assert _release(client, world, "rel1").status_code == 204 and len(relay.messages) == 1


def test_fallback_relay_and_outage(app: Flask, client: FlaskClient, world: World, relay: SmtpSink) -> None:
    with app.app_context():
        platform = db.session.get(Domain, world.pk["A"]).platforms[0]
        fallback_port = platform.transport_port
        platform.transport_port = free_port()  # the main relay is down
        db.session.commit()
    down = _release(client, world, "rel1")
    assert down.status_code == 503 and "did not take the message" in down.json["detail"]
    with app.app_context():
        assert db.session.query(Release).count() == 0
        platform = db.session.get(Platform, db.session.get(Domain, world.pk["A"]).platforms[0].id)
        platform.fallback_transport_dest, platform.fallback_transport_port = "127.0.0.1", fallback_port
        platform.fallback_transport_type = "SMTP"
        db.session.commit()
    assert _release(client, world, "rel1").status_code == 204 and len(relay.messages) == 1


def test_end_user_needs_the_release_permission(app: Flask, client: FlaskClient, world: World,
                                               relay: SmtpSink) -> None:
    with app.app_context():
        db.session.get(Domain, world.pk["A"]).end_user_permissions = "QUARANTINE_VIEW"
        db.session.commit()
    assert _release(client, world, "rel1").status_code == 403
    assert _release(client, world, "nope", role="domainA").status_code == 404


def test_crash_between_delivery_and_flag_sends_nothing_twice(app: Flask, client: FlaskClient, world: World,
                                                             relay: SmtpSink, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """The process dies after the relay's 250, before the store is flagged: the retry delivers nothing."""
    from portal.integrations.mailstore import MaildirStore

    def killed(*args: object, **kwargs: object) -> None:
        raise SystemExit("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(MaildirStore, "add_flag", killed)
        with pytest.raises(SystemExit):
            _release(client, world, "rel1")
    assert len(relay.messages) == 1 and "P" not in _copy(app, "rel1").get_flags()
    assert _release(client, world, "rel1").status_code == 204
    assert len(relay.messages) == 1  # recorded before the crash: nothing sent again
    assert "P" in _copy(app, "rel1").get_flags()  # and the retry finished the job


def test_live_virus_scan(app: Flask, client: FlaskClient, world: World, relay: SmtpSink) -> None:
    """With POSTERN_CLAMD set, a message the filter did not mark is scanned before it leaves."""
    with clamd() as address, app.app_context():
        root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
        mailbox.Maildir(str(root)).get_folder("Quarantine").add(mailbox.MaildirMessage(
            b"From: a@b.example\nSubject: harmless?\nX-Fuglu-Id: sneaky\nX-Quarantine-Reason: SPAM\n\n"
            + EICAR + b"\n"))
        app.config["CLAMD"] = address
        try:
            refused = _release(client, world, "sneaky")
            assert refused.status_code == 412 and "infected" in refused.json["detail"]
            assert _release(client, world, "rel1").status_code == 204  # clean: released
            assert _release(client, world, "sneaky", **{"X-Virus-Lover": "yes"}).status_code == 204
            assert len(relay.messages) == 2
            app.config["CLAMD"] = f"127.0.0.1:{free_port()}"  # configured but down: nothing leaves unscanned
            down = client.post(f"/api/users/{world.id('userA')}/emails/Quarantine/rel1/release?force=true",
                               headers=world.headers("enduser"))
            assert down.status_code == 503 and "virus scanner" in down.json["detail"]
            assert len(relay.messages) == 2
        finally:
            app.config["CLAMD"] = None


def test_a_sender_written_original_to_does_not_choose_the_recipient(app: Flask, client: FlaskClient, world: World,
                                                                       relay: SmtpSink) -> None:
    """X-Original-To is trusted only inside the user's domain: a held message whose sender wrote one naming an
    outside address (the filter added none) is released to the user, not relayed to that address."""
    with app.app_context():
        root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
        mailbox.Maildir(str(root)).get_folder("Quarantine").add(mailbox.MaildirMessage(
            "X-Original-To: victim@elsewhere.example\nFrom: s@evil.example\nTo: user@a.example\nSubject: hi\n"
            "X-Fuglu-Id: xot1\nX-Quarantine-Reason: SPAM\n\nbuy\n"))
    assert _release(client, world, "xot1").status_code == 204
    (_sender, recipients, _raw), = relay.messages
    assert recipients == ["user@a.example"]
