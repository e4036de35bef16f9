"""The Postfix log (POSTERN_MAIL_LOG), read incrementally and in bounded chunks, parsed line by line.

Rules kept here:
- a position per file is (inode, offset); a new inode (rotation) or a file shorter than the offset (truncation)
  starts over at 0;
- one read takes at most `max_bytes` bytes and only complete lines (up to the last newline); a partial last
  line waits for the next read; a line longer than the bound is skipped whole, never a reader stuck on it;
- the log is hostile text (addresses, answers of remote servers): the parser never raises on a line, drops
  what it does not know, cuts every field to its column's length and removes NUL and control characters.
This module knows nothing of Flask or the database (the benchmark uses it as is).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# syslog's "Nov 28 09:56:02 host postfix/smtpd[123]: " or RFC 3339 "2026-11-28T09:56:02.123+00:00 host ..."
_LINE = re.compile(
    r"(?:(?P<bsd>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)|(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?"
    r"(?:Z|[+-]\d\d:?\d\d)?)) \S+ (?P<prog>postfix[\w.-]*(?:/[\w.-]+)+)(?:\[\d+\])?: "
    r"(?P<qid>[0-9A-F]{6,32}|[0-9A-Za-z]{10,32}): (?P<rest>.*)")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), 1)}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DELIVERY_AGENTS = frozenset(("smtp", "lmtp", "local", "virtual", "pipe", "error", "retry", "discard", "relay"))
STATUSES = frozenset(("sent", "deferred", "bounced", "expired"))
CLEANUP_ACTIONS = frozenset(("reject", "milter-reject", "hold", "milter-hold", "discard", "milter-discard",
                             "redirect", "filter"))
LIMITS = {"address": 320, "client": 255, "relay": 255, "dsn": 16, "text": 1000, "message_id": 500}


def clean(text: str, limit: int) -> str:
    """Printable and bounded: what goes into a column."""
    return _CONTROL.sub("", text)[:limit]


@dataclass(slots=True)
class Entry:
    """One logged step of a message. `kind`: received, cleanup (header/body checks and milters passed, the
    message-id known), filter (a cleanup action: reject, hold, discard, redirect, filter), queued, delivery
    (`status` sent | deferred | bounced | expired), expired, notice (a bounce or delay notice), hold, released,
    requeued, removed."""

    at: datetime
    queue_id: str
    kind: str
    sender: str | None = None
    recipient: str | None = None
    client: str | None = None
    message_id: str | None = None
    size: int | None = None
    nrcpt: int | None = None
    relay: str | None = None
    dsn: str | None = None
    status: str | None = None
    delay: float | None = None
    text: str | None = None


@dataclass
class Clock:
    """Turns syslog timestamps (no year, local time) into naive UTC; `now` decides the year (a stamp more than a
    day ahead of it belongs to the year before). Stamps repeat a lot: converted once each."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    _hours: dict[str, datetime | None] = field(default_factory=dict)

    def _hour(self, prefix: str) -> datetime | None:
        """"Nov 28 09" -> that local hour in UTC (a local time zone's offset changes on the hour)."""
        try:
            local = datetime(self.now.year, _MONTHS[prefix[:3]], int(prefix[4:6]), int(prefix[7:9]))
            when = local.astimezone(UTC).replace(tzinfo=None)
            if (when - self.now).days >= 1:
                when = local.replace(year=local.year - 1).astimezone(UTC).replace(tzinfo=None)
        except (KeyError, ValueError, OverflowError):
            return None
        return when

    def bsd(self, stamp: str) -> datetime | None:
        prefix = stamp[:9]
        if prefix in self._hours:
            hour = self._hours[prefix]
        else:
            hour = self._hour(prefix)
            if len(self._hours) > 10_000:
                self._hours.clear()
            self._hours[prefix] = hour
        if hour is None:
            return None
        minutes, seconds = int(stamp[10:12]), int(stamp[13:15])
        if minutes > 59 or seconds > 60:
            return None
        return hour + timedelta(minutes=minutes, seconds=min(seconds, 59))

    @staticmethod
    def iso(stamp: str) -> datetime | None:
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            return None
        if when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
        return when


def _address(value: str) -> str:
    return clean(value.strip().strip("<>").lower(), LIMITS["address"])


def _fields(head: str) -> dict[str, str]:
    """"to=<a>, orig_to=<b>, relay=x[1.2.3.4]:25, delay=1.2" -> a dict (first occurrence wins)."""
    out: dict[str, str] = {}
    for part in head.split(", "):
        key, sep, value = part.partition("=")
        if sep and key not in out:
            out[key] = value
    return out


