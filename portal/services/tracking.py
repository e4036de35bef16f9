"""Message tracking (issue 17, item 5): the Postfix log (POSTERN_MAIL_LOG) indexed, and searched by sender,
recipient, queue id or Message-ID over a time range; each message with its path (received, filtered, queued,
delivered / deferred / bounced with the remote server's answer).

- Who searches: the mail queue's operators (`mailqueue.require`: sysadmins, or QUEUE_MANAGE on a broker): the log
  holds every tenant's mail, like the queue.
- A message is a queue id from its first step to `removed` (Postfix re-uses ids); a second "received" for an open
  queue id also starts a new message (the old one's end was not logged).
- Indexing (`index_mail_log`) takes one bounded chunk of complete lines after the file's stored position. The
  position row is the claim: it is locked (`SELECT ... FOR UPDATE`) and its offset moves by a conditional UPDATE
  from the value read, before any row is written; so two indexers never index the same bytes (the second waits,
  then reads on from where the first stopped; on SQLite the database's write lock serializes them). The caller
  (the job) commits after each chunk.
- A search always covers a range (default: the last 24 hours; at most MAX_DAYS days); the filters apply together;
  sender and recipient take the house wildcards (exact, `prefix*`, `*suffix`, `*contains*`; `<>`: the null sender).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, and_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..clock import utcnow
from ..errors import FieldError, Invalid, Unavailable
from ..extensions import db
from ..integrations import maillog
from ..integrations.postfix import valid_id
from ..models import LogPosition, TrackedMessage, TrackingEvent
from ..words import _l
from .mailqueue import allowed, require
from .principal import Principal

__all__ = ["FILTERS", "MAX_DAYS", "IndexResult", "Query", "SearchPage", "Tracked", "allowed", "index_mail_log",
           "parse_query", "require", "search"]

FILTERS = ("sender", "recipient", "queueId", "messageId", "start", "end")
MAX_DAYS = 31
DEFAULT_RANGE = timedelta(days=1)
_IN_BATCH = 500  # queue ids per lookup of open messages


# --- indexing --------------------------------------------------------------------------------------------------

@dataclass
class IndexResult:
    bytes_read: int = 0
    entries: int = 0
    messages: int = 0  # new messages
    more: bool = False  # the log has more after this chunk


@dataclass
class _Message:
    id: int | None
    queue_id: str
    received_at: datetime
    last_at: datetime
    sender: str | None = None
    message_id: str | None = None
    client: str | None = None
    size: int | None = None
    nrcpt: int | None = None
    status: str | None = None
    closed: bool = False
    dirty: bool = False
    events: list[tuple[Any, ...]] = field(default_factory=list)  # in _EVENT_COLUMNS' order, message_id left out


_COLUMNS = ("sender", "message_id", "client", "size", "nrcpt", "status", "closed", "last_at")


def _position_row(path: str) -> LogPosition:
    """The file's position row, locked for this transaction (made the first time, race-safe)."""
    row = db.session.scalars(select(LogPosition).where(LogPosition.path == path).with_for_update()).one_or_none()
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(LogPosition(path=path, inode=None, offset=0))
        except IntegrityError:
            pass  # another indexer made it meanwhile
        row = db.session.scalars(select(LogPosition).where(LogPosition.path == path).with_for_update()
                                 .execution_options(populate_existing=True)).one()
    return row


def _open_messages(queue_ids: list[str]) -> dict[str, _Message]:
    found: dict[str, _Message] = {}
    t = TrackedMessage.__table__
    for start in range(0, len(queue_ids), _IN_BATCH):
        batch = queue_ids[start:start + _IN_BATCH]
        for row in db.session.execute(select(t).where(t.c.queue_id.in_(batch), t.c.closed.is_(False))):
            found[row.queue_id] = _Message(row.id, row.queue_id, row.received_at, row.last_at, row.sender,
                                           row.message_id, row.client, row.size, row.nrcpt, row.status)
    return found


def _apply(message: _Message, entry: maillog.Entry) -> None:
    message.last_at = max(message.last_at, entry.at)
    message.dirty = True
    if entry.sender is not None and (message.sender is None or entry.kind == "queued"):
        message.sender = entry.sender
    if entry.client is not None:
        message.client = entry.client
    if entry.message_id is not None:
        message.message_id = entry.message_id
    if entry.size is not None:
        message.size = entry.size
    if entry.nrcpt is not None:
        message.nrcpt = entry.nrcpt
    if entry.kind in ("delivery", "expired") or (entry.kind == "filter" and entry.status in ("reject", "discard")):
        message.status = entry.status
    if entry.kind == "removed":
        message.closed = True
    message.events.append((entry.at, entry.kind, entry.recipient, entry.relay, entry.dsn, entry.status, entry.delay,
                           entry.text))


