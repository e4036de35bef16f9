"""The job outbox: jobs asked for by a unit of work, written in its transaction, handed to RQ after it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class OutboxJob(db.Model):
    """A job waiting to be handed over (to RQ) or run (in-process).

    The row commits or rolls back with the change that asked for it, so a job is never lost when Redis
    is down and never sent for work that was rolled back. `key` is the job's idempotency key (its RQ job
    id); `claimed_until` is a short lease taken before the hand-over so that two dispatchers do not hand
    the same row over twice. The row is deleted once RQ holds the job (or, in-process, in the job's own
    transaction)."""

    __tablename__ = "job_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"args": [...], "kwargs": {...}}
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
