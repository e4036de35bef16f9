"""Background jobs: named functions, asked for through the outbox, run as one unit of work each.

- `@job("name")` registers a job function. Services never import them: they write an outbox row with
  `portal.outbox.enqueue("name", *ids)` in their own transaction.
- `dispatch()` runs after every request (and after every job): the rows its unit of work committed are
  handed to RQ (REDIS_URL set) or run here (the embedded default). A row carries a short lease from the
  moment it is written (its writer's), so the dispatch after the commit needs no claim; any other
  dispatcher claims a row (`_claim`) before handing it over. A row is deleted once RQ holds the job,
  whose id is the row's idempotency key, so it is handed over once even when a crash or two dispatchers
  race. While Redis cannot take jobs the rows wait, their lease released; the scheduler (every round)
  and this process's later dispatches (after a pause) hand them over (`hand_over_waiting`). The request
  that asked for them has succeeded all the same.
- `perform(name, args, kwargs)` is what RQ runs: the job's unit of work, committed once when the function
  returns and rolled back when it raises (RQ then retries it). In-process, the outbox row is deleted in
  the job's own transaction, so a job whose work committed is never run again.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, g, has_request_context, request
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import delete, or_, select, update

from .. import outbox
from ..clock import utcnow
from ..extensions import db
from ..models import JobFailure, OutboxJob
from .registry import REGISTRY, debounce_key, job, redis_connection, release_debounce

log = logging.getLogger(__name__)
RETRY = Retry(max=3, interval=[10, 60, 300])
REDIS_PAUSE = 10.0  # seconds this process leaves Redis alone after a failed hand-over
SWEEP_EVERY = 30.0  # seconds between this process's looks for rows left waiting
RESULT_TTL = 24 * 3600  # finished jobs are kept this long: a retaken lease finds its job and does not resend


def queue(connection: Redis | None = None) -> Queue:
    return Queue(current_app.config["RQ_QUEUE"], connection=connection or redis_connection(),
                 default_timeout=current_app.config["JOB_TIMEOUT"])


# --- running a job: one unit of work ------------------------------------------------------------------

def perform(name: str, args: list[Any] | tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None,
            outbox_id: int | None = None) -> Any:
    """Run job `name` as one unit of work: commit when it returns, roll back when it raises.

    `outbox_id` (in-process runs) deletes the job's outbox row in the same transaction as its work."""
    spec = REGISTRY.get(name)
    if spec is None:
        raise LookupError(f"no job named {name!r}")
    try:
        if outbox_id is not None:
            gone = db.session.execute(delete(OutboxJob).where(OutboxJob.id == outbox_id))
            if gone.rowcount != 1:  # type: ignore[attr-defined]  (run by another dispatcher already)
                db.session.rollback()
                return None
        result = spec.fn(*args, **(kwargs or {}))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    dispatch()  # the jobs this one asked for
    return result


def run_now(name: str, *args: Any, **kwargs: Any) -> Any:
    """Run a job here and now (the command line's housekeeping commands)."""
    return perform(name, list(args), kwargs)


# --- handing jobs over ---------------------------------------------------------------------------------

_state = {"redis_paused_until": 0.0, "next_sweep": 0.0}
_connections: dict[str, Redis] = {}


def dispatch() -> int:
    """Hand over (or run) the jobs the last commit wrote; returns how many were taken care of."""
    ready = outbox.take_ready()
    done = _hand_over(ready) if ready else 0
    if time.monotonic() >= _state["next_sweep"] and (ready or _state["redis_paused_until"]):
        done += hand_over_waiting(respect_pause=True)
    return done


def hand_over_waiting(limit: int = 100, *, respect_pause: bool = False) -> int:
    """Hand over the rows left waiting (Redis was down, a process died between commit and dispatch).

    The scheduler calls it every round; requests call it now and then, and not while Redis is paused."""
    _state["next_sweep"] = time.monotonic() + SWEEP_EVERY
    if respect_pause and current_app.config.get("REDIS_URL") and time.monotonic() < _state["redis_paused_until"]:
        return 0
    now = utcnow()
    try:
        ids = list(db.session.scalars(select(OutboxJob.id).where(
            or_(OutboxJob.claimed_until.is_(None), OutboxJob.claimed_until < now)).order_by(OutboxJob.id).limit(limit)))
        db.session.rollback()  # end the read transaction
        claimed = [row for row in map(_claim, ids) if row is not None]
    except Exception:
        db.session.rollback()
        log.exception("could not read the job outbox")
        return 0
    return _hand_over(claimed, respect_pause) if claimed else 0


