"""The mailbox user's mail pages: quarantine actions, folders, source, compose, IMAP sign-in, "view as"."""

from __future__ import annotations

import io
import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.integrations.mailstore import maildir_root
from portal.models import AuditEvent, Authority, Domain, Platform, Policy, SenderRule, Upload
from tests.conftest import csrf_token, login
from tests.services_runtime import SmtpSink, dovecot, free_port, smtp_server
from tests.world import PASSWORD, World

HELD = [
    "From: Winner <winner@lottery.example>\nSubject: You won\nX-Fuglu-Id: q-spam\nX-Quarantine-Reason: SPAM\n"
    "X-Spam-Score: 12\nX-Original-To: user@a.example\n\nclaim\n",
    "From: shop@ads.example\nSubject: Sale\nX-Fuglu-Id: q-advert\nX-Quarantine-Reason: ADVERT\n\nbuy\n",
    "From: it@evil.example\nSubject: invoice\nX-Fuglu-Id: q-virus\nX-Quarantine-Reason: VIRUS\n"
    "X-Virus-Name: Eicar-Test-Signature\n\nopen\n",
]


def _root(app: Flask) -> Path:
    return maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")


@pytest.fixture
def mail(app: Flask, world: World) -> Iterator[SmtpSink]:
    """user@a.example with three held messages, an Archive folder and a relay that accepts mail."""
    with smtp_server() as (sink, port):
        with app.app_context():  # not held open: requests must each have their own (CSRF tokens live in g)
            db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = port
            db.session.commit()
            box = mailbox.Maildir(str(_root(app)))
            for text in HELD:
                box.get_folder("Quarantine").add(mailbox.MaildirMessage(text))
            archive = box.add_folder("Archive")
            archive.add(mailbox.MaildirMessage("From: boss@a.example\nSubject: Minutes\n"
                                               "Message-ID: <min@a.example>\n\nthe minutes\n"))
            archive.add_folder("2025").add(mailbox.MaildirMessage("From: old@a.example\nSubject: Old\n\nold\n"))
        yield sink


def _login(client: FlaskClient) -> str:
    page = client.get("/me/login")
    client.post("/me/login", data={"csrf_token": csrf_token(page.text), "email": "user@a.example",
                                   "password": PASSWORD})
    return csrf_token(client.get("/me/").text)


def _held(app: Flask) -> dict[str, set[str]]:
    return {m["X-Fuglu-Id"]: set(m.get_flags()) for m in mailbox.Maildir(str(_root(app))).get_folder("Quarantine")
            if m["X-Fuglu-Id"]}


def test_quarantine_list_filters_and_badges(app: Flask, client: FlaskClient, world: World, mail: SmtpSink) -> None:
    _login(client)
    page = client.get("/me/quarantine")
    assert page.status_code == 200 and 'data-select-all="ids"' in page.text and 'value="q-virus"' in page.text
    adverts = client.get("/me/quarantine?reason=ADVERT", headers={"HX-Request": "true"})
    assert "Sale" in adverts.text and "You won" not in adverts.text and "<html" not in adverts.text
    assert "1 message" in adverts.text
    bad = client.get("/me/quarantine?reason=<script>")
    assert bad.status_code == 400 and "<script>" not in bad.text and "reason" in bad.text


def test_quarantine_search_means_contains(app: Flask, client: FlaskClient, world: World, mail: SmtpSink) -> None:
    _login(client)
    for typed in ("lottery", "lottery*", "*won", "WON"):
        found = client.get("/me/quarantine", query_string={"q": typed}, headers={"HX-Request": "true"}).text
        assert "You won" in found and "Sale" not in found, typed
    assert "You won" not in client.get("/me/quarantine?q=50%25", headers={"HX-Request": "true"}).text


