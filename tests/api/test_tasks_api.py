"""Seed 5.12 Tasks and 5.13 temporary tokens (issue 13, items 1, 2): 202, the job runs (in-process here, on an
RQ worker on real Redis in one test), and the mail is at the aiosmtpd peer — the enabled SMTP server — with a link
that works for that purpose only. Refusals (400 / 403 / 404 / 422) queue nothing and send nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import SimpleWorker
from sqlalchemy import func, select

from portal import jobs
from portal.clock import utcnow
from portal.extensions import db
from portal.integrations.mailstore import maildir_root
from portal.models import (
    Admin,
    AuditEvent,
    Authority,
    JobFailure,
    LinkToken,
    MailServer,
    MailUser,
    OptionValue,
    OutboxJob,
    Policy,
)
from portal.permissions import ObjectType, Permission
from portal.services import links, tasks, tokens
from portal.services.links import LinkRefused, Purpose
from tests.services.test_jobs import _redis_config
from tests.services_runtime import SmtpSink, free_port, redis_url, smtp_server
from tests.world import World

LINK = re.compile(r"http://postern\.test(/[\w/-]+/)([A-Za-z0-9_-]{43})")
QUARANTINED = "quarantined-0@bad.example"  # Message-ID of the first held message of user@a.example (tests/world.py)


@pytest.fixture
def sink(app: Flask, world: World) -> Iterator[SmtpSink]:
    """An aiosmtpd peer as the enabled SMTP server of Mail servers (Postern's own mail goes there)."""
    with smtp_server() as (received, port):
        with app.app_context():
            db.session.add(MailServer(name="outgoing", protocol="SMTP", host="127.0.0.1", port=port,
                                      security="NONE", auth="NO_AUTH", sender_address="postern@ops.example",
                                      enabled=True))
            db.session.commit()
        yield received


def _mail(raw: bytes) -> EmailMessage:
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def _only_mail(sink: SmtpSink, to: str) -> EmailMessage:
    (_, recipients, raw), = sink.messages
    assert recipients == [to]
    return _mail(raw)


def _link(mail: EmailMessage) -> tuple[str, str]:
    """(path prefix, token) of the one link of the mail, the same in its text and its HTML."""
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    found = LINK.findall(text)
    assert len(found) == 1, text
    assert f'href="http://postern.test{found[0][0]}{found[0][1]}"' in html
    return found[0]


def _task(client: FlaskClient, world: World, role: str, command: str, **params: object):
    return client.post("/api/tasks", json={"command": command, "params": params}, headers=world.headers(role))


def _nothing_queued(app: Flask) -> None:
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxJob)) == 0
        assert db.session.scalar(select(func.count()).select_from(LinkToken)) == 0
        assert db.session.scalar(select(func.count()).select_from(JobFailure)) == 0


def _set_option(app: Flask, world: World, name: str, value: str) -> None:
    with app.app_context():
        db.session.add(OptionValue(scope="DOMAIN", object_id=world.pk["A"], name=name, value=value))
        db.session.commit()


# --- each command, from the request to the mail at the peer -----------------------------------------------------

def test_welcome_mail_carries_a_password_setup_link(app: Flask, client: FlaskClient, world: World,
                                                    sink: SmtpSink) -> None:
    answer = _task(client, world, "domainA", "send_welcome_mail", recipient="user@a.example")
    assert answer.status_code == 202 and answer.data == b""
    mail = _only_mail(sink, "user@a.example")
    assert mail["Subject"] == "Your Postern account" and mail["Auto-Submitted"] == "auto-generated"
    assert "/me/login" in mail.get_body(("plain",)).get_content()
    path, token = _link(mail)
    assert path == "/password/setup/"
    with app.app_context():
        link = links.look(token, Purpose.PASSWORD_SETUP)
        assert link.user_id == world.pk["userA"]
        assert timedelta(days=6, hours=23) < link.expires_at - utcnow() <= timedelta(days=7)
        with pytest.raises(LinkRefused):
            links.look(token, Purpose.PASSWORD_RESET)  # one purpose only


