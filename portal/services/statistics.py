"""Statistics (issue 15): daily aggregates per domain, and what the dashboard and the API read of them.

- Events are counted as they happen, by the service that does them, in the same transaction as the event:
  `count(domain_id, kind, …)` is an upsert (INSERT … ON CONFLICT DO UPDATE count = count + n, PostgreSQL and
  SQLite alike), so concurrent events add up. A release is counted with its delivery record (the claim turned
  `delivered`), so a release tried again, which finds the record, is not counted twice.
- Held mail is counted from the stores by a daily job (`collect`): each mailbox's quarantine for one day, by
  `X-Quarantine-Reason`. Collecting a day again replaces that day's held rows (idempotent). A store that
  fails is logged and skipped; the job says which.
- Only the busiest POSTERN_STATS_TOP_SENDERS senders per domain, day and kind are kept (the job trims).
- Rows older than POSTERN_STATS_RETENTION_DAYS are deleted by `purge`.
- Who sees what: the domains on which the principal holds QUARANTINE_READ (a domain admin: its domains);
  one scope clause restricts every query.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..clock import utcnow
from ..errors import Forbidden, Invalid, NotFound, ServiceError
from ..extensions import db
from ..integrations.mailstore import Search
from ..models import Domain, MailUser, StatCount, StatSender
from ..permissions import ObjectType, Permission
from ..words import Message, _l, value_label
from . import mailboxes
from .principal import Principal, Scope

log = logging.getLogger(__name__)

HELD, RELEASED, DELETED, RULE_ADDED, DIGEST_SENT = "held", "released", "deleted", "rule_added", "digest_sent"
KINDS = (HELD, RELEASED, DELETED, RULE_ADDED, DIGEST_SENT)
REASONS = mailboxes.REASONS
OTHER = "OTHER"  # a reason the data-plane contract does not name, or none
DEFAULT_DAYS = 30
MAX_DAYS = 400  # the widest range a page or the API may ask for
TOP = 10  # senders and domains the dashboard lists
MAX_HELD_PER_MAILBOX = 100_000  # messages one mailbox's day is read for


def reason_of(value: str | None) -> str:
    reason = (value or "").strip().upper()
    return reason if reason in REASONS else OTHER


def _insert(dialect_name: str) -> Any:
    return (sqlite if dialect_name == "sqlite" else postgresql).insert


def _upsert(on: Any, table: Any, keys: list[str], values: dict[str, Any]) -> None:
    """The one upsert: add `values["count"]` to the row named by `keys`, or create it."""
    insert = _insert(on.get_bind().dialect.name if hasattr(on, "get_bind") else on.dialect.name)
    stmt = insert(table).values(**values)
    on.execute(stmt.on_conflict_do_update(index_elements=keys, set_={"count": table.c.count + stmt.excluded.count}))


def count(domain_id: int, kind: str, key: str = "", *, sender: str | None = None, n: int = 1,
          day: date | None = None, on: Any = None) -> None:
    """Count `n` events of `kind` for a domain today, in the caller's transaction (`on`: a connection of its
    own, else the session). `sender`: also counted among the day's senders of that kind."""
    if n <= 0:
        return
    on = on if on is not None else db.session
    day = day or utcnow().date()
    _upsert(on, StatCount.__table__, ["domain_id", "day", "kind", "key"],
            {"domain_id": domain_id, "day": day, "kind": kind, "key": key[:32], "count": n})
    if sender:
        _upsert(on, StatSender.__table__, ["domain_id", "day", "kind", "sender"],
                {"domain_id": domain_id, "day": day, "kind": kind, "sender": sender.strip().lower()[:254],
                 "count": n})


# --- collection (the daily job) -------------------------------------------------------------------------------

@dataclass
class Collected:
    held: int = 0
    mailboxes: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # mailbox -> why its store failed


def _held_in(user: MailUser, day: date) -> tuple[Counter[str], Counter[str]]:
    """One mailbox's quarantine on `day`: counts by reason and by sender."""
    after = datetime.combine(day, time())
    with mailboxes.store_for(user) as store:
        if not store.is_folder(mailboxes.QUARANTINE):
            return Counter(), Counter()
        summaries, _total = store.messages(mailboxes.QUARANTINE,
                                           Search(received_after=after, received_before=after + timedelta(days=1)),
                                           "receivedDate", 0, MAX_HELD_PER_MAILBOX)
    reasons = Counter(reason_of(s.headers.get("X-Quarantine-Reason")) for s in summaries)
    senders = Counter(s.sender.strip().lower()[:254] for s in summaries if s.sender.strip())
    return reasons, senders


