"""Hostile header values, property-based (issue 10, items 1-3): compose refuses a value that decodes to a
control character and sends nothing; a reply never gains a recipient from an encoded display name; a release
changes only the verdict headers, the subject prefix and its own header, and never raises."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from portal.errors import Invalid
from portal.extensions import db
from portal.integrations.mailstore import maildir_root, parsed_addresses
from portal.models import Domain, MailUser
from portal.schemas.emails import SmtpMessageIn
from portal.services import release, sending
from portal.services.principal import principal_for_user
from tests.encoded_words import CONTROLS, b_encode, header_values, hostile_header_values, plain_words, q_encode
from tests.services_runtime import SmtpSink, smtp_server
from tests.world import World

FIXTURES = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SENT_HEADERS = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}
ISSUE_SUBJECT = "=?UTF-8?Q?Hi=0D=0AFrom:_boss@a.example=0D=0AReply-To:_x@evil.example=0D=0A=0D=0A<h1>owned?="


@pytest.fixture
def relay(app: Flask, world: World) -> Iterator[SmtpSink]:
    with smtp_server() as (sink, port), app.app_context():
        db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = port
        db.session.commit()
        yield sink


def _send(world: World, **fields: object) -> sending.Sent:
    user = db.session.get(MailUser, world.pk["userA"])
    data = SmtpMessageIn.model_construct(**{**SmtpMessageIn().model_dump(), "to": ["bob@b.example"],
                                            "body": "<p>hello</p>", **fields})
    return sending.send(principal_for_user(user), user, data)


def _sound(raw: bytes) -> None:
    """The mail as the relay got it: the headers compose builds, once each, no control character in a line,
    and the body it was given."""
    head, _sep, _body = raw.partition(b"\r\n\r\n")
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n", head)
    parsed = message_from_bytes(raw, policy=policy.default)
    names = [name.lower() for name in parsed]
    assert set(names) == SENT_HEADERS and len(names) == len(SENT_HEADERS), names
    for name in names:
        assert not re.search("[\x00-\x1f\x7f\u2028\u2029]", str(parsed[name])), (name, str(parsed[name]))
    assert [str(a.addr_spec) for a in parsed["To"].addresses] == ["bob@b.example"]
    assert parsed.get_body(("plain",)).get_content().strip() == "hello"


@FIXTURES
@example(value=(ISSUE_SUBJECT, True))
@example(value=("=?UTF-8?B?" + "SGkNCkJjYzogZXZpbEBhdHRhY2tlci5leGFtcGxl" + "?=", True))
@example(value=("Caf\u00e9 =?UTF-8?Q?na=C3=AFve?= \u65e5\u672c", False))
@given(value=header_values())
def test_compose_subject(ctx: None, world: World, relay: SmtpSink, value: tuple[str, bool]) -> None:
    subject, hostile = value
    before = len(relay.messages)
    if hostile:
        with pytest.raises(Invalid) as refused:
            _send(world, subject=subject)
        assert [e.field for e in refused.value.errors] == ["subject"]
        assert len(relay.messages) == before  # nothing sent
    else:
        _send(world, subject=subject)
        (_sender, recipients, raw), = relay.messages[before:]
        assert recipients == ["bob@b.example"]
        _sound(raw)
    db.session.rollback()


@FIXTURES
@example(words=["00\u00a1\u00a1\u00a1\U00010000\U00010000", "000" + "\u00a1" * 7 + "\U00010000" * 2, "\u00a1",
                "\u00a1"])
@given(words=st.lists(plain_words, min_size=1, max_size=6))
def test_compose_non_ascii_subject_is_encoded(ctx: None, world: World, relay: SmtpSink, words: list[str]) -> None:
    """A legitimate subject arrives as given, whatever its script: the policy encodes it, nothing is lost."""
    subject = " ".join(words)
    before = len(relay.messages)
    _send(world, subject=subject)
    (_sender, _recipients, raw), = relay.messages[before:]
    _sound(raw)
    assert raw.isascii()
    assert str(message_from_bytes(raw, policy=policy.default)["Subject"]) == subject
    db.session.rollback()


@FIXTURES
@example(name=("=?UTF-8?Q?Eve=0D=0ABcc:_evil@attacker.example?=", True))
@example(name=('"=?UTF-8?Q?x=0D=0ABcc:_e@v.example?="', True))
@given(name=header_values())
def test_compose_display_name(ctx: None, world: World, relay: SmtpSink, name: tuple[str, bool]) -> None:
    """The sender's display name (the user's names) goes through the same check, never a 500."""
    value, hostile = name
    value = value.replace("\x00", "\x01")  # PostgreSQL stores no NUL in text: a raw one is another control
    assume(len(value) <= 255)  # the column's length
    user = db.session.get(MailUser, world.pk["userA"])
    user.firstname, user.lastname = value, None
    before = len(relay.messages)
    if hostile:
        with pytest.raises(Invalid) as refused:
            _send(world, subject="hi")
        assert [e.field for e in refused.value.errors] == ["from"]
        assert len(relay.messages) == before
    else:
        _send(world, subject="hi")
        (_sender, _recipients, raw), = relay.messages[before:]
        _sound(raw)
        (address,) = message_from_bytes(raw, policy=policy.default)["From"].addresses
        assert address.addr_spec == "user@a.example"
    db.session.rollback()


@FIXTURES
@given(bad=st.sampled_from(CONTROLS), encode=st.sampled_from([q_encode, b_encode]))
def test_compose_thread_id(ctx: None, world: World, relay: SmtpSink, bad: str, encode: object) -> None:
    """The reply's originId becomes In-Reply-To and References: an encoded control character is refused."""
    with pytest.raises(Invalid) as refused:
        _send(world, subject="hi", origin_id=f"a@b.example {encode(bad + 'Bcc: evil@attacker.example')}")  # type: ignore[operator]
    assert [e.field for e in refused.value.errors] == ["originId"]
    assert relay.messages == []
    db.session.rollback()