def test_token_mail_to_oneself_with_its_validity(app: Flask, client: FlaskClient, world: World,
                                                 sink: SmtpSink) -> None:
    assert _task(client, world, "enduser", "send_token_mail", recipient="USER@a.example",
                 validity=24).status_code == 202
    mail = _only_mail(sink, "user@a.example")
    assert mail["Subject"] == "Your Postern sign-in link"
    path, token = _link(mail)
    assert path == "/me/link/"
    with app.app_context():
        link = links.look(token, Purpose.LOGIN)
        assert link.user_id == world.pk["userA"] and link.used_at is None
        assert timedelta(hours=23, minutes=59) < link.expires_at - utcnow() <= timedelta(hours=24)
        assert db.session.scalar(select(func.count()).select_from(LinkToken)) == 1


def test_password_reset_mail_for_a_user(app: Flask, client: FlaskClient, world: World, sink: SmtpSink) -> None:
    assert _task(client, world, "sysadmin", "send_password_reset_mail", recipient="other@a.example",
                 validity=6).status_code == 202
    mail = _only_mail(sink, "other@a.example")
    assert mail["Subject"] == "Reset your Postern password"
    path, token = _link(mail)
    assert path == "/password/reset/"
    with app.app_context():
        link = links.look(token, Purpose.PASSWORD_RESET)
        assert link.user_id == world.pk["otherA"] and link.admin_id is None
        assert link.expires_at - utcnow() <= timedelta(hours=6)


def test_queue_password_reset_for_an_administrator(app: Flask, world: World, sink: SmtpSink) -> None:
    """What the forgot-password page calls: the outbox row now, the mail after the commit."""
    with app.app_context():
        admin = db.session.get(Admin, world.pk["readerA"])
        admin.language = "FR"
        tasks.queue_password_reset(admin)
        assert sink.messages == []  # nothing before the commit
        db.session.commit()
        jobs.dispatch()
    mail = _only_mail(sink, "reader-a@example.org")
    assert mail["Subject"] == "Réinitialisez votre mot de passe Postern" and mail["Content-Language"] == "fr"
    _, token = _link(mail)
    with app.app_context():
        link = links.look(token, Purpose.PASSWORD_RESET)
        assert link.admin_id == world.pk["readerA"] and link.user_id is None
        assert timedelta(hours=1, minutes=59) < link.expires_at - utcnow() <= timedelta(hours=2)


def test_no_reset_mail_for_a_disabled_administrator_or_one_without_an_address(app: Flask, world: World,
                                                                              sink: SmtpSink) -> None:
    with app.app_context():
        gone = db.session.get(Admin, world.pk["disabled"])
        silent = db.session.get(Admin, world.pk["adminC"])
        silent.email = None
        tasks.queue_password_reset(gone)
        tasks.queue_password_reset(silent)
        db.session.commit()
        assert jobs.dispatch() == 2
        assert db.session.scalar(select(func.count()).select_from(LinkToken)) == 0
    assert sink.messages == []


def test_temporary_token_for_oneself_and_by_an_impersonating_admin(app: Flask, client: FlaskClient, world: World,
                                                                   sink: SmtpSink) -> None:
    assert client.get("/api/token", headers=world.headers("enduser")).status_code == 202
    assert client.get("/api/token?username=other@a.example&validity=1",
                      headers=world.headers("domainA")).status_code == 202
    assert [m[1] for m in sink.messages] == [["user@a.example"], ["other@a.example"]]
    with app.app_context():
        (event,) = db.session.scalars(select(AuditEvent))  # the administrator's, not the user's own
        assert (event.actor, event.action, event.target) == ("admin-a", "LOGIN_LINK_MAIL", "other@a.example")
        first, second = (links.look(_link(_mail(m[2]))[1], Purpose.LOGIN) for m in sink.messages)
        assert timedelta(hours=3, minutes=59) < first.expires_at - utcnow() <= timedelta(hours=4)  # the default
        assert first.user_id == world.pk["userA"]
        assert second.user_id == world.pk["otherA"] and second.expires_at - utcnow() <= timedelta(hours=1)


