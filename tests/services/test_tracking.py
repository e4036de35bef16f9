"""Message tracking: the Postfix log parser (crafted and hostile lines), the incremental bounded reader (append,
partial line, rotation, truncation), indexing and searching, the indexers' claim on the log position (parallel
runs), and a real private Postfix whose own log (`maillog_file`) is indexed and searched."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.errors import Forbidden, Invalid
from portal.extensions import db
from portal.integrations import maillog
from portal.models import Admin, LogPosition, TrackedMessage, TrackingEvent
from portal.services import tracking
from portal.services.principal import Principal, principal_for_admin
from tests.services_runtime import PostfixQueue, postfix_queue
from tests.world import World

NOW = datetime(2026, 11, 28, 12, 0, 0)


@contextmanager
def indexed_log(app: Flask, path: Path, text: str) -> Iterator[None]:
    """`text` written to `path`, made the app's POSTERN_MAIL_LOG and indexed whole (as of NOW)."""
    path.write_text(text)
    saved = app.config["MAIL_LOG"]
    app.config["MAIL_LOG"] = str(path)
    try:
        with app.app_context():
            while tracking.index_mail_log(now=NOW).more:
                db.session.commit()
            db.session.commit()
        yield
    finally:
        app.config["MAIL_LOG"] = saved
LOG = """\
Nov 28 09:56:02 gw postfix/smtpd[123]: 4F1A2B3C4D: client=mail.example.org[192.0.2.1]
Nov 28 09:56:02 gw postfix/cleanup[124]: 4F1A2B3C4D: message-id=<abc@example.org>
Nov 28 09:56:02 gw postfix/qmgr[125]: 4F1A2B3C4D: from=<Alice@Example.org>, size=1234, nrcpt=2 (queue active)
Nov 28 09:56:03 gw postfix/smtp[126]: 4F1A2B3C4D: to=<bob@b.example>, relay=mx.b.example[198.51.100.2]:25, \
delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 123)
Nov 28 09:56:04 gw postfix/smtp[126]: 4F1A2B3C4D: to=<carol@c.example>, relay=none, delay=30, \
delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to c.example[203.0.113.9]:25: Connection refused)
Nov 28 10:00:00 gw postfix/smtp[127]: 4F1A2B3C4D: to=<carol@c.example>, relay=c.example[203.0.113.9]:25, \
delay=240, delays=0/0/0/1, dsn=5.1.1, status=bounced (host c.example said: 550 5.1.1 no such user)
Nov 28 10:00:00 gw postfix/bounce[128]: 4F1A2B3C4D: sender non-delivery notification: 5A5A5A5A5A
Nov 28 10:00:01 gw postfix/qmgr[125]: 4F1A2B3C4D: removed
Nov 28 11:00:00 gw postfix/pickup[1]: 4F1A2B3C4D: uid=0 from=<root>
Nov 28 11:00:00 gw postfix/cleanup[124]: 4F1A2B3C4D: message-id=<second@gw>
Nov 28 11:00:00 gw postfix/qmgr[125]: 4F1A2B3C4D: from=<root@gw>, size=300, nrcpt=1 (queue active)
"""


def _entries(text: str) -> list[maillog.Entry]:
    return maillog.parse(text.splitlines(), maillog.Clock(NOW))


def test_crafted_lines_are_parsed() -> None:
    entries = _entries(LOG)
    assert [e.kind for e in entries] == ["received", "cleanup", "queued", "delivery", "delivery", "delivery",
                                         "notice", "removed", "received", "cleanup", "queued"]
    received, cleanup, queued, sent, deferred, bounced = entries[:6]
    assert received.client == "mail.example.org[192.0.2.1]" and received.at == datetime(2026, 11, 28, 9, 56, 2)
    assert cleanup.message_id == "abc@example.org"
    assert (queued.sender, queued.size, queued.nrcpt) == ("alice@example.org", 1234, 2)
    assert (sent.recipient, sent.status, sent.dsn, sent.text) == ("bob@b.example", "sent", "2.0.0",
                                                                  "250 2.0.0 Ok: queued as 123")
    assert sent.relay == "mx.b.example[198.51.100.2]:25" and sent.delay == 1.2
    assert deferred.status == "deferred" and deferred.text.endswith("Connection refused")
    assert bounced.status == "bounced" and "550 5.1.1" in bounced.text


