"""Uploads (seed 5.7.1, 5.7.4, 5.7.11) and send (5.7.10) through a real SMTP peer."""

from __future__ import annotations

import io
import mailbox
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.integrations.mailstore import maildir_root
from portal.models import Domain, Policy, Upload
from tests.services_runtime import SmtpSink, smtp_server
from tests.world import UPLOAD_UID, World


@pytest.fixture
def relay(app: Flask, world: World) -> Iterator[SmtpSink]:
    with smtp_server() as (sink, port), app.app_context():
        db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = port
        db.session.commit()
        yield sink


def _upload(client: FlaskClient, world: World, data: bytes, name: str = "report.pdf", role: str = "enduser",
            content_type: str = "application/pdf"):
    return client.post("/api/emails/attachments", headers=world.headers(role),
                       data={"file": (io.BytesIO(data), name, content_type)}, content_type="multipart/form-data")


def _send(client: FlaskClient, world: World, body: dict[str, object], role: str = "enduser"):
    return client.post(f"/api/users/{world.id('userA')}/emails/send", json=body, headers=world.headers(role))


def _maildir(app: Flask, folder: str) -> mailbox.Maildir:
    root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
    return mailbox.Maildir(str(root)).get_folder(folder)


def test_upload_download_delete(app: Flask, client: FlaskClient, world: World) -> None:
    response = _upload(client, world, b"%PDF-1.4 figures", name="../../etc/Q3 <report>.pdf")
    assert response.status_code == 200, response.get_json()
    file = response.get_json()
    assert list(file) == ["uid", "name", "uri", "type", "size"]
    assert file["name"] == "_.._etc_Q3 _report_.pdf" and file["type"] == "application/pdf" and file["size"] == 16
    assert file["uri"].startswith("http") and file["uri"].endswith(f"/api/emails/attachments/{file['uid']}/"
                                                                   "_.._etc_Q3%20_report_.pdf")
    path = f"/api/emails/attachments/{file['uid']}/{file['name']}"
    got = client.get(path, headers=world.headers("enduser"))
    assert got.status_code == 200 and got.data == b"%PDF-1.4 figures"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert got.headers["X-Content-Type-Options"] == "nosniff" and got.mimetype == "application/octet-stream"
    assert client.get(path, headers=world.headers("sysadmin")).status_code == 404  # not the uploader
    assert client.get(f"/api/emails/attachments/{file['uid']}/other.pdf",
                      headers=world.headers("enduser")).status_code == 404
    for uid in ("../" + file["uid"][3:], file["uid"].upper(), "x" * 32, "%00" + file["uid"][1:]):
        assert client.get(f"/api/emails/attachments/{uid}/a.pdf", headers=world.headers("enduser")).status_code \
            == 404
    assert client.delete(path, headers=world.headers("enduser")).status_code == 204
    assert client.get(path, headers=world.headers("enduser")).status_code == 404


