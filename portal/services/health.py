"""Diagnostics reports of domains and platforms (seed 5.11): one home for keeping and reading them.

The checks live apart (`domain_health` for DNS, `relay_health` for relays); each run ends in `record()`, which
replaces the entity's last report. An entity that goes from passing (or never checked) to failing gets
`failing_since`; whoever notifies about it first claims it with `claim_notification()` (a conditional UPDATE,
so two workers finishing the same check at once notify once). A report is the seed's shape:
`{"status": bool, "entries": [{"type": str, "result": str, "output": [str, ...]}]}`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from ..clock import utcnow
from ..errors import TooManyRequests
from ..extensions import db
from ..models import Domain, HealthReport, Platform
from ..permissions import Permission
from ..unit_of_work import apart
from ..words import _l
from .principal import Principal

DOMAIN = "DOMAIN"
PLATFORM = "PLATFORM"


def last(entity_type: str, entity_id: int) -> HealthReport | None:
    return db.session.scalar(select(HealthReport).where(
        HealthReport.entity_type == entity_type, HealthReport.entity_id == entity_id))


def _row(entity_type: str, entity_id: int) -> HealthReport:
    """The entity's row, made when missing (two processes making it at once: one insert wins, both use it)."""
    row = last(entity_type, entity_id)
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            row = HealthReport(entity_type=entity_type, entity_id=entity_id, state="done")
            db.session.add(row)
    except IntegrityError:
        row = last(entity_type, entity_id)
        assert row is not None
    return row


def mark_running(entity_type: str, entity_id: int) -> HealthReport:
    """A run was asked for (its job is on the way): pages show progress until `record()`."""
    row = _row(entity_type, entity_id)
    row.state, row.requested_at = "running", utcnow()
    db.session.flush()
    return row


def record(entity_type: str, entity_id: int, report: dict[str, Any], *, now: datetime | None = None) -> bool:
    """Keep a run's report as the entity's last; True when the entity has just started failing."""
    row = _row(entity_type, entity_id)
    # Locked and read again: a run recording the same entity at once waits for this one's commit, then sees its
    # failing_since and notified_at, so it neither starts a second failing spell nor clears a claimed notice.
    db.session.refresh(row, with_for_update=True)
    started_failing = _apply(row, report, now or utcnow())
    db.session.flush()
    return started_failing


def _apply(row: HealthReport, report: dict[str, Any], now: datetime) -> bool:
    status = bool(report.get("status"))
    started_failing = not status and row.failing_since is None
    row.state, row.status, row.report, row.performed_at = "done", status, report, now
    if status:
        row.failing_since, row.notified_at = None, None
    elif started_failing:
        row.failing_since, row.notified_at = now, None
    return started_failing


CHUNK = 500  # ids per IN (…): under SQLite's bound on parameters


def _locked(entity_type: str, ids: list[int]) -> Any:
    """The rows, locked in id order (as `record` locks its one row) and read afresh."""
    return (select(HealthReport).where(HealthReport.entity_type == entity_type, HealthReport.entity_id.in_(ids))
            .order_by(HealthReport.entity_id).with_for_update().execution_options(populate_existing=True))


def record_many(entity_type: str, reports: dict[int, dict[str, Any]], *, now: datetime | None = None) -> list[int]:
    """`record()` for many entities (the scheduled re-check) in a few statements: the missing rows made in one
    INSERT … ON CONFLICT DO NOTHING, all rows read in chunks, one flush; the ids that have just started failing."""
    now = now or utcnow()
    ids = list(reports)
    table = HealthReport.__table__
    rows: dict[int, HealthReport] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        rows.update((r.entity_id, r) for r in db.session.scalars(_locked(entity_type, chunk)))
    missing = [pk for pk in ids if pk not in rows]
    if missing:
        insert = sqlite_insert if db.session.get_bind().dialect.name == "sqlite" else pg_insert
        db.session.execute(insert(table).on_conflict_do_nothing(), [
            {"entity_type": entity_type, "entity_id": pk, "state": "done"} for pk in missing])
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start:start + CHUNK]
            rows.update((r.entity_id, r) for r in db.session.scalars(_locked(entity_type, chunk)))
    started = [pk for pk in ids if _apply(rows[pk], reports[pk], now)]
    db.session.flush()
    return started