def test_spam_report_forwards_the_stored_bytes_as_message_rfc822(app: Flask, client: FlaskClient, world: World,
                                                                 sink: SmtpSink) -> None:
    _set_option(app, world, "SPAM_REPORT_ADDRESS", "spam@reports.example")
    with app.app_context():
        folder = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example") / ".Quarantine" / "new"
        stored = next(f.read_bytes() for f in folder.iterdir() if b"<quarantined-0@" in f.read_bytes())
    answer = _task(client, world, "enduser", "send_spamfight_spam_mail", recipient="user@a.example",
                   folder="Quarantine", id=QUARANTINED)  # the seed's name of the command
    assert answer.status_code == 202
    (_, recipients, raw), = sink.messages
    assert recipients == ["spam@reports.example"]
    mail = _mail(raw)
    assert mail["Subject"] == "Spam report from user@a.example" and mail.get_content_type() == "multipart/mixed"
    (attached,) = [p for p in mail.walk() if p.get_content_type() == "message/rfc822"]
    assert attached.get_content_disposition() == "attachment"
    assert re.sub(rb"\r?\n", b"\r\n", stored) in raw  # the bytes as stored, not written again
    assert attached.get_payload(0)["Message-ID"] == "<quarantined-0@bad.example>"
    assert "user@a.example reports the attached message as spam." in mail.get_body(("plain",)).get_content()


def test_ham_report_by_an_admin_keeps_8bit_bytes(app: Flask, client: FlaskClient, world: World,
                                                 sink: SmtpSink) -> None:
    _set_option(app, world, "HAM_REPORT_ADDRESS", "ham@reports.example")
    original = (b"From: =?utf-8?q?Jos=C3=A9?= <jose@bad.example>\r\nSubject: caf\xc3\xa9 \xe9t\xe9\r\n"
                b"Message-ID: <eight-bit@bad.example>\r\n\r\nna\xefve body\r\n.\r\nlast line\r\n")
    with app.app_context():
        root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
        (root / ".Quarantine" / "new" / "1700000000.eightbit.host").write_bytes(original)
    assert _task(client, world, "domainA", "send_ham_report", recipient="user@a.example", folder="Quarantine",
                 id="eight-bit@bad.example").status_code == 202
    (_, recipients, raw), = sink.messages
    assert recipients == ["ham@reports.example"] and original in raw
    assert _mail(raw)["Subject"] == "Not-spam report from user@a.example"


# --- who may ask: each command's access --------------------------------------------------------------------------

@pytest.fixture
def user_reader(app: Flask, world: World) -> str:
    """An administrator who sees the users of A (USER_READ) and may do nothing else there: 403, not 404."""
    with app.app_context():
        admin = Admin(login="user-reader", email="ur@example.org", session_nonce="x")
        admin.authorities.append(Authority(object_type=str(ObjectType.DOMAIN), object_id=world.pk["A"],
                                           permissions=[str(Permission.USER_READ)]))
        db.session.add(admin)
        db.session.flush()
        _, value = tokens.issue(admin, "reader")
        db.session.commit()
    world.token["userReader"] = value
    return "userReader"


COMMANDS = ("send_welcome_mail", "send_token_mail", "send_password_reset_mail", "send_spam_report",
            "send_ham_report")
# role -> status per command, for a task about user@a.example (domain A)
ACCESS = {
    "sysadmin": (202, 202, 202, 202, 202),
    "broker": (202, 202, 202, 202, 202),
    "customer": (202, 202, 202, 202, 202),
    "domainA": (202, 202, 202, 202, 202),
    "domainB": (404, 404, 404, 404, 404),  # does not see A's users
    "userReader": (403, 403, 403, 403, 403),  # sees them without the right
    "enduser": (403, 202, 202, 202, 202),  # the user themself: not their own welcome
    "none": (401, 401, 401, 401, 401),
    "expired": (401, 401, 401, 401, 401),
}


@pytest.mark.parametrize("role", ACCESS)
def test_each_commands_access(app: Flask, client: FlaskClient, world: World, user_reader: str, sink: SmtpSink,
                              role: str) -> None:
    _set_option(app, world, "SPAM_REPORT_ADDRESS", "spam@reports.example")
    _set_option(app, world, "HAM_REPORT_ADDRESS", "ham@reports.example")
    sent = 0
    for command, expected in zip(COMMANDS, ACCESS[role], strict=True):
        params = {"recipient": "user@a.example"}
        if "report" in command:
            params.update(folder="Quarantine", id=QUARANTINED)
        answer = _task(client, world, role, command, **params)
        assert answer.status_code == expected, (command, answer.get_json())
        sent += expected == 202
        assert len(sink.messages) == sent, command  # a refusal sends nothing
    if sent == 0:
        _nothing_queued(app)


