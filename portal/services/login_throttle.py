"""Failed sign-ins counted per account name, whatever address they come from (the per-address limit is
Flask-Limiter's, in the views).

The first `LOGIN_ACCOUNT_FAILURES` failures are free; from then on each failure refuses that name for a
window that doubles (15 s, 30 s, 1 min, … up to `LOGIN_ACCOUNT_MAX_DELAY`, 5 minutes by default), during
which the password is not even checked. A success clears the count; failures a day old are forgotten.
The state is a database row (`login_throttle`), so every app process sees it. Names are counted whether
an account has them or not, so a refusal says nothing about which accounts exist."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ..clock import utcnow
from ..errors import ServiceError
from ..extensions import db
from ..models import LoginThrottle
from ..unit_of_work import apart

FIRST_WINDOW = 15  # seconds: the refusal window after the last free failure, doubled by each further one
FORGET_AFTER = timedelta(days=1)


class Throttled(ServiceError):
    """Too many failed sign-ins for this name: refused for `retry_after` seconds."""

    status, title = 429, "Too Many Requests"
    retry_after: int = 0


def key(kind: str, name: str) -> str:
    """The row's key: a digest of the kind (admin, user, totp) and the name as the login form compares it."""
    return hashlib.sha256(f"{kind}:{name.strip().lower()}".encode()).hexdigest()


def check(name_key: str) -> None:
    """Raise `Throttled` while the name is in its refusal window."""
    until = db.session.scalar(select(LoginThrottle.blocked_until).where(LoginThrottle.key == name_key))
    now = utcnow()
    if until is not None and until > now:
        error = Throttled("Too many failed sign-ins for this account; try again later.")
        error.retry_after = max(1, int((until - now).total_seconds() + 0.999))
        raise error


def window(failures: int) -> int:
    """Seconds refused after the `failures`-th failure in a row (0 while failures are free)."""
    free = int(current_app.config["LOGIN_ACCOUNT_FAILURES"])
    if failures < free:
        return 0
    return min(int(current_app.config["LOGIN_ACCOUNT_MAX_DELAY"]), FIRST_WINDOW * 2 ** min(failures - free, 20))


def failed(name_key: str) -> None:
    """Count one failure, durable at once: the request that failed rolls back, its count must not."""
    table = LoginThrottle.__table__
    dialect = sqlite if db.engine.dialect.name == "sqlite" else postgresql
    now = utcnow()
    with apart() as conn:
        conn.execute(delete(table).where(table.c.last_failure < now - FORGET_AFTER))
        failures = conn.execute(dialect.insert(table).values(key=name_key, failures=1, last_failure=now)
                                .on_conflict_do_update(index_elements=["key"],
                                                       set_={"failures": table.c.failures + 1, "last_failure": now})
                                .returning(table.c.failures)).scalar_one()
        seconds = window(failures)
        if seconds:
            conn.execute(table.update().where(table.c.key == name_key)
                         .values(blocked_until=now + timedelta(seconds=seconds)))


def succeeded(name_key: str) -> None:
    """A success clears the name's count (committed with the login)."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == name_key))
