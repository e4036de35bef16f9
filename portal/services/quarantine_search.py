"""Domain-wide quarantine search (issue 15): an administrator with QUARANTINE_READ finds held messages across
every mailbox of a domain, or of their whole scope.

- `start` checks the criteria (at least one besides the dates, a date range of at most POSTERN_QSEARCH_MAX_DAYS;
  none given: the last 30 days), counts the mailboxes in the principal's QUARANTINE_READ scope (one query over
  MailUser: a domain admin never reaches another domain's mailbox) and asks for the `quarantine_search` job.
- `run` (the job) lists those mailboxes again with the admin's permissions of that moment and searches them
  POSTERN_QSEARCH_CONCURRENCY at a time, each on a store connection of its own with one deadline for the
  whole mailbox (POSTERN_QSEARCH_MAILBOX_TIMEOUT). The finished mailboxes' hits, failures and progress are
  committed apart as they come (`apart`: the first hit at once, then every WRITE_EVERY seconds), so the page
  shows the first hits while the search runs; the state is read at each of those writes, and a cancelled
  search asks for no further mailbox. A store that fails is named with
  why, and the search goes on. Hits are capped (POSTERN_QSEARCH_MAX_HITS in all, POSTERN_QSEARCH_MAILBOX_HITS
  per mailbox): `truncated` says so.
- A search is the starting admin's only (others get 404); it expires after POSTERN_QSEARCH_KEEP_SECONDS and
  `purge_expired` deletes it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, insert, select, update

from .. import ids, outbox
from ..clock import from_ms, to_ms, utcnow
from ..errors import FieldError, Forbidden, Invalid, NotFound, ServiceError, Unprocessable
from ..extensions import db
from ..integrations.mailstore import MailStore, Search, Summary
from ..models import Admin, Domain, MailUser, QuarantineSearch, QuarantineSearchFailure, QuarantineSearchHit
from ..models.qsearch import CANCELLED, DONE, RUNNING
from ..permissions import Permission
from ..unit_of_work import apart
from ..words import _l, english
from . import mailboxes
from .principal import Principal, principal_for_admin

log = logging.getLogger(__name__)

TEXT_FIELDS = ("sender", "recipient", "subject", "messageId", "fugluId")
DEFAULT_DAYS = 30  # the range searched when no date is given
EPOCH = datetime(1970, 1, 1)
WRITE_EVERY = 0.25  # seconds between the progress writes (the first hit is written at once)


@dataclass(frozen=True)
class Criteria:
    """What a search looks for, checked; stored as JSON on the search (dates as epoch ms)."""

    received_after: datetime
    received_before: datetime
    sender: str | None = None
    recipient: str | None = None
    subject: str | None = None
    message_id: str | None = None
    fuglu_id: str | None = None
    reason: str | None = None

    def wire(self) -> dict[str, Any]:
        return {"sender": self.sender, "recipient": self.recipient, "subject": self.subject,
                "messageId": self.message_id, "fugluId": self.fuglu_id, "reason": self.reason,
                "receivedAfter": to_ms(self.received_after), "receivedBefore": to_ms(self.received_before)}

    def search(self) -> Search:
        """The store's search: every criterion ANDed, the reason a filter, SINCE/BEFORE on the arrival day (the
        stores compare days: an end within a day takes that whole day in)."""
        before = self.received_before
        midnight = before.replace(hour=0, minute=0, second=0, microsecond=0)
        return Search(received_after=self.received_after,
                      received_before=midnight if before == midnight else midnight + timedelta(days=1),
                      sender=self.sender, to=self.recipient, subject=self.subject, message_id=self.message_id,
                      fuglu_id=self.fuglu_id, reason=self.reason)


def criteria_from(values: Mapping[str, Any]) -> Criteria:
    """The criteria of a request (API body or page form, the API's names); bad values are a 400 naming them,
    a search with no criterion or a range wider than POSTERN_QSEARCH_MAX_DAYS a 422."""
    errors: list[FieldError] = []
    texts: dict[str, str | None] = {}
    for name in TEXT_FIELDS:
        value = values.get(name)
        if value is not None and not isinstance(value, str):
            errors.append(FieldError(name, _l("Must be at most 255 printable characters.")))
            value = None
        value = (value or "").strip() or None
        if value is not None and (len(value) > 255 or any(ord(c) < 32 or ord(c) == 127 for c in value)):
            errors.append(FieldError(name, _l("Must be at most 255 printable characters.")))
        texts[name] = value
    reason = values.get("reason")
    reason = reason.strip().upper() or None if isinstance(reason, str) else None if reason is None else "?"
    if reason is not None and reason not in mailboxes.REASONS:
        errors.append(FieldError("reason", _l("Must be one of: %(choices)s.", choices=", ".join(mailboxes.REASONS))))
    dates: dict[str, datetime | None] = {}
    for name in ("receivedAfter", "receivedBefore"):
        raw, dates[name] = values.get(name), None
        if raw is None or raw == "":
            continue
        try:
            if isinstance(raw, bool) or not isinstance(raw, int | str):
                raise ValueError
            dates[name] = from_ms(int(raw))
        except (ValueError, OverflowError, OSError):
            errors.append(FieldError(name, _l("Give a date in epoch milliseconds.")))
    if errors:
        raise Invalid(_l("Invalid search."), errors)
    if not any(texts.values()) and reason is None:
        raise Unprocessable(_l("Give at least one criterion: sender, recipient, subject, Message-ID, "
                               "quarantine id or reason."),
                            [FieldError("sender", _l("Give at least one criterion."))])
    now = utcnow()
    before = dates["receivedBefore"] or now
    after = dates["receivedAfter"] or max(before - timedelta(days=DEFAULT_DAYS), EPOCH)
    widest = int(current_app.config["QSEARCH_MAX_DAYS"])
    if after >= before:
        raise Unprocessable(_l("The start of the date range must come before its end."),
                            [FieldError("receivedAfter", _l("Must come before the end of the range."))])
    if before - after > timedelta(days=widest):
        raise Unprocessable(_l("The date range is too wide: search at most %(days)s days at once.", days=widest),
                            [FieldError("receivedAfter", _l("At most %(days)s days before the end.", days=widest))])
    return Criteria(received_after=after, received_before=before, sender=texts["sender"],
                    recipient=texts["recipient"], subject=texts["subject"], message_id=texts["messageId"],
                    fuglu_id=texts["fugluId"], reason=reason)


def stored_criteria(search: QuarantineSearch) -> Criteria:
    c = search.criteria
    return Criteria(received_after=from_ms(c["receivedAfter"]), received_before=from_ms(c["receivedBefore"]),
                    sender=c.get("sender"), recipient=c.get("recipient"), subject=c.get("subject"),
                    message_id=c.get("messageId"), fuglu_id=c.get("fugluId"), reason=c.get("reason"))


# --- which mailboxes ----------------------------------------------------------------------------------

def searchable_domains(principal: Principal) -> list[Domain]:
    """The domains the principal may search (QUARANTINE_READ held on them), by name: the page's choice."""
    principal.require_admin()
    scope = principal.scope(Permission.QUARANTINE_READ)
    return list(db.session.scalars(select(Domain).where(scope.domain_clause(), Domain.status != "DELETED")
                                   .order_by(Domain.name)))


def _mailboxes_query(principal: Principal, domain_id: int | None) -> Any:
    """The one query over MailUser: the mailboxes of the principal's QUARANTINE_READ scope (and `domain_id`)."""
    scope = principal.scope(Permission.QUARANTINE_READ)
    query = (select(MailUser).join(Domain, MailUser.domain_id == Domain.id)
             .where(scope.domain_clause(), Domain.status != "DELETED"))
    if domain_id is not None:
        query = query.where(MailUser.domain_id == domain_id)
    return query


def _domain(principal: Principal, value: Any) -> int | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise Invalid.on("domainId", _l("No such domain."))
    domain_id = ids.in_body(value)
    domain = db.session.get(Domain, domain_id) if domain_id > 0 else None
    if domain is None or domain.status == "DELETED":
        raise Invalid.on("domainId", _l("No such domain."))
    try:
        principal.reach(domain_id, Permission.QUARANTINE_READ, missing=_l("No such domain."),
                        refused=_l("You need the %(permission)s permission on this domain.",
                                   permission=Permission.QUARANTINE_READ))
    except NotFound:
        raise Invalid.on("domainId", _l("No such domain.")) from None
    return domain_id


# --- the API's and the pages' operations ------------------------------------------------------------------

def require_searcher(principal: Principal) -> Admin:
    """An administrator holding QUARANTINE_READ somewhere (403 otherwise): who may search at all."""
    admin = principal.require_admin()
    if not principal.holds_anywhere(Permission.QUARANTINE_READ):
        raise Forbidden(_l("You need the %(permission)s permission.", permission=Permission.QUARANTINE_READ))
    return admin


def start(principal: Principal, values: Mapping[str, Any]) -> QuarantineSearch:
    """A new search of the principal's scope (or of `domainId`), RUNNING; its job runs after the commit."""
    admin = require_searcher(principal)
    domain_id = _domain(principal, values.get("domainId"))
    criteria = criteria_from(values)
    total = db.session.scalar(select(func.count()).select_from(
        _mailboxes_query(principal, domain_id).with_only_columns(MailUser.id).subquery())) or 0
    now = utcnow()
    search = QuarantineSearch(id=secrets.token_urlsafe(16), admin_id=admin.id, criteria=criteria.wire(),
                              domain_id=domain_id, state=RUNNING if total else DONE, mailboxes_total=total,
                              mailboxes_done=0, hits_total=0, truncated=False, created_at=now,
                              finished_at=None if total else now,
                              expires_at=now + timedelta(seconds=int(current_app.config["QSEARCH_KEEP_SECONDS"])))
    db.session.add(search)
    db.session.flush()
    if total:
        outbox.enqueue("quarantine_search", search.id)
    return search


def get(principal: Principal, search_id: str) -> QuarantineSearch:
    """The search, for the admin who started it while it is kept; anyone else: 404."""
    search = db.session.get(QuarantineSearch, search_id) if isinstance(search_id, str) and len(search_id) <= 32 \
        else None
    if (search is None or principal.admin is None or search.admin_id != principal.admin.id
            or search.expires_at <= utcnow()):
        raise NotFound(_l("No such search (searches are kept for a while, then deleted)."))
    return search


def hits(principal: Principal, search_id: str, offset: int, limit: int) -> tuple[list[QuarantineSearchHit], int]:
    """A page of the hits, in the order they were found, and how many there are."""
    search = get(principal, search_id)
    return page_of(search, offset, limit)


def page_of(search: QuarantineSearch, offset: int, limit: int) -> tuple[list[QuarantineSearchHit], int]:
    total = db.session.scalar(select(func.count()).where(QuarantineSearchHit.search_id == search.id)) or 0
    rows = list(db.session.scalars(select(QuarantineSearchHit).where(QuarantineSearchHit.search_id == search.id)
                                   .order_by(QuarantineSearchHit.id).offset(offset).limit(limit)))
    return rows, total


def domain_name(search: QuarantineSearch) -> str | None:
    """The searched domain's name (None: the whole scope)."""
    domain = db.session.get(Domain, search.domain_id) if search.domain_id else None
    return domain.name if domain is not None else None


def failures(search: QuarantineSearch) -> list[QuarantineSearchFailure]:
    return list(db.session.scalars(select(QuarantineSearchFailure)
                                   .where(QuarantineSearchFailure.search_id == search.id)
                                   .order_by(QuarantineSearchFailure.mailbox)))


def cancel(principal: Principal, search_id: str) -> QuarantineSearch:
    """Stop a running search (its job asks for no further mailbox); a finished one stays as it is."""
    search = get(principal, search_id)
    db.session.execute(update(QuarantineSearch)
                       .where(QuarantineSearch.id == search.id, QuarantineSearch.state == RUNNING)
                       .values(state=CANCELLED, finished_at=utcnow()).execution_options(synchronize_session=False))
    db.session.refresh(search)
    return search


def purge_expired() -> int:
    """Delete the searches kept long enough, with their hits and failures; returns how many searches."""
    expired = select(QuarantineSearch.id).where(QuarantineSearch.expires_at <= utcnow())
    db.session.execute(delete(QuarantineSearchHit).where(QuarantineSearchHit.search_id.in_(expired)))
    db.session.execute(delete(QuarantineSearchFailure).where(QuarantineSearchFailure.search_id.in_(expired)))
    gone = db.session.execute(delete(QuarantineSearch).where(QuarantineSearch.expires_at <= utcnow()))
    return int(gone.rowcount or 0)  # type: ignore[attr-defined]


# --- the job ------------------------------------------------------------------------------------------

@dataclass
class _Target:
    user_id: int
    email: str
    store: MailStore | None
    error: str | None = None


@dataclass
class _Found:
    target: _Target
    summaries: list[Summary] = field(default_factory=list)
    total: int = 0
    error: str | None = None


def _search_one(target: _Target, search: Search, limit: int) -> _Found:
    """One mailbox (a pool thread; no database here): its hits, or why its store failed."""
    if target.store is None:
        return _Found(target, error=target.error)
    try:
        found, total = target.store.find(mailboxes.QUARANTINE, search, limit)
        return _Found(target, found, total)
    except ServiceError as error:
        return _Found(target, error=english(error.detail))
    except OSError as error:  # a Maildir that cannot be read
        return _Found(target, error=f"The mail store cannot be read: {error.strerror or type(error).__name__}")
    except Exception as error:
        log.exception("quarantine search: the store of %s failed", target.email)
        return _Found(target, error=f"The mail store failed: {type(error).__name__}")
    finally:
        try:
            target.store.close()
        except Exception:
            log.warning("quarantine search: closing the store of %s failed", target.email)


def _hit_key(summary: Summary) -> str:
    """The id the message page opens: the quarantine id, else the Message-ID, else the store's key."""
    return (summary.headers.get("X-Fuglu-Id") or summary.headers.get("Message-ID") or summary.key)[:998]


def _record(search_id: str, batch: list[_Found]) -> str:
    """Finished mailboxes' kept hits, failures and progress, committed apart; the search's state then."""
    with apart() as conn:
        rows = [{"search_id": search_id, "user_id": found.target.user_id, "user_email": found.target.email,
                 "folder": mailboxes.QUARANTINE, "message_key": _hit_key(s), "sender": s.sender[:2000],
                 "subject": s.subject[:2000], "sent_date": s.sent_date,
                 "reason": (s.headers.get("X-Quarantine-Reason") or "")[:32].upper()}
                for found in batch for s in found.summaries]
        if rows:
            conn.execute(insert(QuarantineSearchHit), rows)
        failed = [{"search_id": search_id, "mailbox": f.target.email, "why": f.error[:2000]}
                  for f in batch if f.error is not None]
        if failed:
            conn.execute(insert(QuarantineSearchFailure), failed)
        values: dict[str, Any] = {"mailboxes_done": QuarantineSearch.mailboxes_done + len(batch),
                                  "hits_total": QuarantineSearch.hits_total + len(rows)}
        if any(f.total > len(f.summaries) for f in batch):
            values["truncated"] = True
        conn.execute(update(QuarantineSearch).where(QuarantineSearch.id == search_id).values(**values))
        state = conn.execute(select(QuarantineSearch.state).where(QuarantineSearch.id == search_id)).scalar()
    return state or CANCELLED


def run(search_id: str) -> dict[str, Any] | None:
    """The `quarantine_search` job: search the mailboxes, record as it goes, end DONE (or stay CANCELLED)."""
    search = db.session.get(QuarantineSearch, search_id)
    if search is None or search.state != RUNNING:
        return None
    admin = db.session.get(Admin, search.admin_id)
    if admin is None:
        return None
    config = current_app.config
    criteria, domain_id = stored_criteria(search).search(), search.domain_id
    users = list(db.session.scalars(_mailboxes_query(principal_for_admin(admin), domain_id).order_by(MailUser.email)))
    targets = []
    for user in users:
        try:
            targets.append(_Target(user.id, user.email, mailboxes.open_store(
                user, timeout=float(config["QSEARCH_MAILBOX_TIMEOUT"]), pooled=False)))
        except ServiceError as error:
            targets.append(_Target(user.id, user.email, None, english(error.detail)))
    with apart() as conn:  # a retried job starts over
        conn.execute(delete(QuarantineSearchHit).where(QuarantineSearchHit.search_id == search_id))
        conn.execute(delete(QuarantineSearchFailure).where(QuarantineSearchFailure.search_id == search_id))
        conn.execute(update(QuarantineSearch).where(QuarantineSearch.id == search_id).values(
            mailboxes_total=len(targets), mailboxes_done=0, hits_total=0, truncated=False))
    room, per_mailbox = int(config["QSEARCH_MAX_HITS"]), int(config["QSEARCH_MAILBOX_HITS"])
    workers = max(1, min(int(config["QSEARCH_CONCURRENCY"]), len(targets) or 1))
    state, done, pending, shown, last = RUNNING, 0, [], False, time.monotonic()
    waiting, left = iter(targets), [len(targets)]  # mailboxes not yet asked for
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="postern-qsearch")
    try:
        running: set[Future[_Found]] = set()

        def ask_next() -> None:
            target = next(waiting, None)
            if target is not None:
                left[0] -= 1
                running.add(pool.submit(_search_one, target, criteria, min(per_mailbox, max(room, 1))))

        for _ in range(workers):
            ask_next()
        while running:
            finished, still = wait(running, timeout=WRITE_EVERY, return_when=FIRST_COMPLETED)
            running.clear()
            running.update(still)
            for future in finished:
                found = future.result()
                found.summaries = found.summaries[:max(room, 0)]  # the cap on hits in all
                room -= len(found.summaries)
                pending.append(found)
                done += 1
            first_hit = not shown and any(f.summaries for f in pending)
            if pending and (first_hit or not (running or left[0]) or time.monotonic() - last >= WRITE_EVERY):
                state = _record(search_id, pending)
                shown = shown or first_hit
                pending, last = [], time.monotonic()
            if state != RUNNING:
                break
            for _ in finished:
                ask_next()
        if pending:
            state = _record(search_id, pending)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        for target in waiting:  # never searched (cancelled): nothing was opened, but close all the same
            if target.store is not None:
                target.store.close()
    if state == RUNNING:
        db.session.execute(update(QuarantineSearch)
                           .where(QuarantineSearch.id == search_id, QuarantineSearch.state == RUNNING)
                           .values(state=DONE, finished_at=utcnow()).execution_options(synchronize_session=False))
    return {"mailboxes": done, "state": DONE if state == RUNNING else state}


def state_of(search: QuarantineSearch) -> dict[str, Any]:
    """What the API and the page show of a search."""
    return {"id": search.id, "state": search.state, "mailboxesDone": search.mailboxes_done,
            "mailboxesTotal": search.mailboxes_total, "hitsTotal": search.hits_total, "truncated": search.truncated,
            "criteria": search.criteria, "domainId": ids.encode(search.domain_id) if search.domain_id else None,
            "createdAt": to_ms(search.created_at), "finishedAt": to_ms(search.finished_at),
            "expiresAt": to_ms(search.expires_at),
            "failed": [{"mailbox": f.mailbox, "why": f.why} for f in failures(search)]}