def test_another_users_mail_is_not_found_for_a_mailbox_user(app: Flask, client: FlaskClient, world: World,
                                                           sink: SmtpSink) -> None:
    for command in COMMANDS[1:3]:
        answer = _task(client, world, "enduser", command, recipient="other@a.example")
        assert answer.status_code == 404 and answer.json["detail"] == "Unknown recipient."
    assert client.get("/api/token?username=other@a.example", headers=world.headers("enduser")).status_code == 404
    assert client.get("/api/token?username=user@a.example", headers=world.headers("domainB")).status_code == 404
    assert sink.messages == []
    _nothing_queued(app)


def test_temporary_token_needs_impersonate(app: Flask, client: FlaskClient, world: World, sink: SmtpSink) -> None:
    with app.app_context():  # admin-a keeps everything on A but IMPERSONATE
        authority = db.session.scalar(select(Authority).where(Authority.admin_id == world.pk["domainA"]))
        authority.permissions = [p for p in authority.permissions if p != Permission.IMPERSONATE]
        db.session.commit()
    refused = client.get("/api/token?username=user@a.example", headers=world.headers("domainA"))
    assert refused.status_code == 403
    assert _task(client, world, "domainA", "send_token_mail", recipient="user@a.example").status_code == 403
    assert _task(client, world, "domainA", "send_password_reset_mail", recipient="user@a.example").status_code == 202
    assert len(sink.messages) == 1


# --- bad input and unmet conditions ------------------------------------------------------------------------------