def test_bulk_release_allow_block_delete(app: Flask, client: FlaskClient, world: World, mail: SmtpSink) -> None:
    token = _login(client)
    released = client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "release_allow",
                                                         "ids": ["q-spam", "q-virus"]})
    assert released.status_code == 302
    page = client.get(released.headers["Location"])
    assert "1 message released" in page.text and "1 infected message was left" in page.text
    assert len(mail.messages) == 1 and "P" in _held(app)["q-spam"] and "P" not in _held(app)["q-virus"]
    assert page.text.count("badge-enabled") >= 1  # the released badge
    blocked = client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "block", "ids": ["q-advert"]})
    assert "shop@ads.example" in client.get(blocked.headers["Location"]).text
    with app.app_context():
        rules = {(r.value, r.type) for r in db.session.query(SenderRule).filter_by(user_id=world.pk["userA"])}
        assert {("winner@lottery.example", "ALLOW"), ("shop@ads.example", "BLOCK")} <= rules
    client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "block", "ids": ["q-spam"]})
    with app.app_context():  # the same sender turned from allowed to blocked: one rule, not two
        assert db.session.query(SenderRule).filter_by(value="winner@lottery.example").one().type == "BLOCK"
    deleted = client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "delete",
                                                       "ids": ["q-advert", "q-virus"]})
    assert "2 messages deleted" in client.get(deleted.headers["Location"]).text
    assert set(_held(app)) == {"q-spam"}
    nothing = client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "release"})
    assert "Select at least one message" in client.get(nothing.headers["Location"]).text
    assert client.post("/me/quarantine/bulk", data={"action": "delete", "ids": ["q-spam"]}).status_code == 400
    assert set(_held(app)) == {"q-spam"}  # no CSRF token, nothing deleted


def test_bulk_respects_the_domains_grants(app: Flask, client: FlaskClient, world: World, mail: SmtpSink) -> None:
    with app.app_context():
        db.session.get(Domain, world.pk["A"]).end_user_permissions = "QUARANTINE_VIEW"
        db.session.commit()
    token = _login(client)
    page = client.get("/me/quarantine")
    assert 'value="release"' not in page.text and 'value="block"' not in page.text
    refused = client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "release", "ids": ["q-spam"]})
    assert "does not let you release" in client.get(refused.headers["Location"]).text
    client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "block", "ids": ["q-spam"]})
    assert mail.messages == []
    with app.app_context():
        assert db.session.query(SenderRule).filter_by(value="winner@lottery.example").count() == 0


def test_folders_and_source(app: Flask, client: FlaskClient, world: World, mail: SmtpSink) -> None:
    _login(client)
    page = client.get("/me/folders")
    assert page.status_code == 200 and "Archive" in page.text and "path=Quarantine" not in page.text
    archive = client.get("/me/folders?path=Archive")
    assert "Minutes" in archive.text and "2025" in archive.text
    inbox = client.get("/me/folders?path=INBOX")
    assert inbox.status_code == 200 and 'id="folder-error"' not in inbox.text and "Archive" in inbox.text
    sub = client.get("/me/folders?path=Archive/2025")
    assert "Old" in sub.text and "Minutes" not in sub.text
    for trick, status in (("../../other", 400), ("Archive/../../x", 400), ("Nope", 200)):  # not a name, or missing
        shown = client.get(f"/me/folders?path={trick}")
        assert shown.status_code == status and 'id="folder-error"' in shown.text
    message = client.get("/me/quarantine/message?id=min@a.example&folder=Archive")
    assert message.status_code == 200 and "the minutes" in message.text and "Reply" in message.text
    assert 'id="release-form"' not in message.text
    source = client.get("/me/quarantine/source?id=q-spam")
    assert source.status_code == 200 and b"X-Fuglu-Id: q-spam" in source.data
    assert source.headers["Content-Disposition"].startswith("attachment")
    assert source.mimetype == "application/octet-stream"
    assert source.headers["X-Content-Type-Options"] == "nosniff"
    with app.app_context():
        db.session.get(Domain, world.pk["A"]).end_user_permissions = "QUARANTINE_VIEW"
        db.session.commit()
    assert client.get("/me/folders?path=Archive").status_code == 403
    assert client.get("/me/quarantine/message?id=min@a.example&folder=Archive").status_code == 403
    assert client.get("/me/quarantine/message?id=q-spam").status_code == 200