def test_other_formats_and_steps() -> None:
    text = (
        "2026-11-28T09:56:03.123456+01:00 gw postfix/smtp[1]: ABCDEF1234: to=<x@y.example>, orig_to=<o@y.example>, "
        "relay=none, delay=0.1, dsn=4.4.1, status=deferred (no route)\n"
        "Nov 28 09:56:03 gw postfix/qmgr[2]: ABCDEF1234: from=<x@y.example>, status=expired, returned to sender\n"
        "Nov 28 09:56:03 gw postfix/postsuper[3]: ABCDEF1234: placed on hold\n"
        "Nov 28 09:56:03 gw postfix/postsuper[3]: ABCDEF1234: released from hold\n"
        "Nov 28 09:56:03 gw postfix/cleanup[4]: ABCDEF1234: milter-reject: END-OF-MESSAGE from x[1.2.3.4]: 5.7.1 spam\n"
        "Nov 28 09:56:03 gw postfix-out/submission/smtpd[5]: 3kP9bB2xYzq7Lm: client=localhost[127.0.0.1], "
        "sasl_method=PLAIN\n"
        "Nov 28 09:56:03 gw postfix/smtpd[5]: NOQUEUE: reject: RCPT from x[1.2.3.4]: 554 5.7.1 relay denied\n"
        "Nov 28 09:56:03 gw dovecot[6]: ABCDEF1234: to=<x@y.example>, status=sent (not Postfix)\n"
        "Nov 31 09:56:03 gw postfix/qmgr[2]: ABCDEF1234: removed\n")  # no such day: dropped
    entries = _entries(text)
    assert [(e.kind, e.status) for e in entries] == [("delivery", "deferred"), ("expired", "expired"), ("hold", None),
                                                     ("released", None), ("filter", "milter-reject"),
                                                     ("received", None)]
    assert entries[0].at == datetime(2026, 11, 28, 8, 56, 3, 123456)  # +01:00 to UTC
    assert entries[0].recipient == "x@y.example" and entries[5].client == "localhost[127.0.0.1]"
    assert entries[5].queue_id == "3kP9bB2xYzq7Lm"
    # a stamp more than a day after "now" is last year's (syslog gives no year)
    assert _entries("Dec 30 10:00:00 gw postfix/qmgr[1]: ABCDEF1234: removed")[0].at.year == 2025


LINE_PARTS = st.sampled_from([
    "Nov 28 09:56:02 gw postfix/smtp[1]: 4F1A2B3C4D: ", "Nov 28 09:56:02 gw postfix/qmgr[1]: 4F1A2B3C4D: ",
    "Nov 28 09:56:02 gw postfix/cleanup[1]: 4F1A2B3C4D: ", "Nov 28 09:56:02 gw postfix/smtpd[1]: 4F1A2B3C4D: ",
    "2026-11-28T09:56:02Z gw postfix/bounce[1]: 4F1A2B3C4D: ", "Nov 28 09:56:02 gw postfix/postsuper[1]: ABCDEF: ",
    "to=<", "from=<", "client=", "message-id=<", ", status=", "sent", "deferred", "expired", " (", ")", "<>",
    ", size=", ", nrcpt=", "99999999999999999999", "removed", "reject: ", "uid=0 from=<", "=", ", ", "\x00", "\u202e",
    "\r", "delay=", "nan", "inf", "-1", "1e308",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(LINE_PARTS, st.text(max_size=40)), max_size=14).map("".join))
