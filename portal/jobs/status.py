"""What the jobs page shows: the queue's counts and the jobs that failed (RQ's failed-job registry, or
the failures of in-process jobs kept in the database), with retry and dismiss."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import select

from ..errors import NotFound, Unavailable
from ..extensions import db
from ..models import JobFailure
from . import queue

LIMIT = 100


@dataclass
class Failed:
    id: str  # the RQ job id, or "db-<n>" for an in-process failure
    function: str
    arguments: str
    at: datetime | None
    error: str
    retryable: bool


@dataclass
class Overview:
    backend: str  # "rq" or "in-process"
    queued: int | None
    started: int | None
    scheduled: int | None
    failed: list[Failed]


def overview() -> Overview:
    recorded = [Failed(f"db-{f.id}", f.function, f.arguments, f.at, f.error, False)
                for f in db.session.scalars(select(JobFailure).order_by(JobFailure.at.desc()).limit(LIMIT))]
    if not current_app.config.get("REDIS_URL"):
        return Overview("in-process", None, None, None, recorded)
    try:
        q = queue()
        registry = FailedJobRegistry(queue=q)
        failed = []
        for job in Job.fetch_many(registry.get_job_ids(0, LIMIT - 1), connection=q.connection):
            if job is None:
                continue
            result = job.latest_result()
            error = ((result.exc_string if result is not None else "") or "").strip().splitlines()
            failed.append(Failed(job.id, job.func_name or "?", repr((job.args, job.kwargs))[:2000], job.ended_at,
                                 error[-1] if error else "", True))
        return Overview("rq", q.count, StartedJobRegistry(queue=q).count, ScheduledJobRegistry(queue=q).count,
                        failed + recorded)
    except RedisError as exc:
        raise Unavailable(f"Redis cannot be reached ({exc}).") from exc


def retry(job_id: str) -> None:
    """Put a failed RQ job back on its queue."""
    if not current_app.config.get("REDIS_URL"):  # the in-process runner keeps no job to retry
        raise NotFound("No such failed job.")
    try:
        q = queue()
        FailedJobRegistry(queue=q).requeue(job_id)
    except (NoSuchJobError, ValueError, TypeError) as exc:
        raise NotFound("No such failed job.") from exc
    except RedisError as exc:
        raise Unavailable(f"Redis cannot be reached ({exc}).") from exc


def dismiss(job_id: str) -> None:
    """Forget a failure (an RQ job is deleted; an in-process failure's record removed)."""
    if job_id.startswith("db-"):
        row = db.session.get(JobFailure, int(job_id[3:])) if job_id[3:].isdigit() else None
        if row is None:
            raise NotFound("No such failed job.")
        db.session.delete(row)
        return
    try:
        q = queue()
        job = Job.fetch(job_id, connection=q.connection)
        FailedJobRegistry(queue=q).remove(job, delete_job=True)
    except NoSuchJobError as exc:
        raise NotFound("No such failed job.") from exc
    except RedisError as exc:
        raise Unavailable(f"Redis cannot be reached ({exc}).") from exc
