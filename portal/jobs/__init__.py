"""Background jobs: enqueued during a unit of work, dispatched only once it has committed.

`enqueue()` records a job on the database session; a commit makes it ready, a rollback forgets
it; `dispatch()` (called after every request, and by the CLI) sends the ready jobs. With
REDIS_URL set they go to RQ (`flask --app app portal worker` runs them); without it they run
in-process right away (the embedded default of `make run`). Job functions take ids and plain
values, are idempotent and commit their own work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app
from redis import Redis
from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from ..extensions import db

log = logging.getLogger(__name__)
_PENDING = "postern_pending_jobs"
_READY = "postern_ready_jobs"
RETRY = Retry(max=3, interval=[10, 60, 300])


def enqueue(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run `fn(*args, **kwargs)` as a job once the current transaction has committed."""
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback, even of no SQL at all, forgets the job
    pending = db.session.info.setdefault(_PENDING, [])
    if (fn, args, kwargs) not in pending:  # the same job twice in one unit of work runs once
        pending.append((fn, args, kwargs))


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.info.setdefault(_READY, []).extend(pending)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:
        session.info.pop(_PENDING, None)


# Jobs that coalesce: at most one pending run, started this many seconds after the first request.
DEBOUNCED: dict[str, int] = {}


def debounced(seconds: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a job function as debounced (with RQ: one pending run at a time, `seconds` after the first ask)."""
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        DEBOUNCED[_name(fn)] = seconds
        return fn
    return mark


def _name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def debounce_key(fn: Callable[..., Any]) -> str:
    return f"postern:debounce:{current_app.config['RQ_QUEUE']}:{_name(fn)}"


def release_debounce(fn: Callable[..., Any]) -> None:
    """Called by a debounced job when it starts: changes from now on ask for a new run."""
    if current_app.config.get("REDIS_URL"):
        redis_connection().delete(debounce_key(fn))


def redis_connection() -> Redis:
    return Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=5, socket_connect_timeout=5)


def queue() -> Queue:
    return Queue(current_app.config["RQ_QUEUE"], connection=redis_connection(),
                 default_timeout=current_app.config["JOB_TIMEOUT"])


def dispatch() -> int:
    """Send the committed jobs to RQ, or run them here; returns how many."""
    ready = db.session.info.pop(_READY, [])
    if not ready:
        return 0
    if current_app.config.get("REDIS_URL"):
        q = queue()
        for fn, args, kwargs in ready:
            delay = DEBOUNCED.get(_name(fn))
            if delay is None:
                q.enqueue(fn, *args, **kwargs, retry=RETRY)
            elif q.connection.set(debounce_key(fn), "1", nx=True, ex=max(600, delay * 10)):
                q.enqueue_in(timedelta(seconds=delay), fn, *args, **kwargs, retry=RETRY)
        return len(ready)
    for fn, args, kwargs in ready:
        try:
            fn(*args, **kwargs)
        except Exception as exc:
            db.session.rollback()
            log.exception("in-process job %s failed", getattr(fn, "__name__", fn))
            _record_failure(fn, args, kwargs, exc)
    return len(ready)


def _record_failure(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], exc: Exception) -> None:
    """Keep what failed for the jobs page (with RQ, its failed-job registry does this)."""
    from ..models import JobFailure

    try:
        db.session.add(JobFailure(function=_name(fn), arguments=repr((args, kwargs))[:2000],
                                  error=f"{type(exc).__name__}: {exc}"[:4000]))
        db.session.commit()
    except Exception:  # the database itself may be what failed
        db.session.rollback()
        log.exception("could not record the failure of %s", _name(fn))


def init_app(app: Flask) -> None:
    @app.after_request
    def _dispatch(response: Response) -> Response:
        dispatch()
        return response