def test_hostile_lines_never_break_the_parser(line: str) -> None:
    entry = maillog.parse_line(line, maillog.Clock(NOW))
    if entry is None:
        return
    for name, limit in (("recipient", 320), ("sender", 320), ("client", 255), ("relay", 255), ("dsn", 16),
                        ("text", 1000), ("message_id", 500)):
        value = getattr(entry, name)
        assert value is None or (len(value) <= limit and not any(ord(c) < 32 or ord(c) == 127 for c in value))
    assert entry.size is None or 0 <= entry.size < 10**15
    assert entry.delay is None or 0 <= entry.delay < 1e9
    assert entry.status is None or entry.kind in ("delivery", "expired", "filter")


# --- the reader -------------------------------------------------------------------------------------------------

def test_reading_is_incremental_bounded_and_survives_rotation(tmp_path: Path) -> None:
    log = tmp_path / "maillog"
    log.write_bytes(b"one\ntwo\nthr")  # a partial last line waits
    chunk = maillog.read_chunk(str(log), maillog.Position(None, 0), 1000)
    assert chunk.lines == ["one", "two"] and (chunk.start, chunk.end) == (0, 8) and not chunk.more
    with log.open("ab") as fh:
        fh.write(b"ee\nfour\n")
    position = maillog.Position(chunk.inode, chunk.end)
    chunk = maillog.read_chunk(str(log), position, 6)  # bounded: "three\n" only
    assert chunk.lines == ["three"] and chunk.bytes_read == 6 and chunk.more
    chunk = maillog.read_chunk(str(log), maillog.Position(chunk.inode, chunk.end), 1000)
    assert chunk.lines == ["four"] and not chunk.more
    end = maillog.Position(chunk.inode, chunk.end)
    assert maillog.read_chunk(str(log), end, 1000).bytes_read == 0  # nothing new
    log.write_bytes(b"new\n")  # truncated (shorter than the position): from the top
    assert maillog.read_chunk(str(log), end, 1000).lines == ["new"]
    os.rename(log, tmp_path / "maillog.1")  # rotated: a new inode, even when longer than the position
    log.write_bytes(b"rotated file, first line, long enough\n")
    chunk = maillog.read_chunk(str(log), maillog.Position(end.inode, 4), 1000)
    assert chunk.start == 0 and chunk.lines == ["rotated file, first line, long enough"]
    # lines written to the old file after the last read, then a rotation: the rest of maillog.1 comes first
    position = maillog.Position(chunk.inode, chunk.end)
    with log.open("ab") as fh:
        fh.write(b"late line\n")
    os.rename(log, tmp_path / "maillog.1")
    log.write_bytes(b"after rotation\n")
    rest = maillog.read_chunk(str(log), position, 1000)
    assert rest.lines == ["late line"] and rest.inode == position.inode and rest.more
    fresh = maillog.read_chunk(str(log), maillog.Position(rest.inode, rest.end), 1000)
    assert fresh.start == 0 and fresh.lines == ["after rotation"] and fresh.inode != position.inode
    log.write_bytes(b"x" * 50 + b"\nshort\n")  # a line longer than a read is skipped, not a reader stuck on it
    first = maillog.read_chunk(str(log), maillog.Position(None, 0), 20)
    assert first.lines == [] and first.end == 20


# --- indexing and searching ---------------------------------------------------------------------------------------

