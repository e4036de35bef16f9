"""The job registry: names to functions (`@job`), and the Redis helpers the job functions need."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: Callable[..., Any]
    debounce: int | None  # with RQ: at most one pending run, this many seconds after the first ask
    after_response: bool = False  # in-process (no Redis): run once the request's answer is sent, not before


REGISTRY: dict[str, JobSpec] = {}


def job(name: str, *, debounce: int | None = None, after_response: bool = False
        ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a job function under `name` (what `outbox.enqueue` and the Jobs page use). `after_response`: a
    long job that the embedded runner starts only once the answer that asked for it has gone out."""
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        REGISTRY[name] = JobSpec(name, fn, debounce, after_response)
        return fn
    return register


def debounce_key(name: str) -> str:
    return f"postern:debounce:{current_app.config['RQ_QUEUE']}:{name}"


def release_debounce(name: str) -> None:
    """Called by a debounced job when it starts: changes from now on ask for a new run."""
    if current_app.config.get("REDIS_URL"):
        try:
            redis_connection().delete(debounce_key(name))
        except RedisError as exc:  # the key expires by itself; the run goes on
            log.warning("could not release the debounce of %s: %s", name, exc)


def redis_connection(timeout: float = 2.0) -> Redis:
    """A connection with short deadlines: a Redis that is down or silent costs seconds, not a hang."""
    return Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=timeout, socket_connect_timeout=timeout)


