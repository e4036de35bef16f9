"""Hostile header values through the pages and the API (issue 10, items 1, 2, 3 and 11): the compose page
and `POST /emails/send` refuse an encoded control character and send nothing; the reply page is filled with
the real sender only; a hostile held message is released (API and bulk page) with every other byte as
received; a 100 KiB subject leaves the pages small."""

from __future__ import annotations

import html
import mailbox
import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings

from portal.extensions import db
from portal.integrations.mailstore import maildir_root
from portal.models import Domain, MailUser, Policy
from tests.conftest import csrf_token
from tests.encoded_words import hostile_header_values
from tests.services_runtime import SmtpSink, smtp_server
from tests.world import PASSWORD, World

FIXTURES = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ISSUE_SUBJECT = "=?UTF-8?Q?Hi=0D=0AFrom:_boss@a.example=0D=0AReply-To:_x@evil.example=0D=0A=0D=0A<h1>owned?="
HOSTILE = (b"Return-Path: <winner@lottery.example>\r\n"
           b"From: =?UTF-8?Q?Winner=0D=0ABcc:_evil@attacker.example?= <winner@lottery.example>\r\n"
           b"Sender: =?UTF-8?B?eA0KQmNjOiBldmlsQGF0dGFja2VyLmV4YW1wbGU=?= <s@lottery.example>\r\n"
           b"To: user@a.example\r\n"
           b"Subject: [SPAM] =?UTF-8?Q?You_won=0D=0AX-Injected:_yes?=\r\n"
           b"X-Spam-Score: 12.5\r\n"
           b"X-Spam-Status: Yes, score=12.5\r\n\trequired=5.0 tests=LOTS\r\n"
           b"X-Fuglu-Id: hostile1\r\n"
           b"X-Quarantine-Reason: SPAM\r\n"
           b"X-Original-To: user@a.example\r\n"
           b"Message-ID: <hostile1@lottery.example>\r\n"
           b"\r\n"
           b"claim it\r\nX-Spam-Score: stays in the body\r\n")
RELEASED = HOSTILE.replace(b"Subject: [SPAM] =?UTF-8", b"Subject: =?UTF-8")
for _verdict in (b"X-Spam-Score: 12.5\r\n", b"X-Spam-Status: Yes, score=12.5\r\n\trequired=5.0 tests=LOTS\r\n",
                 b"X-Quarantine-Reason: SPAM\r\n"):
    RELEASED = RELEASED.replace(_verdict, b"")


def _root(app: Flask) -> Path:
    return maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")


def _store(app: Flask, folder: str, raw: bytes) -> None:
    box = mailbox.Maildir(str(_root(app)))
    target = box.get_folder(folder) if folder in box.list_folders() else box.add_folder(folder)
    target.add(mailbox.MaildirMessage(raw))


@pytest.fixture
def relay(app: Flask, world: World) -> Iterator[SmtpSink]:
    with smtp_server() as (sink, port):
        with app.app_context():
            db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = port
            db.session.get(Policy, world.pk["policyA"]).relay_props = {"prefixSpam": "[SPAM]", "spamScoreLimit": 10}
            db.session.commit()
        yield sink


def _login(client: FlaskClient) -> str:
    """Signed in as user@a.example (once: hypothesis runs its examples with one client)."""
    page = client.get("/me/login")
    if page.status_code == 200:
            client.post("/me/login", data={"csrf_token": csrf_token(page.text), "email": "user@a.example",
                                       "password": PASSWORD})
    return csrf_token(client.get("/me/").text)


@FIXTURES
@example(subject=ISSUE_SUBJECT)
@example(subject="=?UTF-8?B?SGkNCkJjYzogZXZpbEBhdHRhY2tlci5leGFtcGxl?=")
@given(subject=hostile_header_values)
def test_compose_page_refuses_encoded_controls(app: Flask, client: FlaskClient, world: World, relay: SmtpSink,
                                               subject: str) -> None:
    token = _login(client)
    page = client.post("/me/compose", data={"csrf_token": token, "to": "bob@b.example", "subject": subject,
                                            "body": "hello"})
    assert page.status_code == 400
    field = re.search(r'<input[^>]*name="subject".*?</label>', page.text, re.S)
    assert field and "not even encoded (RFC 2047)" in field.group()  # the message next to the field
    assert relay.messages == []


def test_compose_page_message_is_translated(app: Flask, client: FlaskClient, world: World, relay: SmtpSink) -> None:
    with app.app_context():
        db.session.get(MailUser, world.pk["userA"]).language = "FR"
        db.session.commit()
    token = _login(client)
    page = client.post("/me/compose", data={"csrf_token": token, "to": "bob@b.example", "subject": ISSUE_SUBJECT,
                                            "body": "hello"})
    assert page.status_code == 400 and "même encodés (RFC 2047)" in html.unescape(page.text)
    assert relay.messages == []