@pytest.fixture
def mail_log(app: Flask, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "mail.log"
    path.write_text("")
    saved = app.config["MAIL_LOG"]
    app.config["MAIL_LOG"] = str(path)
    try:
        yield path
    finally:
        app.config["MAIL_LOG"] = saved


def _principal(world: World, role: str) -> Principal:
    return principal_for_admin(db.session.get(Admin, world.admin_of_role[role]))


def _index_all(max_bytes: int | None = None) -> int:
    done = 0
    while True:
        result = tracking.index_mail_log(max_bytes, now=NOW)
        db.session.commit()
        done += result.bytes_read
        if not result.more:
            return done


def _search(world: World, **args: str) -> tracking.SearchPage:
    query = tracking.parse_query({"start": "2026-11-28T00:00", "end": "2026-11-29T00:00", **args})
    return tracking.search(_principal(world, "sysadmin"), query)


def test_index_and_search(app: Flask, world: World, mail_log: Path) -> None:
    mail_log.write_text(LOG)
    with app.app_context():
        assert _index_all(max_bytes=300) == len(LOG.encode())  # chunk after chunk, each line once
        found = _search(world, queueId="4F1A2B3C4D")
        assert found.total == 2  # the queue id came back after "removed": two messages
        second, first = (t.message for t in found.rows)
        assert (first.sender, first.message_id, first.client, first.size, first.status, first.closed) == (
            "alice@example.org", "abc@example.org", "mail.example.org[192.0.2.1]", 1234, "bounced", True)
        assert (second.sender, second.message_id, second.client, second.closed) == ("root@gw", "second@gw",
                                                                                   "local", False)
        path = found.rows[1].events
        assert [(e.kind, e.status) for e in path] == [
            ("received", None), ("cleanup", None), ("queued", None), ("delivery", "sent"), ("delivery", "deferred"),
            ("delivery", "bounced"), ("notice", None), ("removed", None)]
        assert path[5].text == "host c.example said: 550 5.1.1 no such user"
        assert [t.message.message_id for t in _search(world, messageId="<abc@example.org>").rows] == [
            "abc@example.org"]
        assert _search(world, sender="*@EXAMPLE.org").total == 1
        assert _search(world, sender="alice*").total == 1 and _search(world, sender="alice").total == 0
        assert _search(world, recipient="carol@c.example").total == 1
        assert _search(world, recipient="*@c.example", sender="root@gw").total == 0  # filters apply together
        assert _search(world).total == 2  # no filter: the range
        assert tracking.search(_principal(world, "sysadmin"), tracking.parse_query(
            {"start": "2026-11-28T10:30", "end": "2026-11-28T12:00"})).total == 1
        # appended lines: only they are read
        with mail_log.open("a") as fh:
            fh.write("Nov 28 11:00:05 gw postfix/local[9]: 4F1A2B3C4D: to=<root@gw>, relay=local, delay=5, "
                     "dsn=2.0.0, status=sent (delivered to mailbox)\n")
        assert _index_all() == 131
        assert _search(world, recipient="root@gw").rows[0].message.status == "sent"
        assert db.session.scalar(select(func.count()).select_from(TrackingEvent)) == 12
        # lost lines: the id received again without "removed" in between starts a new message all the same
        with mail_log.open("a") as fh:
            fh.write("Nov 28 11:50:00 gw postfix/smtpd[9]: 4F1A2B3C4D: client=third.example[192.0.2.3]\n")
        _index_all()
        assert [t.message.client for t in _search(world, queueId="4F1A2B3C4D").rows] == [
            "third.example[192.0.2.3]", "local", "mail.example.org[192.0.2.1]"]


def test_bad_searches_are_refused_and_access_is_the_queues(app: Flask, world: World) -> None:
    with app.app_context():
        for args, name in (({"queueId": "-x"}, "queueId"), ({"start": "yesterday"}, "start"),
                           ({"start": "2026-01-01", "end": "2026-03-01"}, "start"),
                           ({"start": "2026-03-01", "end": "2026-01-01"}, "start"), ({"sender": "a\nb"}, "sender"),
                           ({"end": "9" * 16}, "end")):
            with pytest.raises(Invalid) as raised:
                tracking.parse_query(args)
            assert name in raised.value.field_messages(), args
        query = tracking.parse_query({"start": "1795824000000", "end": "2026-11-28T12:00:00+01:00"})
        assert (query.start, query.end) == (datetime(2026, 11, 28), datetime(2026, 11, 28, 11))
        with pytest.raises(Forbidden):
            tracking.search(_principal(world, "domainA"), query)
        assert tracking.search(_principal(world, "broker"), tracking.parse_query({})).total == 0


def test_an_unreadable_or_unset_log(app: Flask, world: World, mail_log: Path, tmp_path: Path) -> None:
    from portal.errors import Unavailable

    with app.app_context():
        app.config["MAIL_LOG"] = None
        assert tracking.index_mail_log().bytes_read == 0
        app.config["MAIL_LOG"] = str(tmp_path / "missing.log")
        with pytest.raises(Unavailable):
            tracking.index_mail_log()
        db.session.rollback()


def test_parallel_indexers_never_index_the_same_bytes(app: Flask, world: World, mail_log: Path) -> None:
    """Two indexers at once, chunk after chunk: every line's step is stored once (on PostgreSQL the second waits on
    the position's row lock; on SQLite on the database's write lock, and its conditional UPDATE finds the offset
    moved)."""
    lines = []
    for n in range(400):
        qid = f"{n + 0x100000:X}"
        lines += [f"Nov 28 09:{n % 60:02d}:02 gw postfix/smtpd[1]: {qid}: client=c{n}.example[192.0.2.1]",
                  f"Nov 28 09:{n % 60:02d}:03 gw postfix/qmgr[2]: {qid}: from=<s{n}@a.example>, size={n}, nrcpt=1"]
    mail_log.write_text("\n".join(lines) + "\n")
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def indexer() -> None:
        with app.app_context():
            start.wait(timeout=30)
            try:
                for _ in range(1000):
                    result = tracking.index_mail_log(2048, now=NOW)
                    db.session.commit()
                    position = db.session.scalar(select(LogPosition.offset))
                    db.session.rollback()
                    if not result.more and position == mail_log.stat().st_size:
                        return
            except BaseException as error:
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=indexer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TrackedMessage)) == 400
        assert db.session.scalar(select(func.count()).select_from(TrackingEvent)) == 800
        assert db.session.scalar(select(LogPosition.offset)) == mail_log.stat().st_size