def test_compose_with_upload_and_signature(app: Flask, client: FlaskClient, world: World, mail: SmtpSink) -> None:
    with app.app_context():
        db.session.get(Policy, world.pk["policyA"]).mail_size_limit = 1
        from portal.models import MailUser

        db.session.get(MailUser, world.pk["userA"]).sign = "<b>Alice</b>, ACME"
        db.session.commit()
    token = _login(client)
    page = client.get("/me/compose")
    assert page.status_code == 200 and 'data-progress="#upload-progress"' in page.text
    assert "Add my signature" in page.text
    uploaded = client.post("/me/compose/attachments", headers={"HX-Request": "true", "X-CSRFToken": token},
                           data={"file": (io.BytesIO(b"a,b\n"), "data.csv", "text/csv")},
                           content_type="multipart/form-data")
    assert uploaded.status_code == 200 and "data.csv" in uploaded.text and 'form="compose-form"' in uploaded.text
    too_big = client.post("/me/compose/attachments", headers={"HX-Request": "true", "X-CSRFToken": token},
                          data={"file": (io.BytesIO(bytes(1024 * 1024 + 1)), "big.bin")},
                          content_type="multipart/form-data")
    assert too_big.status_code == 413 and "larger than your limit" in too_big.text and "data.csv" in too_big.text
    forged = client.post("/me/compose/attachments", data={"file": (io.BytesIO(b"x"), "x.txt")},
                         content_type="multipart/form-data")
    assert forged.status_code == 400  # no CSRF token: refused like any other form
    with app.app_context():
        uid = db.session.query(Upload).filter_by(name="data.csv").one().uid
    bad = client.post("/me/compose", data={"csrf_token": token, "to": "bob@b.example, not an address",
                                           "subject": "Figures", "body": "Hello", "attach": uid})
    assert bad.status_code == 400 and "not an address" in bad.text and mail.messages == []
    assert 'value="Figures"' in bad.text  # what was typed is kept
    sent = client.post("/me/compose", data={"csrf_token": token, "to": "bob@b.example", "cc": "carol@c.example",
                                            "subject": "Figures", "body": "Hello <Bob>\nsee attached",
                                            "attach": uid, "add_signature": "on", "important": "on"})
    assert sent.status_code == 302 and "sent to 2 recipients" in client.get(sent.headers["Location"]).text
    (_sender, recipients, raw), = mail.messages
    assert recipients == ["bob@b.example", "carol@c.example"]
    assert b"Hello &lt;Bob&gt;<br>see attached" in raw and b"<b>Alice</b>, ACME" in raw
    assert b'filename="data.csv"' in raw and b"Importance: high" in raw
    with app.app_context():
        assert db.session.query(Upload).filter_by(name="data.csv").count() == 0
    reply = client.get("/me/compose?reply=min@a.example&folder=Archive")
    assert 'value="Re: Minutes"' in reply.text and 'value="boss@a.example"' in reply.text


def test_compose_needs_send_mail(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        db.session.get(Domain, world.pk["A"]).end_user_permissions = "QUARANTINE_VIEW"
        db.session.commit()
    _login(client)
    assert client.get("/me/compose").status_code == 403
    assert "/me/compose" not in client.get("/me/").text


def test_view_as_user_is_audited(app: Flask, client: FlaskClient, world: World, mail: SmtpSink) -> None:
    assert login(client, "admin-a", PASSWORD).status_code == 302
    user_id = world.id("userA")
    page = client.get(f"/admin/users/{user_id}")
    assert 'id="view-as"' in page.text
    token = csrf_token(page.text)
    opened = client.post(f"/admin/users/{user_id}/impersonate", data={"csrf_token": token})
    assert opened.headers["Location"] == "/me/"
    home = client.get("/me/")
    assert 'id="impersonation"' in home.text and "admin-a" in home.text
    token = csrf_token(home.text)
    client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "release", "ids": ["q-spam"]})
    client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "block", "ids": ["q-advert"],
                                             "scope": "domain"})
    with app.app_context():
        rule = db.session.query(SenderRule).filter_by(value="shop@ads.example").one()
        assert rule.user_id is None and rule.domain_id == world.pk["A"]  # domain-wide: the admin may edit them
    back = client.post("/me/impersonation/stop", data={"csrf_token": token})
    assert back.headers["Location"] == f"/admin/users/{user_id}"
    trail = client.get("/admin/audit?target=user@a.example")
    assert trail.status_code == 200
    with app.app_context():
        events = [(e.actor, e.action, e.target) for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]
        assert events == [("admin-a", "IMPERSONATE_START", "user@a.example"),
                          ("admin-a", "quarantine_bulk", "user@a.example"),
                          ("admin-a", "quarantine_bulk", "user@a.example"),
                          ("admin-a", "IMPERSONATE_END", "user@a.example")]
        assert "ids=q-spam" in db.session.query(AuditEvent).filter_by(action="quarantine_bulk").first().detail
    assert "IMPERSONATE_START" in trail.text and "q-spam" in trail.text
    token = csrf_token(client.post(f"/admin/users/{user_id}/impersonate",
                                   data={"csrf_token": csrf_token(trail.text)}, follow_redirects=True).text)
    client.post("/logout", data={"csrf_token": token})  # leaving by logging out closes the trail too
    with app.app_context():
        last = db.session.query(AuditEvent).order_by(AuditEvent.id.desc()).first()
        assert (last.actor, last.action) == ("admin-a", "IMPERSONATE_END")