def top_senders() -> int:
    return int(current_app.config["STATS_TOP_SENDERS"])


def collect(domain_id: int, day: date) -> Collected:
    """Count one domain's held mail of `day` from each mailbox's store, replacing what was counted before;
    trim the day's released senders to the busiest. A failing store is logged and skipped."""
    result = Collected()
    reasons: Counter[str] = Counter()
    senders: Counter[str] = Counter()
    users = db.session.scalars(select(MailUser).where(MailUser.domain_id == domain_id, MailUser.status == "ENABLED")
                               .order_by(MailUser.id))
    for user in users:
        try:
            by_reason, by_sender = _held_in(user, day)
        except (ServiceError, OSError) as error:
            why = getattr(error, "detail", None) or str(error)
            log.warning("statistics: the store of %s failed, skipped: %s", user.email, why)
            result.failed[user.email] = str(why)
            continue
        result.mailboxes += 1
        reasons.update(by_reason)
        senders.update(by_sender)
    db.session.execute(delete(StatCount).where(StatCount.domain_id == domain_id, StatCount.day == day,
                                               StatCount.kind == HELD))
    db.session.execute(delete(StatSender).where(StatSender.domain_id == domain_id, StatSender.day == day,
                                                StatSender.kind == HELD))
    if reasons:
        db.session.execute(StatCount.__table__.insert(), [
            {"domain_id": domain_id, "day": day, "kind": HELD, "key": k, "count": v} for k, v in reasons.items()])
    keep = top_senders()
    if senders and keep > 0:
        db.session.execute(StatSender.__table__.insert(), [
            {"domain_id": domain_id, "day": day, "kind": HELD, "sender": s, "count": v}
            for s, v in senders.most_common(keep)])
    _trim_senders(domain_id, day, RELEASED, keep)
    result.held = sum(reasons.values())
    return result


def _trim_senders(domain_id: int, day: date, kind: str, keep: int) -> None:
    where = and_(StatSender.domain_id == domain_id, StatSender.day == day, StatSender.kind == kind)
    kept = select(StatSender.id).where(where).order_by(StatSender.count.desc(), StatSender.sender).limit(keep)
    db.session.execute(delete(StatSender).where(where, StatSender.id.not_in(kept.scalar_subquery()))
                       .execution_options(synchronize_session=False))


def domain_ids() -> list[int]:
    return list(db.session.scalars(select(Domain.id).where(Domain.status == "ENABLED").order_by(Domain.id)))


def purge(today: date | None = None) -> int:
    """Delete the rows older than the retention; returns how many went."""
    limit = (today or utcnow().date()) - timedelta(days=int(current_app.config["STATS_RETENTION_DAYS"]))
    gone = db.session.execute(delete(StatCount).where(StatCount.day < limit)).rowcount  # type: ignore[attr-defined]
    gone += db.session.execute(delete(StatSender).where(StatSender.day < limit)).rowcount  # type: ignore[attr-defined]
    return int(gone)


# --- reading ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Range:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def _parse_day(value: str, field_name: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as error:
        raise Invalid.on(field_name, _l("Give a date as YYYY-MM-DD.")) from error


def date_range(start: str | None, end: str | None, *, today: date | None = None,
               names: tuple[str, str] = ("from", "to")) -> Range:
    """The range asked for (default: the last DEFAULT_DAYS days), validated: from ≤ to, at most MAX_DAYS days,
    not in the future. Errors name the field."""
    today = today or utcnow().date()
    last = _parse_day(end, names[1]) if end and end.strip() else today
    first = _parse_day(start, names[0]) if start and start.strip() else max(
        date.min, last - timedelta(days=min(DEFAULT_DAYS - 1, (last - date.min).days)))
    if last > today:
        raise Invalid.on(names[1], _l("The end of the range cannot be in the future."))
    if first > last:
        raise Invalid.on(names[0], _l("The start of the range must not be after its end."))
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid.on(names[0], _l("Choose a range of at most %(num)d days.", num=MAX_DAYS))
    return Range(first, last)