def _store(entries: list[maillog.Entry]) -> int:
    """Attach the entries to their messages (open ones from the database, or new ones) and write them in bulk."""
    open_ = _open_messages(sorted({e.queue_id for e in entries}))
    touched: list[_Message] = list(open_.values())
    for entry in entries:
        message = open_.get(entry.queue_id)
        if message is not None and entry.kind == "received" and message.client is not None:
            message.closed = message.dirty = True  # received twice: its "removed" was never logged (lost lines)
            message = None
        if message is None:
            message = _Message(None, entry.queue_id, entry.at, entry.at)
            open_[entry.queue_id] = message
            touched.append(message)
        _apply(message, entry)
        if message.closed:
            del open_[entry.queue_id]  # the queue id may come back as another message
    new = [m for m in touched if m.id is None]
    changed = [m for m in touched if m.id is not None and m.dirty]
    t = TrackedMessage.__table__
    if new:
        # RETURNING in any order (ordered, SQLite would insert row by row): matched back by queue id and time;
        # two new messages alike in both (a hostile log) are interchangeable
        waiting: dict[tuple[str, datetime], list[_Message]] = {}
        for message in new:
            waiting.setdefault((message.queue_id, message.received_at), []).append(message)
        for new_id, queue_id, received_at in db.session.execute(
                insert(t).returning(t.c.id, t.c.queue_id, t.c.received_at),
                [{"queue_id": m.queue_id, "received_at": m.received_at, **{c: getattr(m, c) for c in _COLUMNS}}
                 for m in new]):
            waiting[(queue_id, received_at)].pop().id = new_id
    if changed:
        db.session.execute(update(t).where(t.c.id == _bind("pk")).values({c: _bind(c) for c in _COLUMNS}),
                           [{"b_pk": m.id, **{"b_" + c: getattr(m, c) for c in _COLUMNS}} for m in changed])
    _insert_events([(m.id, *event) for m in touched for event in m.events])
    return len(new)


_EVENT_COLUMNS = ("message_id", "at", "kind", "recipient", "relay", "dsn", "status", "delay", "text")


def _insert_events(rows: list[tuple[Any, ...]]) -> None:
    """The bulk of the rows (several per message), straight to the driver's executemany: SQLAlchemy's per-row
    parameter processing would be a third of the indexing time. Times go in SQLAlchemy's own SQLite format, so
    what it reads and compares stays the same."""
    if not rows:
        return
    connection = db.session.connection()
    names = ", ".join(_EVENT_COLUMNS)
    if connection.dialect.name == "sqlite":
        marks = ", ".join("?" * len(_EVENT_COLUMNS))
        texts: dict[datetime, str] = {}  # stamps repeat: each formatted once
        for at in {r[1] for r in rows}:
            texts[at] = at.isoformat(" ", "microseconds")
        rows = [(r[0], texts[r[1]], *r[2:]) for r in rows]
    elif connection.dialect.driver in ("psycopg", "psycopg2"):
        marks = ", ".join(["%s"] * len(_EVENT_COLUMNS))
    else:
        db.session.execute(insert(TrackingEvent.__table__), [dict(zip(_EVENT_COLUMNS, r, strict=True)) for r in rows])
        return
    connection.exec_driver_sql(f"INSERT INTO tracking_events ({names}) VALUES ({marks})", rows)


def _bind(name: str) -> Any:
    return bindparam("b_" + name)  # not a column's name: those are reserved for the SET clause