def test_view_as_needs_impersonate_and_ends_when_revoked(app: Flask, client: FlaskClient, world: World) -> None:
    login(client, "admin-b", PASSWORD)
    token = csrf_token(client.get("/admin/").text)
    assert client.post(f"/admin/users/{world.id('userA')}/impersonate", data={"csrf_token": token}).status_code \
        == 404
    client.post("/logout", data={"csrf_token": token})
    login(client, "reader-a", PASSWORD)
    token = csrf_token(client.get("/admin/").text)
    assert client.post(f"/admin/users/{world.id('userA')}/impersonate", data={"csrf_token": token}).status_code \
        in (403, 404)
    client.post("/logout", data={"csrf_token": token})
    login(client, "admin-a", PASSWORD)
    token = csrf_token(client.get("/admin/").text)
    client.post(f"/admin/users/{world.id('userA')}/impersonate", data={"csrf_token": token})
    assert client.get("/me/").status_code == 200
    with app.app_context():
        authority = db.session.query(Authority).filter_by(admin_id=world.pk["domainA"]).one()
        authority.permissions = [p for p in authority.permissions if p != "IMPERSONATE"]
        db.session.commit()
    assert client.get("/me/").status_code == 302  # the session ended with the permission


def test_imap_sign_in(app: Flask, client: FlaskClient, world: World) -> None:
    """A platform with authType imap: the portal asks the IMAP server, not its own password."""
    with dovecot({"user@a.example": "imap secret 1"}) as server:
        _platform(app, world, "imap", {"host": server["host"], "port": server["port"]})
        page = client.get("/me/login")
        token = csrf_token(page.text)
        wrong = client.post("/me/login", data={"csrf_token": token, "email": "user@a.example", "password": PASSWORD})
        assert wrong.status_code == 400  # the portal password does not count any more
        right = client.post("/me/login", data={"csrf_token": token, "email": "user@a.example",
                                               "password": "imap secret 1"})
        assert right.status_code == 302 and client.get("/me/").status_code == 200
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/me/").text)})
        _platform(app, world, "imap", {"host": server["host"], "port": server["tls_port"], "use_ssl": True,
                                       "cert_pem": server["cert_pem"]})
        token = csrf_token(client.get("/me/login").text)
        over_tls = client.post("/me/login", data={"csrf_token": token, "email": "user@a.example",
                                                  "password": "imap secret 1"})
        assert over_tls.status_code == 302
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/me/").text)})
        _platform(app, world, "imap", {"host": "127.0.0.1", "port": free_port()})
        token = csrf_token(client.get("/me/login").text)
        down = client.post("/me/login", data={"csrf_token": token, "email": "user@a.example",
                                              "password": "imap secret 1"})
        assert down.status_code == 503 and "cannot be checked now" in down.text
        _platform(app, world, "ldap", None)
        ldap = client.post("/me/login", data={"csrf_token": token, "email": "user@a.example", "password": "x"})
        assert ldap.status_code == 400 and "ldap" in ldap.text



def _platform(app: Flask, world: World, auth_type: str, auth_data: dict[str, object] | None) -> None:
    with app.app_context():
        platform = db.session.get(Platform, db.session.get(Domain, world.pk["A"]).platforms[0].id)
        platform.auth_type, platform.auth_data = auth_type, auth_data
        db.session.commit()


