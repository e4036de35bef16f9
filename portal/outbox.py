"""Asking for a job: a row in the job outbox, written in the caller's transaction.

Services call `enqueue("job-name", *ids)`; the row commits or rolls back with their change. Once the
transaction has committed, `portal.jobs.dispatch()` hands the rows it committed to RQ (or runs them
in-process); a row that could not be handed over (Redis down) waits for a later dispatch or the
scheduler. Jobs are named, not imported: this module sits below the services, and `portal.jobs`
(above them) maps names to functions. Arguments are ids and plain JSON values.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, SessionTransaction

from .clock import utcnow
from .extensions import db
from .models import OutboxJob

LEASE = timedelta(seconds=60)  # a row nobody finished handing over is taken by the next dispatcher after this


@dataclass(frozen=True)
class Ready:
    """An outbox row, as the dispatcher needs it."""

    id: int
    key: str
    name: str
    arguments: dict[str, Any]
    fresh: bool = True  # claimed by the unit of work that wrote it: never handed over before


_ASKED = "postern_outbox_asked"  # (name, args json) asked in the open transaction: the same job once
_PENDING = "postern_outbox_pending"  # rows added in the open transaction, not flushed yet
_FLUSHED = "postern_outbox_flushed"  # (row, Ready) flushed in the open transaction
_READY = "postern_outbox_ready"  # rows committed (Ready), for the dispatch after the commit


def enqueue(name: str, *args: Any, **kwargs: Any) -> None:
    """Ask for job `name(*args, **kwargs)` once the current transaction commits (the same job once per unit)."""
    arguments = {"args": list(args), "kwargs": kwargs}
    fingerprint = (name, json.dumps(arguments, sort_keys=True))  # also refuses what JSON cannot carry
    session = db.session()
    asked: set[tuple[str, str]] = session.info.setdefault(_ASKED, set())
    if fingerprint in asked:
        return
    asked.add(fingerprint)
    # The lease is the writer's: the dispatch right after the commit hands the row over without claiming
    # it again; a sweeper takes it only if that dispatch never happened (the process died).
    row = OutboxJob(key=uuid.uuid4().hex, name=name, arguments=arguments, claimed_until=utcnow() + LEASE)
    session.add(row)
    session.info.setdefault(_PENDING, []).append(row)


def take_ready() -> list[Ready]:
    """The outbox rows committed since the last call (in this session)."""
    return db.session.info.pop(_READY, [])


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        flushed = [(row, Ready(row.id, row.key, row.name, row.arguments)) for row in pending if row.id is not None]
        session.info[_PENDING] = [row for row in pending if row.id is None]
        session.info.setdefault(_FLUSHED, []).extend(flushed)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(_ASKED, None)
    session.info.pop(_PENDING, None)
    flushed = session.info.pop(_FLUSHED, None)
    if flushed:  # a row a rolled-back savepoint took with it is no longer persistent: its job is not asked
        session.info.setdefault(_READY, []).extend(ready for row, ready in flushed if inspect(row).persistent)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    session.info.pop(_ASKED, None)  # a savepoint rolled back may have taken rows with it: ask again
    if previous.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_FLUSHED, None)