# --- the reply's recipients ------------------------------------------------------------------------------

@st.composite
def hostile_from(draw: st.DrawFn) -> tuple[str, str]:
    """A From header whose display name hides CR/LF + Bcc (or a comma and an address) in an encoded word,
    and the one real address."""
    hidden = draw(st.sampled_from(["\r\nBcc: evil@attacker.example", ", evil@attacker.example",
                                   "\r\nTo: evil@attacker.example", "\nCc: evil@attacker.example", "\x00"]))
    bad = draw(st.sampled_from(CONTROLS))
    text = draw(plain_words) + bad + hidden
    word = draw(st.sampled_from([q_encode(text), q_encode(text, raw_specials=True), b_encode(text)]))
    shape = draw(st.sampled_from(["{w} <{a}>", '"{w}" <{a}>', "{a} ({w})", "{w}\r\n <{a}>"]))
    return shape.format(w=word, a="sender@them.example"), "sender@them.example"


def _hold(app: Flask, folder: str, raw: bytes) -> None:
    root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
    box = mailbox.Maildir(str(root))
    target = box.get_folder(folder) if folder in box.list_folders() else box.add_folder(folder)
    target.add(mailbox.MaildirMessage(raw))


@FIXTURES
@example(header=("=?UTF-8?Q?Eve=0D=0ABcc:_evil@attacker.example?= <sender@them.example>", "sender@them.example"))
@example(header=("=?UTF-8?Q?x=2C_evil@attacker.example?= <sender@them.example>", "sender@them.example"))
@given(header=hostile_from())
def test_reply_has_only_the_real_sender(app: Flask, ctx: None, world: World, header: tuple[str, str]) -> None:
    value, real = header
    key = f"reply-{abs(hash(value))}"
    _hold(app, "Archive", f"From: {value}\r\nSubject: =?UTF-8?Q?Hi=0D=0ABcc:_x@evil.example?=\r\n"
                          f"Message-ID: <{key}@them.example>\r\n\r\nbody\r\n".encode())
    user = db.session.get(MailUser, world.pk["userA"])
    reply = sending.reply_fields(principal_for_user(user), user, "Archive", f"{key}@them.example")
    assert reply.to == [real]
    assert not re.search("[\x00-\x1f\x7f]", reply.subject) and reply.origin_id == f"{key}@them.example"
    assert parsed_addresses(value) == [real]


# --- release ------------------------------------------------------------------------------------------------

VERDICTS = ["X-Spam-Score: 12.5", "X-Spam-Status: Yes, score=12.5\r\n\trequired=5", "X-Spam-Flag: YES",
            "x-spam-level: *****", "X-Quarantine-Reason: SPAM", "X-Virus-Name: Eicar", "X-VIRUS-STATUS: infected"]
PREFIXES = {"prefixSpam": "[SPAM]", "advertPrefix": "***ADVERT***"}