def claim_notification(row: HealthReport) -> bool:
    """True for exactly one caller per failing spell: the one that may send the notice."""
    claimed = db.session.execute(update(HealthReport).where(
        HealthReport.id == row.id, HealthReport.failing_since.is_not(None), HealthReport.notified_at.is_(None))
        .values(notified_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if claimed:
        db.session.refresh(row)
    return bool(claimed)


def entity_health(row: HealthReport | None) -> dict[str, Any] | None:
    """The seed's EntityHealth: `performedAt` in seconds since the epoch, and the report; None before a run."""
    if row is None or row.report is None or row.performed_at is None:
        return None
    performed = row.performed_at
    epoch = int((performed - datetime(1970, 1, 1)).total_seconds()) if performed.tzinfo is None \
        else int(performed.timestamp())
    return {"performedAt": epoch, "report": row.report}


def failing(entity_type: str | None = None) -> list[HealthReport]:
    """Every entity whose last report failed (callers narrow them to what the principal may see)."""
    stmt = select(HealthReport).where(HealthReport.status.is_(False))
    if entity_type:
        stmt = stmt.where(HealthReport.entity_type == entity_type)
    return list(db.session.scalars(stmt.order_by(HealthReport.entity_type, HealthReport.entity_id)))


def claim_run(entity_type: str, entity_id: int, interval: float) -> None:
    """One asked-for run (API or *Run now*) per entity per `interval` seconds, across processes: the claim is
    `requested_at`, committed apart before the checks start, so a parallel request sees it (429 + Retry-After)."""
    if interval <= 0:  # no limit (tests, or an installation that wants none)
        return
    now = utcnow()
    table = HealthReport.__table__
    with apart() as conn:
        insert = (sqlite_insert if conn.dialect.name == "sqlite" else pg_insert)(table)
        conn.execute(insert.values(entity_type=entity_type, entity_id=entity_id, state="done")
                     .on_conflict_do_nothing())
        claimed = conn.execute(update(table).where(
            table.c.entity_type == entity_type, table.c.entity_id == entity_id,
            or_(table.c.requested_at.is_(None), table.c.requested_at <= now - timedelta(seconds=interval)))
            .values(requested_at=now)).rowcount
    if not claimed:
        error = TooManyRequests(_l("This was checked a moment ago: try again in a few seconds."))
        error.retry_after = max(1, round(interval))
        raise error


def visible_failing(principal: Principal) -> list[tuple[str, int, str, HealthReport]]:
    """(type, id, name, report row) of every failing domain and platform the principal sees (DOMAIN_READ on the
    domain, or on a platform's domain), domains first, by name."""
    principal.require_admin()
    rows = failing()
    scope = principal.scope(Permission.DOMAIN_READ)
    by_domain = {r.entity_id: r for r in rows if r.entity_type == DOMAIN}
    by_platform = {r.entity_id: r for r in rows if r.entity_type == PLATFORM}
    found: list[tuple[str, int, str, HealthReport]] = []
    if by_domain:
        for pk, name in db.session.execute(select(Domain.id, Domain.name).where(
                Domain.id.in_(by_domain), scope.domain_clause()).order_by(Domain.name)):
            found.append((DOMAIN, pk, name, by_domain[pk]))
    if by_platform:
        for pk, name in db.session.execute(select(Platform.id, Platform.name).join(
                Domain, Domain.id == Platform.domain_id).where(
                Platform.id.in_(by_platform), scope.domain_clause()).order_by(Platform.name, Platform.id)):
            found.append((PLATFORM, pk, name, by_platform[pk]))
    return found