# --- a real Postfix ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def postfix() -> Iterator[PostfixQueue]:
    with postfix_queue() as instance:
        yield instance


def test_a_message_through_postfix_is_tracked(app: Flask, world: World, postfix: PostfixQueue) -> None:
    """A message handed to the private Postfix (its own log: `maillog_file`) is found by its sender, with its
    path up to the deferral by the unreachable relay, and the answer Postfix logged."""
    postfix.inject("tracked@a.example", ["far@b.example"], subject="tracking")
    queued = postfix.deferred(1)
    queue_id = queued[0]["queue_id"]
    saved = app.config["MAIL_LOG"]
    app.config["MAIL_LOG"] = postfix.log
    try:
        with app.app_context():
            for _ in range(600):  # until the deferral is in the log (postlog writes it a moment after)
                tracking.index_mail_log()
                db.session.commit()
                query = tracking.parse_query({"sender": "tracked@a.example"})
                found = tracking.search(_principal(world, "sysadmin"), query)
                if found.rows and any(e.status == "deferred" for e in found.rows[0].events):
                    break
                threading.Event().wait(0.05)
            assert found.total == 1
            message, events = found.rows[0].message, found.rows[0].events
            assert message.queue_id == queue_id and message.client == "local" and message.message_id
            kinds = [e.kind for e in events]
            assert kinds[:3] == ["received", "cleanup", "queued"] and "delivery" in kinds
            deferral = next(e for e in events if e.status == "deferred")
            assert deferral.recipient == "far@b.example" and "127.0.0.1" in (deferral.text or "")
    finally:
        app.config["MAIL_LOG"] = saved
        postfix.clear()


def test_the_job_indexes_chunk_after_chunk_within_its_budget(app: Flask, world: World, mail_log: Path) -> None:
    from portal import jobs

    mail_log.write_text(LOG)
    saved = app.config["MAIL_LOG_CHUNK_BYTES"]
    app.config["MAIL_LOG_CHUNK_BYTES"] = 400
    try:
        with app.app_context():
            done = jobs.run_now("index_mail_log")
            assert done["bytes"] == len(LOG.encode()) and done["chunks"] > 3 and done["entries"] == 11
            assert jobs.run_now("index_mail_log") == {"bytes": 0, "entries": 0, "messages": 0, "chunks": 1}
            assert db.session.scalar(select(func.count()).select_from(TrackingEvent)) == 11
    finally:
        app.config["MAIL_LOG_CHUNK_BYTES"] = saved