def test_upload_limits(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        db.session.get(Policy, world.pk["policyA"]).mail_size_limit = 2
        db.session.commit()
        before = db.session.query(Upload).count()
    big = _upload(client, world, b"x" * (2 * 1024 * 1024 + 1))
    assert big.status_code == 413 and big.mimetype == "application/problem+json"
    assert _upload(client, world, b"x" * (1024 * 1024 + 10)).status_code == 200  # above the API's 1 MB default
    missing = client.post("/api/emails/attachments", headers=world.headers("enduser"), data={"other": "x"},
                          content_type="multipart/form-data")
    assert missing.status_code == 400 and missing.get_json()["errors"][0]["field"] == "file"
    nameless = _upload(client, world, b"data", name="")
    assert nameless.status_code == 400
    with app.app_context():
        assert db.session.query(Upload).count() == before + 1
    lying = _upload(client, world, b"MZ\x90\x00", name="setup.exe", content_type='image/png"><script>')
    assert lying.status_code == 200 and lying.get_json()["type"] != "image/png"
    assert "<" not in lying.get_json()["type"]


def test_send_builds_the_mail(app: Flask, client: FlaskClient, world: World, relay: SmtpSink) -> None:
    with app.app_context():
        drafts = _maildir(app, "Quarantine")  # make sure the tree exists, then a Drafts folder with a draft
        root = mailbox.Maildir(str(maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")))
        root.add_folder("Drafts").add(mailbox.MaildirMessage(b"Message-ID: <draft-1@a.example>\n\ndraft\n"))
        root.add(mailbox.MaildirMessage(b"Message-ID: <orig@x.example>\nReferences: <root@x.example>\n\nhello\n"))
        del drafts
    file = _upload(client, world, b"col1,col2\n1,2\n", name="figures.csv", content_type="text/csv").get_json()
    response = _send(client, world, {
        "to": ["Bob@B.example"], "cc": ["carol@c.example"], "bcc": ["hidden@c.example"],
        "subject": "Re: figures", "body": '<p onclick="x()">See <b>attached</b></p><script>alert(1)</script>',
        "attachments": [{"name": "Q3 figures.csv", "uid": file["uid"]}],
        "originId": "orig@x.example", "draftId": "draft-1@a.example", "ack": True, "important": True,
    })
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["recipients"] == 3
    (sender, recipients, raw), = relay.messages
    assert sender == "user@a.example"
    assert recipients == ["bob@b.example", "carol@c.example", "hidden@c.example"]
    sent = message_from_bytes(raw, policy=policy.default)
    assert isinstance(sent, EmailMessage)
    assert sent["From"] == "user@a.example" and sent["To"] == "bob@b.example" and sent["Cc"] == "carol@c.example"
    assert sent["Bcc"] is None and b"hidden@c.example" not in raw
    assert sent["Subject"] == "Re: figures" and sent["Importance"] == "high" and sent["X-Priority"].startswith("1")
    assert sent["Disposition-Notification-To"] == "user@a.example"
    assert sent["In-Reply-To"] == "<orig@x.example>" and sent["References"] == "<root@x.example> <orig@x.example>"
    assert sent["Message-ID"].strip("<>") == response.get_json()["messageId"]
    html = sent.get_body(("html",)).get_content()
    assert "<b>attached</b>" in html and "script" not in html and "onclick" not in html
    assert "See attached" in sent.get_body(("plain",)).get_content()
    (attachment,) = list(sent.iter_attachments())
    assert attachment.get_filename() == "Q3 figures.csv" and attachment.get_content_type() == "text/csv"
    assert attachment.get_content() == "col1,col2\n1,2\n"
    # the upload is gone, the draft removed, a copy (with its Bcc) filed in Sent
    assert client.get(f"/api/emails/attachments/{file['uid']}/figures.csv",
                      headers=world.headers("enduser")).status_code == 404
    assert len(_maildir(app, "Drafts")) == 0
    (copy,) = list(_maildir(app, "Sent"))
    assert copy["Bcc"] == "hidden@c.example" and "S" in copy.get_flags()


@pytest.mark.parametrize(("body", "field"), [
    ({"to": ["bob@b.example\r\nBcc: x@evil.example"]}, "to[0]"),
    ({"to": ["not an address"]}, "to[0]"),
    ({"to": []}, "to"),
    ({"to": ["bob@b.example"], "subject": "hi\r\nBcc: x@evil.example"}, "subject"),
    ({"to": ["bob@b.example"], "attachments": [{"name": "a.txt", "uid": "f" * 32}]}, "attachments[0].uid"),
    ({"to": ["bob@b.example"], "attachments": [{"name": "a.txt", "uid": UPLOAD_UID}]}, None),  # sends: own file
    ({"to": ["bob@b.example"], "priority": 1}, "priority"),
])
def test_bad_mail_is_refused_and_nothing_sent(client: FlaskClient, world: World, relay: SmtpSink,
                                              body: dict[str, object], field: str | None) -> None:
    response = _send(client, world, body)
    if field is None:
        assert response.status_code == 200 and len(relay.messages) == 1
        return
    assert response.status_code == 400, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in [e["field"] for e in response.get_json()["errors"]]
    assert relay.messages == []


def test_someone_elses_upload_cannot_be_sent(client: FlaskClient, world: World, relay: SmtpSink) -> None:
    response = _send(client, world, {"to": ["bob@b.example"],
                                     "attachments": [{"name": "a.txt", "uid": UPLOAD_UID}]}, role="domainA")
    assert response.status_code == 400 and relay.messages == []


def test_refused_recipient(app: Flask, client: FlaskClient, world: World, relay: SmtpSink) -> None:
    relay.refuse.add("ghost@b.example")
    relay.full.add("full@b.example")
    file = _upload(client, world, b"data", name="a.txt").get_json()
    response = _send(client, world, {"to": ["bob@b.example", "ghost@b.example", "full@b.example"],
                                     "attachments": [{"name": "a.txt", "uid": file["uid"]}]})
    assert response.status_code == 400
    messages = {e["message"] for e in response.get_json()["errors"]}
    assert any("ghost@b.example: 550" in m for m in messages) and any("full@b.example: 452" in m for m in messages)
    assert len(relay.messages) == 1 and relay.messages[0][1] == ["bob@b.example"]
    # the file is kept for a second try to the refused ones
    assert client.get(f"/api/emails/attachments/{file['uid']}/a.txt", headers=world.headers("enduser")).status_code \
        == 200


def test_size_limit_and_permission(app: Flask, client: FlaskClient, world: World, relay: SmtpSink) -> None:
    with app.app_context():
        db.session.get(Policy, world.pk["policyA"]).mail_size_limit = 1
        db.session.commit()
    files = [_upload(client, world, bytes(700 * 1024), name=f"{n}.bin").get_json() for n in range(2)]
    response = _send(client, world, {"to": ["bob@b.example"],
                                     "attachments": [{"name": f["name"], "uid": f["uid"]} for f in files]})
    assert response.status_code == 413 and relay.messages == []
    with app.app_context():
        db.session.get(Domain, world.pk["A"]).end_user_permissions = "QUARANTINE_VIEW"
        db.session.commit()
    assert _send(client, world, {"to": ["bob@b.example"]}).status_code == 403
    assert _send(client, world, {"to": ["bob@b.example"]}, role="domainA").status_code == 200  # IMPERSONATE
    assert relay.messages[0][0] == "user@a.example"


def test_expired_uploads_are_purged(app: Flask, world: World) -> None:
    from datetime import timedelta

    from portal import jobs
    from portal.clock import utcnow

    with app.app_context():
        db.session.add(Upload(uid="e" * 32, user_id=world.pk["userA"], name="old.txt", content_type="text/plain",
                              size=1, data=b"x", created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
        assert jobs.run_now("purge_expired_uploads") == 1
        assert {u.uid for u in db.session.query(Upload)} == {UPLOAD_UID}


def test_local_delivery_of_the_embedded_default(app: Flask, client: FlaskClient, world: World) -> None:
    """POSTERN_DELIVERY=local (make run): mailboxes of this portal get the mail in their INBOX, others the outbox."""
    app.config["DELIVERY"] = "local"
    try:
        sent = _send(client, world, {"to": ["other@a.example", "bob@b.example"], "subject": "Lunch",
                                     "body": "<p>at noon</p>"})
        released = client.post(f"/api/users/{world.id('userA')}/emails/Quarantine/quarantined-0@bad.example/release",
                               headers=world.headers("enduser"))
    finally:
        app.config["DELIVERY"] = "smtp"
    assert sent.status_code == 200 and released.status_code == 204
    root = Path(app.config["MAIL_ROOT"]) / "a.example"
    assert any(m["Subject"] == "Lunch" for m in mailbox.Maildir(str(root / "other" / "Maildir")))
    assert any(m["Subject"] == "offer 0" and m["X-Postern-Released"]
               for m in mailbox.Maildir(str(root / "user" / "Maildir")))
    outbox = list((Path(app.config["INSTANCE_DIR"]) / "outbox").glob("*.eml"))
    assert any(b"to=bob@b.example" in f.read_bytes() and b"Subject: Lunch" in f.read_bytes() for f in outbox)


def test_what_waits_is_bounded(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        db.session.get(Policy, world.pk["policyA"]).mail_size_limit = 1
        db.session.commit()
    for n in range(2):
        assert _upload(client, world, bytes(900 * 1024), name=f"{n}.bin").status_code == 200
    third = _upload(client, world, bytes(300 * 1024), name="2.bin")
    assert third.status_code == 413 and "waiting files" in third.json["detail"]
    with app.app_context():
        db.session.get(Domain, world.pk["A"]).end_user_permissions = "QUARANTINE_VIEW"
        db.session.commit()
    assert _upload(client, world, b"x", name="small.txt").status_code == 403  # nothing to attach to