def test_admins_view_of_a_users_quarantine(app: Flask, client: FlaskClient, world: World, mail: SmtpSink) -> None:
    """QUARANTINE_READ shows the user's held mail under /admin; releasing and deleting need QUARANTINE_RELEASE."""
    login(client, "admin-a", PASSWORD)
    user_id = world.id("userA")
    page = client.get(f"/admin/users/{user_id}")
    assert 'id="user-quarantine"' in page.text
    listed = client.get(f"/admin/users/{user_id}/quarantine")
    assert listed.status_code == 200 and "Quarantine of user@a.example" in listed.text and "You won" in listed.text
    assert f"/admin/users/{user_id}/quarantine/bulk" in listed.text and 'value="domain"' in listed.text
    message = client.get(f"/admin/users/{user_id}/quarantine/message?id=q-spam")
    assert message.status_code == 200 and 'id="release-form"' in message.text and 'id="source-link"' not in message.text
    token = csrf_token(message.text)
    released = client.post(f"/admin/users/{user_id}/quarantine/release", data={"csrf_token": token, "id": "q-spam"})
    assert released.headers["Location"].startswith(f"/admin/users/{user_id}/quarantine/message")
    assert "delivered to the mailbox" in client.get(released.headers["Location"]).text and len(mail.messages) == 1
    blocked = client.post(f"/admin/users/{user_id}/quarantine/bulk",
                          data={"csrf_token": token, "action": "block", "ids": ["q-advert"], "scope": "domain"})
    assert blocked.status_code == 302
    client.post(f"/admin/users/{user_id}/quarantine/bulk",
                data={"csrf_token": token, "action": "delete", "ids": ["q-advert"]})
    assert "q-advert" not in _held(app)
    with app.app_context():
        rule = db.session.query(SenderRule).filter_by(value="shop@ads.example").one()
        assert rule.user_id is None and rule.domain_id == world.pk["A"]
    assert client.get(f"/admin/users/{user_id}/quarantine/source?id=q-spam").status_code == 404  # the owner's only
    assert client.get("/admin/users/nonsense/quarantine").status_code == 404
    client.post("/logout", data={"csrf_token": token})
    login(client, "admin-b", PASSWORD)
    assert client.get(f"/admin/users/{user_id}/quarantine").status_code == 404
    with app.app_context():  # a reader: sees the mail, has no buttons, cannot delete
        authority = db.session.query(Authority).filter_by(admin_id=world.pk["domainA"]).one()
        authority.permissions = ["USER_READ", "QUARANTINE_READ"]
        db.session.commit()
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/admin/").text)})
    login(client, "admin-a", PASSWORD)
    reader = client.get(f"/admin/users/{user_id}/quarantine")
    assert reader.status_code == 200 and 'value="delete"' not in reader.text and 'value="release"' not in reader.text
    refused = client.post(f"/admin/users/{user_id}/quarantine/bulk",
                          data={"csrf_token": csrf_token(reader.text), "action": "delete", "ids": ["q-virus"]})
    assert "QUARANTINE_RELEASE" in client.get(refused.headers["Location"]).text and "q-virus" in _held(app)


def test_message_page_offers_the_lists_actions(app: Flask, client: FlaskClient, world: World,
                                                mail: SmtpSink) -> None:
    """Allow, block and delete from a held message's page go through the list's bulk action: allow and block
    stay on the page with the list's outcome message, delete goes back to the list."""
    token = _login(client)
    page = client.get("/me/quarantine/message?id=q-advert")
    assert page.status_code == 200
    for marker in ('id="release-form"', 'value="allow"', 'value="block"', 'value="delete"', "data-confirm=",
                   "Release to my mailbox"):
        assert marker in page.text
    assert 'value="domain"' not in page.text  # a user's own list only
    here = "/me/quarantine/message?id=q-advert"
    allowed = client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "allow", "ids": ["q-advert"],
                                                       "back": here})
    assert allowed.headers["Location"] == here
    assert "Rules saved for: shop@ads.example" in client.get(here).text
    with app.app_context():
        assert db.session.query(SenderRule).filter_by(value="shop@ads.example").one().type == "ALLOW"
    client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "block", "ids": ["q-advert"],
                                             "back": here})
    with app.app_context():  # allowed, then blocked: one rule
        assert db.session.query(SenderRule).filter_by(value="shop@ads.example").one().type == "BLOCK"
    assert mail.messages == [] and "P" not in _held(app)["q-advert"]  # neither rule releases the message
    deleted = client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "delete", "ids": ["q-advert"],
                                                       "back": "/me/quarantine"})
    assert deleted.headers["Location"] == "/me/quarantine"
    assert "1 message deleted" in client.get("/me/quarantine").text and "q-advert" not in _held(app)
    evil = client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "block", "ids": ["q-spam"],
                                                    "back": "https://evil.example/"})
    assert evil.headers["Location"] == "/me/quarantine"  # the way back is a path of this site