def _number(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 15:
        return None
    return int(value)


def _float(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None and len(value) < 20 else None
    except ValueError:
        return None
    return number if number is not None and 0 <= number < 1e9 else None


def parse_line(line: str, clock: Clock) -> Entry | None:
    """The step a log line records, or None (not Postfix, no queue id, or nothing tracking keeps)."""
    found = _LINE.match(line)
    if found is None:
        return None
    stamp = found.group("bsd")
    at = clock.bsd(stamp) if stamp is not None else clock.iso(found.group("iso"))
    if at is None:
        return None
    daemon = found.group("prog").rsplit("/", 1)[1]
    qid, rest = found.group("qid"), found.group("rest").rstrip("\r\n")
    if daemon in DELIVERY_AGENTS and rest.startswith("to=<"):
        head, sep, tail = rest.partition(", status=")
        if not sep:
            return None
        status, _, answer = tail.partition(" ")
        if status not in STATUSES:
            return None
        values = _fields(head)
        answer = answer.strip()
        if answer.startswith("(") and answer.endswith(")"):
            answer = answer[1:-1]
        return Entry(at, qid, "delivery", recipient=_address(values.get("to", "")),
                     relay=clean(values.get("relay", ""), LIMITS["relay"]) or None,
                     dsn=clean(values.get("dsn", ""), LIMITS["dsn"]) or None, status=status,
                     delay=_float(values.get("delay")), text=clean(answer, LIMITS["text"]) or None)
    if daemon == "qmgr":
        if rest == "removed":
            return Entry(at, qid, "removed")
        if rest.startswith("from=<"):
            values = _fields(rest)
            sender = _address(values.get("from", "").split(" ", 1)[0])
            if values.get("status", "").startswith("expired"):
                return Entry(at, qid, "expired", sender=sender, status="expired",
                             text=clean(values["status"][len("expired"):].strip(", "), LIMITS["text"]) or None)
            nrcpt = values.get("nrcpt", "").split(" ", 1)[0]
            return Entry(at, qid, "queued", sender=sender, size=_number(values.get("size")), nrcpt=_number(nrcpt))
        return None
    if daemon == "cleanup":
        if rest.startswith("message-id="):
            return Entry(at, qid, "cleanup", message_id=clean(rest[len("message-id="):].strip().strip("<>"),
                                                              LIMITS["message_id"]) or None)
        action, sep, text = rest.partition(": ")
        if sep and action in CLEANUP_ACTIONS:
            return Entry(at, qid, "filter", status=action, text=clean(text, LIMITS["text"]))
        return None
    if daemon in ("smtpd", "pickup", "qmqpd"):
        if rest.startswith("client="):
            return Entry(at, qid, "received", client=clean(rest[7:].split(", ", 1)[0], LIMITS["client"]))
        if rest.startswith("uid="):
            values = _fields(rest.replace(" from=", ", from=", 1))
            return Entry(at, qid, "received", client="local", sender=_address(values.get("from", "")))
        if rest.startswith("reject: "):
            return Entry(at, qid, "filter", status="reject", text=clean(rest[8:], LIMITS["text"]))
        return None
    if daemon == "bounce":
        return Entry(at, qid, "notice", text=clean(rest, LIMITS["text"]))
    if daemon == "postsuper":
        kind = {"removed": "removed", "placed on hold": "hold", "released from hold": "released",
                "requeued": "requeued"}.get(rest)
        return Entry(at, qid, kind) if kind else None
    return None


@dataclass(frozen=True)
class Position:
    inode: int | None
    offset: int


@dataclass
class Chunk:
    """What one read took: the lines (complete ones only) between `start` and `end` of the file `inode`."""

    inode: int
    start: int
    end: int
    size: int  # the file's size when read
    lines: list[str]
    more: bool = False  # the read stopped at its bound: complete lines may follow

    @property
    def bytes_read(self) -> int:
        return self.end - self.start


def _rotated_rest(path: str, position: Position) -> str | None:
    """The rotated file (`path.1`, logrotate's and newsyslog's name) when it is the file being read and has lines
    after the position: what the logger wrote between the last read and the rotation."""
    if position.inode is None:
        return None
    try:
        status = os.stat(path + ".1")
    except OSError:
        return None
    return path + ".1" if status.st_ino == position.inode and status.st_size > position.offset else None


def read_chunk(path: str, position: Position, max_bytes: int) -> Chunk:
    """The next complete lines after `position` (at most `max_bytes` bytes). Raises OSError when the file
    cannot be opened. After a rotation, the rest of the old file (`path.1`, same inode) is read first."""
    try:
        current = os.stat(path).st_ino
    except OSError:
        current = None
    if current != position.inode:
        rotated = _rotated_rest(path, position)
        if rotated is not None:
            chunk = _read(rotated, position, max_bytes)
            if chunk.bytes_read:
                chunk.more = True  # the new file follows
                return chunk
    return _read(path, position, max_bytes)


def _read(path: str, position: Position, max_bytes: int) -> Chunk:
    with open(path, "rb") as fh:
        status = os.fstat(fh.fileno())
        start = position.offset
        if position.inode != status.st_ino or status.st_size < start:
            start = 0  # rotated (a new file) or truncated: from the top
        fh.seek(start)
        data = fh.read(max(min(max_bytes, status.st_size - start), 0))
    size = max(status.st_size, start + len(data))
    cut = data.rfind(b"\n")
    if cut < 0:
        # no complete line: wait for the rest, unless the line alone is longer than a read (skip it whole)
        end = start + len(data) if len(data) >= max_bytes else start
        return Chunk(status.st_ino, start, end, size, [], end < size)
    text = data[:cut].decode("utf-8", errors="replace")
    end = start + cut + 1
    return Chunk(status.st_ino, start, end, size, text.split("\n"), len(data) >= max_bytes and end < size)


def parse(lines: list[str], clock: Clock) -> list[Entry]:
    entries = []
    for line in lines:
        entry = parse_line(line, clock)
        if entry is not None:
            entries.append(entry)
    return entries