@dataclass
class Statistics:
    range: Range
    held: dict[date, dict[str, int]]  # day -> reason -> count
    reasons: list[str]  # the reasons that occur, in the contract's order
    released: dict[date, int]
    totals: dict[str, int]  # kind -> count over the range
    top_held: list[tuple[str, int]]
    top_released: list[tuple[str, int]]
    top_domains: list[tuple[int, str, int]]  # (domain id, name, held)

    def held_on(self, day: date) -> int:
        return sum(self.held.get(day, {}).values())


def _scope(principal: Principal) -> Scope:
    if principal.admin is None:
        raise Forbidden(_l("This action is for administrators."))
    return principal.scope(Permission.QUARANTINE_READ)


def _domains(principal: Principal, domain_id: int | None) -> Select[tuple[int]]:
    """The domains whose numbers the principal sees (QUARANTINE_READ), or the one asked for (404 if unseen)."""
    scope = _scope(principal)
    query = select(Domain.id).where(scope.domain_clause())
    if domain_id is not None:
        if not scope.covers(ObjectType.DOMAIN, domain_id) or db.session.get(Domain, domain_id) is None:
            raise NotFound(_l("Domain not found with given id."))
        query = select(Domain.id).where(Domain.id == domain_id)
    return query


MAX_CHOICES = 500  # domains a page offers to choose from (more: the whole scope only, or the API)


def choices(principal: Principal) -> list[tuple[int, str]]:
    """The domains of the principal's statistics scope, by name (none past MAX_CHOICES: too many to list)."""
    rows = list(db.session.execute(select(Domain.id, Domain.name).where(_scope(principal).domain_clause())
                                   .order_by(Domain.name).limit(MAX_CHOICES + 1)))
    return [] if len(rows) > MAX_CHOICES else [(int(i), str(n)) for i, n in rows]


def may_see(principal: Principal) -> bool:
    return principal.admin is not None and principal.holds_anywhere(Permission.QUARANTINE_READ)


def read(principal: Principal, span: Range, domain_id: int | None = None) -> Statistics:
    """The numbers of the range over the principal's scope (or one domain of it)."""
    scope = _domains(principal, domain_id).scalar_subquery()
    in_range = and_(StatCount.domain_id.in_(scope), StatCount.day >= span.start, StatCount.day <= span.end)
    held: dict[date, dict[str, int]] = {}
    released: dict[date, int] = {}
    totals = dict.fromkeys(KINDS, 0)
    seen_reasons: set[str] = set()
    rows = db.session.execute(select(StatCount.day, StatCount.kind, StatCount.key, func.sum(StatCount.count))
                              .where(in_range).group_by(StatCount.day, StatCount.kind, StatCount.key))
    for day, kind, key, total in rows:
        total = int(total or 0)
        totals[kind] = totals.get(kind, 0) + total
        if kind == HELD:
            held.setdefault(day, {})[key] = held.get(day, {}).get(key, 0) + total
            seen_reasons.add(key)
        elif kind == RELEASED:
            released[day] = released.get(day, 0) + total

    def senders(kind: str) -> list[tuple[str, int]]:
        total = func.sum(StatSender.count)
        return [(s, int(n)) for s, n in db.session.execute(
            select(StatSender.sender, total).where(
                StatSender.domain_id.in_(scope), StatSender.kind == kind, StatSender.day >= span.start,
                StatSender.day <= span.end).group_by(StatSender.sender).order_by(total.desc(), StatSender.sender)
            .limit(TOP))]

    held_total = func.sum(StatCount.count)
    top_domains = [(i, name, int(n)) for i, name, n in db.session.execute(
        select(Domain.id, Domain.name, held_total).join(Domain, Domain.id == StatCount.domain_id)
        .where(in_range, StatCount.kind == HELD).group_by(Domain.id, Domain.name)
        .order_by(held_total.desc(), Domain.name).limit(TOP))]
    order = [r for r in (*REASONS, OTHER) if r in seen_reasons]
    return Statistics(span, held, order, released, totals, senders(HELD), senders(RELEASED), top_domains)


OTHER_WORDS = _l("other reason")


def reason_words(reason: str) -> object:
    """A reason in words (a Jinja filter's way: lazy, in the reader's language)."""
    return OTHER_WORDS if reason == OTHER else value_label(reason)


KIND_WORDS: dict[str, Message] = {
    HELD: _l("Held"), RELEASED: _l("Released"), DELETED: _l("Deleted"), RULE_ADDED: _l("Rules added"),
    DIGEST_SENT: _l("Digests sent"),
}
