"""Postern's own mail (issue 12, item 2): through the enabled SMTP server of *Mail servers*, its sender and
subject prefix applied; without one, where the portal's other mail goes (local INBOX here). Built with
email.policy.SMTP: text + HTML, Date, Message-ID, Auto-Submitted; a hostile sender name or prefix adds no header."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from portal import jobs
from portal.errors import Unavailable
from portal.extensions import db
from portal.models import MailServer
from portal.services import own_mail
from tests.encoded_words import header_values, hostile_header_values
from tests.services_runtime import SmtpSink, smtp_server
from tests.world import World

OWN_HEADERS = {"from", "to", "subject", "date", "message-id", "auto-submitted", "content-language",
               "mime-version", "content-type"}


@pytest.fixture
def configured(app: Flask) -> Iterator[Flask]:
    """Loopback servers allowed (the aiosmtpd peer); the delivery mode restored after the test."""
    old = app.config["ALLOW_PRIVATE_TARGETS"], app.config["DELIVERY"]
    app.config["ALLOW_PRIVATE_TARGETS"] = True
    yield app
    app.config["ALLOW_PRIVATE_TARGETS"], app.config["DELIVERY"] = old


@pytest.fixture
def sink() -> Iterator[tuple[SmtpSink, int]]:
    with smtp_server() as running:
        yield running


def _server(port: int, *, enabled: bool = True, **fields: object) -> MailServer:
    values: dict[str, object] = {
        "name": "outgoing", "protocol": "SMTP", "host": "127.0.0.1", "port": port, "security": "NONE",
        "auth": "NO_AUTH", "sender_name": "Postern Alerts", "sender_address": "alerts@ops.example",
        "subject_prefix": "[Postern]", "enabled": enabled, **fields}
    server = MailServer(**values)
    db.session.add(server)
    db.session.commit()
    return server


def _inbox(app: Flask, address: str) -> list[bytes]:
    local, _, domain = address.partition("@")
    root = Path(app.config["MAIL_ROOT"]) / domain / local / "Maildir"
    if not root.exists():
        return []
    inbox = mailbox.Maildir(str(root), create=False)
    return [inbox.get_file(key).read() for key in inbox.iterkeys()]  # the files as written, not re-folded


def _parsed(raw: bytes) -> EmailMessage:
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def test_the_welcome_mail_leaves_through_the_enabled_server(configured: Flask, world: World,
                                                            sink: tuple[SmtpSink, int]) -> None:
    received, port = sink
    configured.config["DELIVERY"] = "local"  # the in-use server wins over the delivery mode
    with configured.app_context():
        _server(port)
        message_id = jobs.run_now("send_welcome", world.pk["userA"])
    (envelope_from, recipients, raw), = received.messages
    assert envelope_from == "alerts@ops.example" and recipients == ["user@a.example"]
    assert _inbox(configured, "user@a.example") == []  # not delivered locally as well
    mail = _parsed(raw)
    assert {name.lower() for name in mail} == OWN_HEADERS
    assert mail["From"].addresses[0].display_name == "Postern Alerts"
    assert mail["From"].addresses[0].addr_spec == "alerts@ops.example"
    assert str(mail["To"]) == "user@a.example"
    assert mail["Subject"] == "[Postern] Your Postern account"
    assert mail["Auto-Submitted"] == "auto-generated" and mail["Content-Language"] == "en"
    assert parsedate_to_datetime(mail["Date"]).tzinfo is not None
    assert mail["Message-ID"] == message_id and re.fullmatch(r"<[^<>@\s]+@ops\.example>", message_id)
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "is ready: http://postern.test/me/login" in text and "user@a.example" in text
    assert '<a href="http://postern.test/me/login"' in html and "Your Postern account" in html
    assert "<script" not in html and "style=" in html


def test_without_a_server_the_mail_is_delivered_as_today(configured: Flask, world: World) -> None:
    configured.config["DELIVERY"] = "local"
    with configured.app_context():
        message_id = jobs.run_now("send_welcome", world.pk["userA"])
    (raw,) = _inbox(configured, "user@a.example")
    mail = _parsed(raw)
    assert mail["Message-ID"] == message_id
    assert str(mail["From"]) == configured.config["MAIL_FROM"] and mail["Subject"] == "Your Postern account"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert "/me/login" in mail.get_body(("plain",)).get_content()
    assert "/me/login" in mail.get_body(("html",)).get_content()


def test_a_disabled_server_is_not_used(configured: Flask, world: World, sink: tuple[SmtpSink, int]) -> None:
    received, port = sink
    configured.config["DELIVERY"] = "local"
    with configured.app_context():
        _server(port, enabled=False)
        jobs.run_now("send_welcome", world.pk["userA"])
    assert received.messages == []
    (raw,) = _inbox(configured, "user@a.example")
    mail = _parsed(raw)
    assert mail["Subject"] == "Your Postern account" and "ops.example" not in str(mail["From"])


def test_a_refused_recipient_fails_the_job_with_the_servers_answer(configured: Flask, world: World,
                                                                   sink: tuple[SmtpSink, int]) -> None:
    received, port = sink
    received.refuse.add("user@a.example")
    with configured.app_context():
        _server(port)
        with pytest.raises(Unavailable) as failed:
            jobs.run_now("send_welcome", world.pk["userA"])
    assert "550" in str(failed.value) and "user@a.example" in str(failed.value)
    assert received.messages == []


def test_no_server_and_no_user_to_relay_for_is_unavailable(configured: Flask) -> None:
    configured.config["DELIVERY"] = "smtp"
    with configured.app_context():
        message = own_mail.compose("admin@a.example", "Report", "Nothing to report.")
        with pytest.raises(Unavailable) as failed:
            own_mail.send(message)
    assert "Mail servers" in str(failed.value)


def test_the_test_message_names_its_server_in_the_readers_language(app: Flask) -> None:
    server = MailServer(name="relay-eu", protocol="SMTP", host="smtp.ops.example", port=587, security="STARTTLS",
                        auth="NO_AUTH", sender_name=None, sender_address="noreply@ops.example",
                        subject_prefix="[EU]", enabled=False)
    with app.app_context():
        mail = _parsed(own_mail.test_message("Admin@A.example", server, "FR").as_bytes())
    assert mail["Subject"] == "[EU] Message de test de Postern" and mail["Content-Language"] == "fr"
    assert str(mail["From"]) == "noreply@ops.example" and str(mail["To"]) == "admin@a.example"
    text = mail.get_body(("plain",)).get_content()
    assert "relay-eu" in text and "smtp.ops.example" in text and "587" in text
    assert "relay-eu" in mail.get_body(("html",)).get_content()


HOSTILE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@HOSTILE
@example(name="=?utf-8?q?=0D=0ABcc:_evil@attacker.example?=", prefix="[P]\r\nBcc: evil@attacker.example",
         subject="=?utf-8?q?x?=")
@example(name="=?UTF-8?Q?a?=", prefix="=?UTF-8?Q?b", subject="=0D=0ABcc:_evil@attacker.example?=")
@example(name="=?UTF-8?Q?=0D=0AFrom:_boss@a.example=0D=0AReply=2DTo:_evil@attacker.example?=", prefix="",
         subject="s")  # once written unquoted by the stdlib: a reader found boss@a.example in From
@given(name=st.one_of(hostile_header_values, header_values().map(lambda v: v[0])),
       prefix=st.one_of(hostile_header_values, header_values().map(lambda v: v[0])),
       subject=st.one_of(hostile_header_values, header_values().map(lambda v: v[0])))
def test_a_hostile_sender_name_or_prefix_adds_no_header(app: Flask, name: str, prefix: str, subject: str) -> None:
    server = MailServer(name="out", protocol="SMTP", host="smtp.ops.example", port=25, security="NONE",
                        auth="NO_AUTH", sender_name=name, sender_address="alerts@ops.example", subject_prefix=prefix)
    with app.app_context():
        built = own_mail._compose(server, "user@a.example", subject, "Hello\n\n<b>http://x.example/?a=1&b=2</b>",
                                  None, language="EN")
    raw = built.as_bytes()
    head, _sep, _body = raw.partition(b"\r\n\r\n")
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n", head)
    mail = _parsed(raw)
    names = [n.lower() for n in mail]
    assert set(names) == OWN_HEADERS and len(names) == len(OWN_HEADERS), names
    for field in names:
        assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", str(mail[field])), (field, str(mail[field]))
    assert [a.addr_spec for a in mail["From"].addresses] == ["alerts@ops.example"]
    assert [a.addr_spec for a in mail["To"].addresses] == ["user@a.example"]
    html = mail.get_body(("html",)).get_content()
    assert "<b>" not in html and "&lt;b&gt;" in html and 'href="http://x.example/?a=1&amp;b=2"' in html