def test_an_infected_messages_sender_is_never_allowed(app: Flask, client: FlaskClient, world: World,
                                                      mail: SmtpSink) -> None:
    token = _login(client)
    page = client.get("/me/quarantine/message?id=q-virus")
    assert 'id="infected-badge"' in page.text and 'name="virus_lover"' in page.text
    assert 'value="allow"' not in page.text and 'value="block"' in page.text and 'value="delete"' in page.text
    forged = client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "allow",
                                                      "ids": ["q-virus", "q-spam"]})
    text = client.get(forged.headers["Location"]).text
    assert "1 message is infected: its sender was not allowed" in text
    with app.app_context():
        assert db.session.query(SenderRule).filter_by(value="it@evil.example").count() == 0
        assert db.session.query(SenderRule).filter_by(value="winner@lottery.example").one().type == "ALLOW"


def test_message_page_without_grants_has_no_actions(app: Flask, client: FlaskClient, world: World,
                                                    mail: SmtpSink) -> None:
    with app.app_context():
        db.session.get(Domain, world.pk["A"]).end_user_permissions = "QUARANTINE_VIEW"
        db.session.commit()
    token = _login(client)
    page = client.get("/me/quarantine/message?id=q-spam")
    assert page.status_code == 200 and 'id="release-form"' not in page.text and 'id="sender-form"' not in page.text
    assert 'id="delete-form"' in page.text  # a reader of held mail may delete it, as on the list
    refused = client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "allow", "ids": ["q-spam"],
                                                       "back": "/me/quarantine/message?id=q-spam"})
    assert "edit your senders" in client.get(refused.headers["Location"]).text
    with app.app_context():
        assert db.session.query(SenderRule).filter_by(value="winner@lottery.example").count() == 0


def test_admins_message_page_actions_are_scoped_and_audited(app: Flask, client: FlaskClient, world: World,
                                                            mail: SmtpSink) -> None:
    login(client, "admin-a", PASSWORD)
    user_id = world.id("userA")
    here = f"/admin/users/{user_id}/quarantine/message?id=q-advert"
    page = client.get(here)
    assert "Release to user@a.example" in page.text and "Release to my mailbox" not in page.text
    assert f'action="/admin/users/{user_id}/quarantine/bulk"' in page.text and 'value="domain"' in page.text
    token = csrf_token(page.text)
    blocked = client.post(f"/admin/users/{user_id}/quarantine/bulk",
                          data={"csrf_token": token, "action": "block", "ids": ["q-advert"], "scope": "domain",
                                "back": here})
    assert blocked.headers["Location"] == here and "Rules saved for: shop@ads.example" in client.get(here).text
    deleted = client.post(f"/admin/users/{user_id}/quarantine/bulk",
                          data={"csrf_token": token, "action": "delete", "ids": ["q-advert"],
                                "back": f"/admin/users/{user_id}/quarantine"})
    assert deleted.headers["Location"] == f"/admin/users/{user_id}/quarantine"
    assert "1 message deleted" in client.get(deleted.headers["Location"]).text
    with app.app_context():
        rule = db.session.query(SenderRule).filter_by(value="shop@ads.example").one()
        assert (rule.user_id, rule.domain_id, rule.type) == (None, world.pk["A"], "BLOCK")
        events = [(e.action, e.target) for e in db.session.query(AuditEvent).order_by(AuditEvent.id)
                  if e.action != "MAIL_READ"]
        assert events[-2:] == [("user_quarantine_bulk", "user user@a.example")] * 2