@st.composite
def held_messages(draw: st.DrawFn) -> tuple[bytes, list[bytes], str, str, str, bool]:
    """A held message with hostile headers (encoded CR/LF in From, Sender, Subject, raw 8-bit, folded lines,
    LF or CRLF lines), verdict headers among them; what the release must keep; the subject as a reader sees
    it; the prefix, the rest of the subject, the subject, and whether the prefix is in an encoded word."""
    eol = draw(st.sampled_from(["\r\n", "\n"]))
    in_line = hostile_header_values.filter(lambda v: "\n" not in v)  # a raw LF would end the header line
    hostile = draw(in_line)
    prefix = draw(st.sampled_from(["", "[SPAM] ", "***ADVERT*** ", "[SPAM] ***ADVERT*** "]))
    rest = draw(st.sampled_from(["You won", hostile, "caf\u00e9", ""]))
    encoded_prefix = draw(st.booleans()) and prefix
    subject = (q_encode(prefix.strip()) + " " + rest) if encoded_prefix else prefix + rest
    others = [f"From: {hostile} <winner@lottery.example>", f"Sender: {draw(in_line)}",
              "To: user@a.example", f"X-Other: {draw(in_line)}{eol}\tfolded too",
              "Received: from x by y;" + eol + " Fri, 27 Nov 2026 10:00:00 +0000", "Message-ID: <h@them.example>"]
    verdicts = draw(st.lists(st.sampled_from(VERDICTS), max_size=4))
    order = draw(st.permutations(others + verdicts))
    lines = [line.replace("\r\n", eol) for line in order] + [f"Subject: {subject}"]
    body = draw(st.sampled_from(["body\r\nX-Spam-Score: in the body stays\r\n", "\r\n\r\n", "", "\x00\xff"]))
    raw = (eol.join(lines) + eol + eol + body).encode("utf-8", errors="surrogatepass")
    kept = [line.replace("\r\n", eol).encode("utf-8", errors="surrogatepass") + eol.encode() for line in order
            if line not in verdicts]
    return raw, kept, prefix, rest, subject, bool(encoded_prefix)


def _crlf(raw: bytes) -> bytes:
    return re.sub(rb"(?<!\r)\n", b"\r\n", raw)


def _reader_subject(raw: bytes) -> str:
    """The Subject as a reader decodes it (found by LF-ended lines: the stdlib parser also ends a line at
    a bare CR, which a hostile header elsewhere may hold)."""
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0] + b"\n"
    field = next(f for f in re.split(rb"(?<=\n)(?=[^ \t])", head) if f.startswith(b"Subject:"))
    value = re.sub(r"\r?\n(?=[ \t])", "", field[len(b"Subject:"):].decode("utf-8", "surrogateescape")).strip()
    return str(policy.default.header_factory("subject", value))


@settings(max_examples=300, deadline=None)
@given(held=held_messages())
def test_release_prepare_keeps_every_other_byte(held: tuple[bytes, list[bytes], str, str, str, bool]) -> None:
    raw, kept, prefix, rest, subject, encoded_prefix = held
    user = SimpleNamespace(policy=SimpleNamespace(relay_props=PREFIXES), domain=None)
    prepared = release._prepare(raw, user)  # type: ignore[arg-type]
    assert not re.search(rb"(?<!\r)\n", prepared)  # SMTP's line ends, whatever the store kept
    raw, kept, eol = _crlf(raw), [_crlf(line) for line in kept], b"\r\n"
    head, sep, body = prepared.partition(eol + eol)
    assert sep and body == raw.partition(eol + eol)[2]  # the body byte for byte
    fields = re.split(rb"(?<=\n)(?=[^ \t])", head + eol)
    assert re.fullmatch(rb"X-Postern-Released: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ" + eol, fields[-1])
    subject_field = next(f for f in fields if f.startswith(b"Subject:"))
    assert [f for f in fields[:-1] if f is not subject_field] == kept  # every other header as received
    assert not any(f.split(b":")[0].lower() in {v.split(":")[0].lower().encode() for v in VERDICTS} for f in fields)
    if encoded_prefix:  # decoded, cut, encoded again (ASCII, folded lines only): the reader sees the rest
        assert subject_field.isascii() and not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", subject_field.replace(
            eol + b" ", b"")[:-len(eol)])
        assert _reader_subject(prepared).strip() == _reader_subject(f"Subject: {rest}\n\n".encode()).strip()
    else:  # cut in the raw bytes: the rest as received
        assert subject_field == _crlf(f"Subject: {rest if prefix else subject}".encode()) + eol
    if prefix:
        assert not _reader_subject(prepared).startswith(prefix.strip())


@example(raw=b"From: =?UTF-8?Q?Eve=0D=0ABcc:_x@evil.example?= <eve@them.example>\r\nSubject: [SPAM] hi\r\n\r\nb")
@example(raw=b"Subject: =?UTF-8?B?W1NQQU1dIGEKYg==?=\nSender: =?UTF-8?Q?=0A?=\n\nb")
@given(raw=st.binary(max_size=400) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
@settings(max_examples=300, deadline=None)
def test_release_prepare_never_raises(raw: bytes) -> None:
    user = SimpleNamespace(policy=SimpleNamespace(relay_props=PREFIXES), domain=None)
    prepared = release._prepare(raw, user)  # type: ignore[arg-type]
    assert b"X-Postern-Released: " in prepared