def _claim(row_id: int) -> outbox.Ready | None:
    """Take the row's lease in a short transaction of its own; None when another dispatcher holds it."""
    now = utcnow()
    claimed = db.session.execute(
        update(OutboxJob).where(OutboxJob.id == row_id,
                                or_(OutboxJob.claimed_until.is_(None), OutboxJob.claimed_until < now))
        .values(claimed_until=now + outbox.LEASE).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()
        return None
    row = db.session.get(OutboxJob, row_id, populate_existing=True)
    ready = outbox.Ready(row.id, row.key, row.name, row.arguments, fresh=False) if row is not None else None
    db.session.commit()
    return ready


def _unclaim(rows: Iterable[outbox.Ready], error: str, tried: bool = True) -> None:
    db.session.execute(update(OutboxJob).where(OutboxJob.id.in_([r.id for r in rows]))
                       .values(claimed_until=None, attempts=OutboxJob.attempts + int(tried), last_error=error[:2000])
                       .execution_options(synchronize_session=False))
    db.session.commit()


def _hand_over(rows: list[outbox.Ready], respect_pause: bool = True) -> int:
    if current_app.config.get("REDIS_URL"):
        return _to_rq(rows, respect_pause)
    return _in_process(rows)


def _redis_for_dispatch() -> Redis:
    """One client (one connection pool) per Redis URL and process: a hand-over costs no TCP handshake."""
    url = current_app.config["REDIS_URL"]
    if url not in _connections:
        _connections[url] = redis_connection()
    return _connections[url]


def _to_rq(rows: list[outbox.Ready], respect_pause: bool) -> int:
    """Put the rows' jobs on RQ, then delete the rows (one statement); on a Redis error the rest wait."""
    if respect_pause and time.monotonic() < _state["redis_paused_until"]:
        # Redis failed a moment ago: the rows wait, free for the scheduler to hand over as soon as it can
        _forget_done_and_release([], [r for r in rows if r.fresh], "Redis: not tried, it failed a moment ago",
                                 tried=False)
        return 0
    handed: list[int] = []
    try:
        q = queue(_redis_for_dispatch())
        for row in rows:
            _enqueue(q, row)
            handed.append(row.id)
    except RedisError as exc:
        _state["redis_paused_until"] = time.monotonic() + REDIS_PAUSE
        _state["next_sweep"] = 0.0
        log.warning("Redis cannot take jobs (%s); %d wait in the outbox", exc, len(rows) - len(handed))
        _forget_done_and_release(handed, [r for r in rows if r.id not in handed], f"Redis: {exc}")
        return len(handed)
    _state["redis_paused_until"] = 0.0
    _forget_done_and_release(handed, [], "")
    return len(handed)


def _forget_done_and_release(handed: list[int], waiting: list[outbox.Ready], error: str, tried: bool = True
                             ) -> None:
    try:
        if handed:
            db.session.execute(delete(OutboxJob).where(OutboxJob.id.in_(handed)))
            db.session.commit()
        if waiting:
            _unclaim(waiting, error, tried)
    except Exception:  # the leases run out and the sweep finds the rows; RQ knows the handed jobs by id
        db.session.rollback()
        log.exception("could not update the job outbox")


def _enqueue(q: Queue, row: outbox.Ready) -> None:
    """Put the job on RQ under its idempotency key, unless RQ already has it (a lease taken again)."""
    job_id = f"postern-{row.key}"
    if not row.fresh and Job.exists(job_id, connection=q.connection):
        return
    args, kwargs = row.arguments.get("args", []), row.arguments.get("kwargs", {})
    spec = REGISTRY.get(row.name)
    delay = spec.debounce if spec is not None else None
    if delay is None:
        q.enqueue(perform, row.name, args, kwargs, job_id=job_id, retry=RETRY, result_ttl=RESULT_TTL,
                  description=row.name)
    elif _debounce(q, row.name, job_id, delay):
        q.enqueue_in(timedelta(seconds=delay), perform, row.name, args, kwargs, job_id=job_id, retry=RETRY,
                     result_ttl=RESULT_TTL, description=row.name)
    # else: a run of this debounced job is pending already and will see this change


_PENDING_STATES = (JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.DEFERRED)


def _debounce(q: Queue, name: str, job_id: str, delay: int) -> bool:
    """Whether this hand-over schedules the debounced run: the key names the pending run's job, so a key
    whose job RQ does not hold (a SET whose answer timed out on a silent Redis, a dispatcher that died
    between the SET and the enqueue) is taken over instead of silencing the job until it expires."""
    key, ttl = debounce_key(name), max(600, delay * 10)
    if q.connection.set(key, job_id, nx=True, ex=ttl):
        return True
    holder = q.connection.get(key)
    holder_id = holder.decode() if isinstance(holder, bytes) else holder
    if holder_id and holder_id != job_id:
        try:
            if Job.fetch(holder_id, connection=q.connection).get_status(refresh=False) in _PENDING_STATES:
                return False
        except NoSuchJobError:
            pass
    q.connection.set(key, job_id, ex=ttl)
    return True


_LATE = "postern_jobs_after_response"  # (flask.g) rows of `after_response` jobs the request asked for


def _in_process(rows: list[outbox.Ready]) -> int:
    for row in rows:
        spec = REGISTRY.get(row.name)
        if spec is not None and spec.after_response and has_request_context():
            g.setdefault(_LATE, []).append(row)  # run when the answer has been sent (init_app)
            continue
        _run_here(row)
    return len(rows)


_AFTER_BODY = "postern.after_response"  # (WSGI environ) the run of the request's `after_response` jobs


class _AfterBody:
    """The answer's body, then the request's `after_response` jobs: run once, when the server has taken the
    whole body or closes it early, whichever comes first. Not on close alone: Werkzeug's server skips close()
    when the client has reset the connection. (The rows' lease covers the gap; a process that dies first
    leaves them to the sweep.)"""

    def __init__(self, body: Iterable[bytes], run: Callable[[], None]) -> None:
        self.body, self.run, self.done = body, run, False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.body
        self._run_once()

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self._run_once()

    def _run_once(self) -> None:
        if not self.done:
            self.done = True
            self.run()


def _after_body(wsgi_app: Any) -> Any:
    """WSGI middleware: a request whose after_request left `after_response` jobs gets its body wrapped."""

    def middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = wsgi_app(environ, start_response)
        run = environ.pop(_AFTER_BODY, None)
        return _AfterBody(body, run) if run is not None else body

    return middleware


def _run_late(app: Flask, rows: list[outbox.Ready]) -> None:
    """The request's `after_response` jobs, in a fresh app context of this process (its answer is sent)."""
    with app.app_context():
        for row in rows:
            _run_here(row)


def _run_here(row: outbox.Ready) -> None:
    args, kwargs = row.arguments.get("args", []), row.arguments.get("kwargs", {})
    try:
        perform(row.name, args, kwargs, outbox_id=row.id)
    except Exception as exc:
        log.exception("in-process job %s failed", row.name)
        _record_failure(row.id, row.name, args, kwargs, exc)


def _record_failure(row_id: int, name: str, args: Any, kwargs: Any, exc: Exception) -> None:
    """Keep what failed for the Jobs page (with RQ, its failed-job registry does this); the row goes."""
    try:
        db.session.add(JobFailure(function=name, arguments=repr((args, kwargs))[:2000],
                                  error=f"{type(exc).__name__}: {exc}"[:4000]))
        db.session.execute(delete(OutboxJob).where(OutboxJob.id == row_id))
        db.session.commit()
    except Exception:  # the database itself may be what failed: the lease runs out and the job runs again
        db.session.rollback()
        log.exception("could not record the failure of %s", name)


def scheduler_loop(interval: float = 1.0, rounds: int | None = None) -> None:
    """The scheduler process: hand waiting outbox rows to RQ, move delayed jobs (the debounced export) to
    the queue when due, enqueue the periodic housekeeping. One process without children; SIGTERM stops
    it after the round. A Redis outage is logged and waited out, never fatal."""
    import signal
    import threading

    from rq.cron import CronScheduler
    from rq.scheduler import RQScheduler

    stop = threading.Event()  # SIGTERM wakes the wait between rounds at once

    def request_stop(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    queue_name = current_app.config["RQ_QUEUE"]
    connection = redis_connection(timeout=5)
    delayed = RQScheduler([queue_name], connection=connection, interval=max(1, int(interval)))
    cron = CronScheduler(connection=connection)
    schedule(cron, queue_name)
    born = False
    done = 0
    try:
        while not stop.is_set() and (rounds is None or done < rounds):
            done += 1
            try:
                hand_over_waiting()
            except Exception:
                db.session.rollback()
                log.exception("handing over waiting jobs failed")
            try:
                if not born:
                    delayed.register_birth()
                    cron.register_birth()
                    born = True
                if delayed.should_reacquire_locks:
                    delayed.acquire_locks()
                delayed.heartbeat()
                delayed.enqueue_scheduled_jobs()
                if cron.enqueue_jobs():
                    cron.save()
                cron.heartbeat()
            except RedisError as exc:
                log.warning("Redis cannot be reached (%s); the scheduler tries again", exc)
            if rounds is None or done < rounds:
                stop.wait(interval)
    finally:
        try:
            delayed.release_locks()
            delayed.register_death()
            cron.register_death()
        except RedisError:
            pass
        for sig, handler in previous.items():
            signal.signal(sig, handler)


CRON = (  # (job, cron expression, schedule name): the periodic housekeeping of `portal scheduler`
    ("purge_due_domains", "17 * * * *", "purge-domains"),
    ("purge_expired_tokens", "43 3 * * *", "purge-tokens"),
    ("purge_expired_rules", "*/5 * * * *", "purge-rules"),
    ("purge_expired_uploads", "29 * * * *", "purge-uploads"),
    ("send_due_digests", "*/5 * * * *", "digests"),
    ("recheck_platforms", "11 * * * *", "relay-health"),
    ("dkim_rotations", "23 * * * *", "dkim-rotations"),
    ("check_domains", "37 * * * *", "domain-health"),
    ("purge_expired_searches", "*/10 * * * *", "purge-searches"),
    ("index_mail_log", "* * * * *", "mail-tracking"),
    ("collect_statistics", "7 0 * * *", "statistics"),
    ("purge_statistics", "47 3 * * *", "purge-statistics"),
)


def schedule(scheduler: Any, queue_name: str) -> None:
    """Register the periodic housekeeping on an RQ CronScheduler."""
    for name, cron, label in CRON:
        scheduler.register(perform, queue_name, args=(name,), cron=cron, name=label)


def init_app(app: Flask) -> None:
    app.wsgi_app = _after_body(app.wsgi_app)  # type: ignore[method-assign]

    @app.after_request
    def _dispatch(response: Response) -> Response:
        try:
            dispatch()
        except Exception:  # the change is saved with its jobs; they wait in the outbox
            db.session.rollback()
            log.exception("dispatching jobs failed; they wait in the outbox")
        late = g.pop(_LATE, None)
        if late:  # long in-process jobs (a quarantine search): once the answer is sent, here (_AfterBody)
            request.environ[_AFTER_BODY] = functools.partial(_run_late, app, late)
        return response


from . import (  # noqa: E402  (register the jobs)
    digest,
    dkim,
    export,
    health,
    maintenance,
    notifications,
    qsearch,
    relay_health,
    statistics,
    tracking,
)

__all__ = ["REGISTRY", "debounce_key", "digest", "dispatch", "dkim", "export", "health", "job", "maintenance",
           "notifications", "perform", "qsearch", "redis_connection", "relay_health", "release_debounce", "run_now",
           "schedule", "statistics", "tracking"]