def index_mail_log(max_bytes: int | None = None, now: datetime | None = None) -> IndexResult:
    """Index the next chunk of POSTERN_MAIL_LOG (nothing when unset). The caller commits."""
    config = current_app.config
    path = config.get("MAIL_LOG")
    if not path:
        return IndexResult()
    row = _position_row(path)
    inode, offset = row.inode, row.offset
    try:
        chunk = maillog.read_chunk(path, maillog.Position(inode, offset), max_bytes or config["MAIL_LOG_CHUNK_BYTES"])
    except OSError as error:
        raise Unavailable(_l("The mail log cannot be read: %(error)s", error=error.strerror or str(error))) from error
    if chunk.end == offset and chunk.inode == inode:
        return IndexResult(more=chunk.more)
    moved = db.session.execute(
        update(LogPosition).where(LogPosition.id == row.id, LogPosition.offset == offset,
                                  LogPosition.inode.is_(None) if inode is None else LogPosition.inode == inode)
        .values(inode=chunk.inode, offset=chunk.end, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    if moved.rowcount != 1:  # type: ignore[attr-defined]  (another indexer took these bytes)
        return IndexResult()
    clock = maillog.Clock(now) if now is not None else maillog.Clock()
    entries = maillog.parse(chunk.lines, clock)
    created = _store(entries) if entries else 0
    return IndexResult(chunk.bytes_read, len(entries), created, chunk.more)


# --- searching -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    start: datetime
    end: datetime
    sender: str | None = None
    recipient: str | None = None
    queue_id: str | None = None
    message_id: str | None = None

    @property
    def args(self) -> dict[str, str]:
        """The query as URL parameters (the page's links)."""
        values = {"sender": self.sender, "recipient": self.recipient, "queueId": self.queue_id,
                  "messageId": self.message_id, "start": _iso(self.start), "end": _iso(self.end)}
        return {k: v for k, v in values.items() if v is not None}


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")


_DIGITS = re.compile(r"\A-?\d{1,15}\Z")


def _time(raw: str) -> datetime:
    """Epoch milliseconds, or ISO 8601 (a date, or a date and time; without an offset: UTC)."""
    if _DIGITS.match(raw):
        value = datetime.fromtimestamp(int(raw) / 1000, UTC)
    else:
        value = datetime.fromisoformat(raw.replace(" ", "T", 1) if len(raw) > 10 else raw)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(tzinfo=None)


def parse_query(args: Mapping[str, str], now: datetime | None = None) -> Query:
    """The search from request parameters; every bad one named in a 400 (Invalid)."""
    errors: list[FieldError] = []
    values: dict[str, str | None] = {}
    for name in FILTERS:
        raw = (args.get(name) or "").strip()
        if len(raw) > 255 or any(ord(c) < 32 or ord(c) == 127 for c in raw):
            errors.append(FieldError(name, _l("Must be at most 255 printable characters.")))
            raw = ""
        values[name] = raw or None
    times: dict[str, datetime | None] = {"start": None, "end": None}
    for name in times:
        raw = values[name]
        if raw is not None:
            try:
                times[name] = _time(raw)
            except (ValueError, OverflowError, OSError):
                errors.append(FieldError(name, _l("Give a date and time (ISO 8601) or epoch milliseconds.")))
    queue_id = values["queueId"]
    if queue_id is not None and not valid_id(queue_id):
        errors.append(FieldError("queueId", _l("Not a Postfix queue id: %(id)s", id=queue_id[:40])))
    message_id = values["messageId"].strip("<>") if values["messageId"] else None
    end = times["end"] or (now or utcnow())
    start = times["start"] or end - DEFAULT_RANGE
    if not any(e.field in ("start", "end") for e in errors):
        if start >= end:
            errors.append(FieldError("start", _l("The start must be before the end.")))
        elif end - start > timedelta(days=MAX_DAYS):
            errors.append(FieldError("start", _l("The range may cover at most %(days)d days.", days=MAX_DAYS)))
    if errors:
        raise Invalid(_l("Invalid search."), errors)
    sender = values["sender"]
    return Query(start=start, end=end, sender="" if sender == "<>" else sender, recipient=values["recipient"],
                 queue_id=queue_id, message_id=message_id or None)


def _wildcard(column: Any, value: str) -> ColumnElement[bool]:
    """The house wildcards over a column stored lower-case: exact, `prefix*`, `*suffix`, `*contains*`."""
    starts, ends = value.startswith("*"), value.endswith("*") and len(value) > 1
    core = value.strip("*").lower()
    if not starts and not ends:
        return column == core
    escaped = core.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(("%" if starts else "") + escaped + ("%" if ends else ""), escape="\\")


@dataclass
class Tracked:
    message: TrackedMessage
    events: list[TrackingEvent]


@dataclass
class SearchPage:
    rows: list[Tracked]
    total: int


def search(principal: Principal, query: Query, offset: int = 0, limit: int = 40) -> SearchPage:
    """The messages first seen in the range that match every filter, newest first, each with its steps."""
    require(principal)
    m = TrackedMessage
    conditions: list[ColumnElement[bool]] = [m.received_at >= query.start, m.received_at < query.end]
    if query.queue_id is not None:
        conditions.append(m.queue_id == query.queue_id)
    if query.message_id is not None:
        conditions.append(m.message_id == query.message_id)
    if query.sender is not None:
        conditions.append(_wildcard(m.sender, query.sender) if query.sender else m.sender == "")
    if query.recipient is not None:
        e = TrackingEvent
        conditions.append(m.id.in_(select(e.message_id).where(_wildcard(e.recipient, query.recipient),
                                                                e.at >= query.start)))
    where = and_(*conditions)
    total = db.session.scalar(select(func.count()).select_from(m).where(where)) or 0
    messages = list(db.session.scalars(select(m).where(where).order_by(m.received_at.desc(), m.id.desc())
                                       .offset(offset).limit(limit)))
    events: dict[int, list[TrackingEvent]] = {message.id: [] for message in messages}
    if messages:
        for event in db.session.scalars(select(TrackingEvent).where(TrackingEvent.message_id.in_(list(events)))
                                        .order_by(TrackingEvent.at, TrackingEvent.id)):
            events[event.message_id].append(event)
    return SearchPage([Tracked(message, events[message.id]) for message in messages], total)