@FIXTURES
@example(subject=ISSUE_SUBJECT)
@example(subject="a =?UTF-8?Q?=00?= b")
@given(subject=hostile_header_values)
def test_send_api_refuses_encoded_controls(client: FlaskClient, world: World, relay: SmtpSink, subject: str) -> None:
    answer = client.post(f"/api/users/{world.id('userA')}/emails/send", headers=world.headers("enduser"),
                         json={"to": ["bob@b.example"], "subject": subject, "body": "<p>hi</p>"})
    assert answer.status_code == 400 and answer.mimetype == "application/problem+json"
    assert [e["field"] for e in answer.get_json()["errors"]] == ["subject"]
    assert relay.messages == []


def test_reply_page_has_only_the_real_sender(app: Flask, client: FlaskClient, world: World, relay: SmtpSink) -> None:
    with app.app_context():
        _store(app, "Archive", b"From: =?UTF-8?Q?Eve=0D=0ABcc:_evil@attacker.example?= <eve@them.example>\r\n"
                               b"Cc: =?UTF-8?Q?x=2C_other@attacker.example?= <carol@them.example>\r\n"
                               b"Subject: =?UTF-8?Q?Deal=0D=0ABcc:_evil@attacker.example?=\r\n"
                               b"Message-ID: <deal@them.example>\r\n\r\nbody\r\n")
    token = _login(client)
    page = client.get("/me/compose?reply=deal@them.example&folder=Archive")
    assert page.status_code == 200
    fields = {name: html.unescape(value) for name, value in re.findall(
        r'<input[^>]*name="(to|cc|bcc|subject|origin_id)"[^>]*value="([^"]*)"', page.text)}
    assert fields["to"] == "eve@them.example" and not fields.get("cc") and not fields.get("bcc")
    assert fields["origin_id"] == "deal@them.example" and "\r" not in fields["subject"]
    # Sending the reply as the page offers it mails the real sender only.
    sent = client.post("/me/compose", data={"csrf_token": token, **fields, "body": "no thanks"})
    assert sent.status_code == 302
    (_sender, recipients, raw), = relay.messages
    assert recipients == ["eve@them.example"]
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None and parsed["Cc"] is None and str(parsed["To"]) == "eve@them.example"
    assert parsed["In-Reply-To"] == "<deal@them.example>"


def _released_as_received(raw: bytes) -> None:
    """What the relay got: the held message without the verdict headers and the prefix, plus ours."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    released = re.fullmatch(rb"(.*\r\n)X-Postern-Released: [0-9TZ:-]+", head, re.S)
    assert sep and released, head
    assert released.group(1) + b"\r\n" + body == RELEASED


def test_release_of_a_hostile_message(app: Flask, client: FlaskClient, world: World, relay: SmtpSink) -> None:
    with app.app_context():
        _store(app, "Quarantine", HOSTILE)
    answer = client.post(f"/api/users/{world.id('userA')}/emails/Quarantine/hostile1/release",
                         headers=world.headers("enduser"))
    assert answer.status_code == 204, answer.get_data(as_text=True)
    (sender, recipients, raw), = relay.messages
    assert sender == "postern@localhost" and recipients == ["user@a.example"]
    _released_as_received(raw)


def test_bulk_release_of_a_hostile_message(app: Flask, client: FlaskClient, world: World, relay: SmtpSink) -> None:
    with app.app_context():
        _store(app, "Quarantine", HOSTILE)
    token = _login(client)
    done = client.post("/me/quarantine/bulk", data={"csrf_token": token, "action": "release", "ids": "hostile1",
                                                    "back": "/me/quarantine"})
    assert done.status_code in (200, 302, 303)
    (_sender, recipients, raw), = relay.messages
    assert recipients == ["user@a.example"]
    _released_as_received(raw)


def test_long_header_values_leave_the_pages_small(app: Flask, client: FlaskClient, world: World,
                                                  relay: SmtpSink) -> None:
    subject = "Win " + "A" * 100 * 1024
    sender = ", ".join(f"n{i}@lottery.example" for i in range(5000))
    with app.app_context():
        _store(app, "Quarantine", (f"From: {sender}\r\nTo: user@a.example\r\nSubject: {subject}\r\n"
                                   "X-Fuglu-Id: long1\r\nX-Quarantine-Reason: SPAM\r\n\r\nbody\r\n").encode())
        _store(app, "Archive", f"From: {sender}\r\nSubject: {subject}\r\nMessage-ID: <long2@x.example>\r\n\r\nb\r\n"
               .encode())
    _login(client)
    for url in ("/me/quarantine", "/me/folders?path=Archive"):
        page = client.get(url)
        assert page.status_code == 200 and "Win AAA" in page.text
        assert len(page.data) < 40_000, (url, len(page.data))
    message = client.get("/me/quarantine/message?id=long1")
    assert message.status_code == 200
    assert len(message.data) < len(subject) + len(sender) + 40_000  # each long value once, not in every place
    assert message.text.count("Win " + "A" * 400) == 1 and message.text.count("n4999@lottery.example") == 1
    whole = re.search(r'<details class="clipped"><summary>[^<]*</summary><div class="clipped-full">(Win A+)</div>',
                      message.text)
    assert whole and whole.group(1) == subject  # the full value on demand
