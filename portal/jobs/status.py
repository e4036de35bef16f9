"""What the jobs page shows: the jobs waiting in the outbox, the queue's counts and the jobs that failed
(RQ's failed-job registry, or the failures of in-process jobs kept in the database), with retry and
dismiss. Redis being unreachable is part of the answer, never an error of the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from ..errors import NotFound, Unavailable
from ..extensions import db
from ..models import JobFailure, OutboxJob
from . import queue, redis_connection

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
    waiting: list[OutboxJob] = field(default_factory=list)  # in the outbox, not handed over yet
    waiting_count: int = 0
    redis_error: str | None = None  # set when Redis cannot be reached


@dataclass
class Health:
    """The dashboard's line about jobs."""

    backend: str
    failed: int | None  # None: not known (Redis cannot be reached)
    waiting: int
    redis_error: str | None


def _waiting() -> tuple[list[OutboxJob], int]:
    rows = list(db.session.scalars(select(OutboxJob).order_by(OutboxJob.id).limit(LIMIT)))
    count = len(rows) if len(rows) < LIMIT else db.session.scalar(select(func.count(OutboxJob.id))) or 0
    return rows, count


def _job_name(job: Job) -> str:
    """A job's name: the registered name that `perform` runs, else RQ's function name."""
    if job.func_name and job.func_name.endswith(".perform") and job.args:
        return str(job.args[0])
    return job.func_name or "?"


def _job_arguments(job: Job) -> str:
    if job.func_name and job.func_name.endswith(".perform") and job.args:
        return repr((job.args[1:] or [[]])[0]) + (f" {job.args[2]!r}" if len(job.args) > 2 and job.args[2] else "")
    return repr((job.args, job.kwargs))


def overview() -> Overview:
    recorded = [Failed(f"db-{f.id}", f.function, f.arguments, f.at, f.error, False)
                for f in db.session.scalars(select(JobFailure).order_by(JobFailure.at.desc()).limit(LIMIT))]
    waiting, waiting_count = _waiting()
    if not current_app.config.get("REDIS_URL"):
        return Overview("in-process", None, None, None, recorded, waiting, waiting_count)
    try:
        q = queue()
        registry = FailedJobRegistry(queue=q)
        failed = []
        for job in Job.fetch_many(registry.get_job_ids(0, LIMIT - 1), connection=q.connection):
            if job is None:
                continue
            result = job.latest_result()
            error = ((result.exc_string if result is not None else "") or "").strip().splitlines()
            failed.append(Failed(job.id, _job_name(job), _job_arguments(job)[:2000], job.ended_at,
                                 error[-1] if error else "", True))
        return Overview("rq", q.count, StartedJobRegistry(queue=q).count, ScheduledJobRegistry(queue=q).count,
                        failed + recorded, waiting, waiting_count)
    except RedisError as exc:
        return Overview("rq", None, None, None, recorded, waiting, waiting_count,
                        redis_error=str(exc) or type(exc).__name__)


def health() -> Health:
    """Failed and waiting jobs, and whether Redis answers (a ping with a one-second deadline)."""
    failed = db.session.scalar(select(func.count(JobFailure.id))) or 0
    waiting = db.session.scalar(select(func.count(OutboxJob.id))) or 0
    if not current_app.config.get("REDIS_URL"):
        return Health("in-process", failed, waiting, None)
    try:
        connection = redis_connection(timeout=1.0)
        connection.ping()
        failed += FailedJobRegistry(queue=queue(connection)).count
    except RedisError as exc:
        return Health("rq", None, waiting, str(exc) or type(exc).__name__)
    return Health("rq", failed, waiting, None)


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
