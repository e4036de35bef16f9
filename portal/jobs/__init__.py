"""Background jobs: enqueued during a unit of work, dispatched only after its commit.

With REDIS_URL set, jobs go to RQ (`flask --app app portal worker` runs them); without it they
run in-process, synchronously after the commit (the embedded default of `make run`). Job
functions take ids and plain values, are idempotent and commit their own work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import current_app
from redis import Redis
from rq import Queue, Retry

from ..extensions import db

log = logging.getLogger(__name__)
_PENDING = "postern_pending_jobs"


def enqueue(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run `fn(*args, **kwargs)` as a job once the current transaction has committed."""
    db.session.info.setdefault(_PENDING, []).append((fn, args, kwargs))


def discard_pending() -> None:
    db.session.info.pop(_PENDING, None)


def redis_connection() -> Redis:
    return Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=5, socket_connect_timeout=5)


def queue() -> Queue:
    return Queue(current_app.config["RQ_QUEUE"], connection=redis_connection(),
                 default_timeout=current_app.config["JOB_TIMEOUT"])


def dispatch_pending() -> None:
    """Send the jobs of the committed unit of work to RQ, or run them here."""
    pending = db.session.info.pop(_PENDING, [])
    if not pending:
        return
    if current_app.config.get("REDIS_URL"):
        q = queue()
        for fn, args, kwargs in pending:
            q.enqueue(fn, *args, **kwargs, retry=Retry(max=3, interval=[10, 60, 300]))
        return
    for fn, args, kwargs in pending:
        try:
            fn(*args, **kwargs)
        except Exception:
            db.session.rollback()
            log.exception("in-process job %s failed", getattr(fn, "__name__", fn))