BAD_BODIES = [
    ({"command": "make_coffee", "params": {"recipient": "user@a.example"}}, "command"),
    ({"command": "remediate_message", "params": {"recipient": "user@a.example"}}, "command"),
    ({"command": "send_token_mail"}, "params"),
    ({"params": {"recipient": "user@a.example"}}, "command"),
    ({"command": "send_token_mail", "params": "user@a.example"}, "params"),
    ({"command": "send_token_mail", "params": {}}, "params.recipient"),
    ({"command": "send_token_mail", "params": {"recipient": "user@a.example\r\nBcc: x@evil.example"}},
     "params.recipient"),
    ({"command": "send_token_mail", "params": {"recipient": "not an address"}}, "params.recipient"),
    ({"command": "send_token_mail", "params": {"recipient": ["user@a.example"]}}, "params.recipient"),
    ({"command": "send_token_mail", "params": {"recipient": "user@a.example", "validity": 0}}, "params.validity"),
    ({"command": "send_token_mail", "params": {"recipient": "user@a.example", "validity": 169}}, "params.validity"),
    ({"command": "send_token_mail", "params": {"recipient": "user@a.example", "validity": "24"}}, "params.validity"),
    ({"command": "send_token_mail", "params": {"recipient": "user@a.example", "validity": True}}, "params.validity"),
    ({"command": "send_token_mail", "params": {"recipient": "user@a.example", "validity": 2.5}}, "params.validity"),
    ({"command": "send_welcome_mail", "params": {"recipient": "user@a.example", "validity": 4}}, "params.validity"),
    ({"command": "send_token_mail", "params": {"recipient": "user@a.example", "bcc": "x@evil.example"}},
     "params.bcc"),
    ({"command": "send_spam_report", "params": {"recipient": "user@a.example", "folder": "Quarantine"}},
     "params.id"),
    ({"command": "send_spam_report", "params": {"recipient": "user@a.example", "folder": "Quar\nantine",
                                                "id": QUARANTINED}}, "params.folder"),
    ({"command": "send_spam_report", "params": {"recipient": "user@a.example", "folder": "Quarantine",
                                                "id": "x\r\nSubject: injected"}}, "params.id"),
    ({"command": "send_spam_report", "params": {"recipient": "user@a.example", "folder": "../../etc",
                                                "id": QUARANTINED}}, "folderPath"),
    ({"command": "send_token_mail", "params": {"recipient": "user@a.example"}, "extra": 1}, "extra"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES, ids=[str(n) for n in range(len(BAD_BODIES))])
def test_bad_input_is_400_and_sends_nothing(app: Flask, client: FlaskClient, world: World, sink: SmtpSink,
                                            body: dict[str, object], field: str) -> None:
    _set_option(app, world, "SPAM_REPORT_ADDRESS", "spam@reports.example")
    answer = client.post("/api/tasks", json=body, headers=world.headers("sysadmin"))
    assert answer.status_code == 400 and answer.content_type == "application/problem+json"
    assert field in [e["field"] for e in answer.json["errors"]], answer.json
    assert sink.messages == []
    _nothing_queued(app)


@pytest.mark.parametrize("query", ["validity=0", "validity=169", "validity=abc", "validity=-1", "validity=1.5",
                                   "username=user@a.example%0d%0aBcc:x@evil.example", "username="])
def test_temporary_token_bad_input(app: Flask, client: FlaskClient, world: World, sink: SmtpSink,
                                   query: str) -> None:
    if "username" not in query:
        query += "&username=user@a.example"
    answer = client.get(f"/api/token?{query}", headers=world.headers("sysadmin"))
    assert answer.status_code == 400 and answer.content_type == "application/problem+json"
    assert sink.messages == []
    _nothing_queued(app)


def test_unknown_recipient_is_404(app: Flask, client: FlaskClient, world: World, sink: SmtpSink) -> None:
    for command in COMMANDS[:3]:
        assert _task(client, world, "sysadmin", command, recipient="nobody@a.example").status_code == 404
    assert client.get("/api/token?username=nobody@a.example", headers=world.headers("sysadmin")).status_code == 404
    assert sink.messages == []
    _nothing_queued(app)


def test_unknown_message_is_404(app: Flask, client: FlaskClient, world: World, sink: SmtpSink) -> None:
    _set_option(app, world, "SPAM_REPORT_ADDRESS", "spam@reports.example")
    answer = _task(client, world, "enduser", "send_spam_report", recipient="user@a.example", folder="Quarantine",
                   id="no-such@bad.example")
    assert answer.status_code == 404
    assert sink.messages == []
    _nothing_queued(app)


def test_unmet_conditions_are_422_and_400_for_the_token(app: Flask, client: FlaskClient, world: World,
                                                        sink: SmtpSink) -> None:
    no_address = _task(client, world, "enduser", "send_ham_report", recipient="user@a.example", folder="Quarantine",
                       id=QUARANTINED)
    assert no_address.status_code == 422 and "HAM_REPORT_ADDRESS" in no_address.json["detail"]
    with app.app_context():
        db.session.get(MailUser, world.pk["otherA"]).status = "DISABLED"
        db.session.commit()
    for command in COMMANDS[:3]:
        disabled = _task(client, world, "sysadmin", command, recipient="other@a.example")
        assert disabled.status_code == 422 and disabled.json["detail"] == "This user is disabled."
    with app.app_context():
        db.session.get(Policy, world.pk["policyA"]).quarantine = False
        db.session.commit()
    for command in COMMANDS[:3]:
        no_service = _task(client, world, "sysadmin", command, recipient="user@a.example")
        assert no_service.status_code == 422
        assert no_service.json["detail"] == "The account has no quarantine, retention or archive service."
    token = client.get("/api/token?username=user@a.example", headers=world.headers("sysadmin"))
    assert token.status_code == 400 and "quarantine, retention or archive" in token.json["detail"]
    assert client.get("/api/token", headers=world.headers("sysadmin")).status_code == 400  # whose token?
    assert sink.messages == []
    _nothing_queued(app)


def test_link_mails_to_one_account_are_limited_per_hour(app: Flask, client: FlaskClient, world: World,
                                                       sink: SmtpSink) -> None:
    old = app.config["LINK_MAILS_PER_HOUR"]
    app.config["LINK_MAILS_PER_HOUR"] = 2
    try:
        assert client.get("/api/token", headers=world.headers("enduser")).status_code == 202
        reset = _task(client, world, "domainA", "send_password_reset_mail", recipient="user@a.example")
        assert reset.status_code == 202
        for refused in (client.get("/api/token", headers=world.headers("enduser")),
                        _task(client, world, "sysadmin", "send_token_mail", recipient="user@a.example"),
                        _task(client, world, "sysadmin", "send_welcome_mail", recipient="user@a.example")):
            assert refused.status_code == 429 and 3500 < int(refused.headers["Retry-After"]) <= 3600
        with app.app_context():  # the forgot-password page: the same answer, no mail
            tasks.queue_password_reset(db.session.get(MailUser, world.pk["userA"]))
            db.session.commit()
            assert jobs.dispatch() == 0
        assert _task(client, world, "sysadmin", "send_token_mail", recipient="other@a.example").status_code == 202
    finally:
        app.config["LINK_MAILS_PER_HOUR"] = old
    assert [m[1] for m in sink.messages] == [["user@a.example"]] * 2 + [["other@a.example"]]


def test_a_sign_in_link_form_mails_known_accounts_only(app: Flask, world: World, sink: SmtpSink) -> None:
    """`queue_login_link_for_address`: what a "mail me a sign-in link" page calls; silent for anyone else."""
    with app.app_context():
        db.session.get(MailUser, world.pk["otherA"]).status = "DISABLED"
        for address in (" USER@a.example ", "nobody@a.example", "other@a.example", "user@b.example\r\nBcc: x@y",
                        "", "user@c.example"):
            tasks.queue_login_link_for_address(address)
        db.session.commit()
        assert jobs.dispatch() == 1
    _, token = _link(_only_mail(sink, "user@a.example"))
    with app.app_context():
        assert links.look(token, Purpose.LOGIN).user_id == world.pk["userA"]


# --- failures and the RQ worker -----------------------------------------------------------------------------------

def test_a_relay_outage_fails_the_job_and_leaves_no_working_link(app: Flask, client: FlaskClient,
                                                                 world: World) -> None:
    with app.app_context():
        db.session.add(MailServer(name="down", protocol="SMTP", host="127.0.0.1", port=free_port(), security="NONE",
                                  auth="NO_AUTH", enabled=True))
        db.session.commit()
    assert _task(client, world, "enduser", "send_token_mail", recipient="user@a.example").status_code == 202
    with app.app_context():
        (failure,) = db.session.scalars(select(JobFailure))
        assert failure.function == "send_token_mail"  # on the Jobs page
        assert db.session.scalar(select(func.count()).select_from(LinkToken)) == 0  # rolled back with the job


def test_the_task_runs_on_an_rq_worker(app: Flask, client: FlaskClient, world: World, sink: SmtpSink) -> None:
    with redis_url() as url, _redis_config(app, url):
        assert _task(client, world, "domainA", "send_token_mail", recipient="user@a.example").status_code == 202
        assert sink.messages == []  # queued on RQ, not run in the request
        with app.app_context():
            queue = jobs.queue()
            assert queue.count == 1
            assert SimpleWorker([queue], connection=queue.connection).work(burst=True)
            assert len(queue.finished_job_registry) == 1
    _, token = _link(_only_mail(sink, "user@a.example"))
    with app.app_context():
        assert links.look(token, Purpose.LOGIN).user_id == world.pk["userA"]


def test_on_rq_a_relay_outage_is_retried_and_only_the_committed_link_works(app: Flask, client: FlaskClient,
                                                                           world: World) -> None:
    """The relay is down: the job fails and RQ schedules its retry (nothing lost, no link stored); once the relay
    is back the retry sends the mail, and its link is the only one."""
    with app.app_context():
        server = MailServer(name="down", protocol="SMTP", host="127.0.0.1", port=free_port(), security="NONE",
                            auth="NO_AUTH", enabled=True)
        db.session.add(server)
        db.session.commit()
        server_id = server.id
    with redis_url() as url, _redis_config(app, url), smtp_server() as (sink, port):
        asked = _task(client, world, "enduser", "send_password_reset_mail", recipient="user@a.example")
        assert asked.status_code == 202
        with app.app_context():
            queue = jobs.queue()
            (job_id,) = queue.job_ids
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
            job = queue.fetch_job(job_id)
            assert job.get_status() == "scheduled" and job.retries_left == 2  # retried later, not lost
            assert db.session.scalar(select(func.count()).select_from(LinkToken)) == 0
            db.session.get(MailServer, server_id).port = port  # the relay is back
            db.session.commit()
            queue.scheduled_job_registry.remove(job)
            queue.enqueue_job(job)  # the retry's time has come
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
            assert queue.fetch_job(job_id).get_status() == "finished"
            assert db.session.scalar(select(func.count()).select_from(LinkToken)) == 1
        _, token = _link(_only_mail(sink, "user@a.example"))
        with app.app_context():
            assert links.look(token, Purpose.PASSWORD_RESET).user_id == world.pk["userA"]
