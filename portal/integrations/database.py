"""The database as an outside call: PostgreSQL connections that cannot hang a request.

The server enforces `statement_timeout`; this side bounds every wait of a connection (a statement and
its results, a commit, a rollback, the pool's ping) with a `Deadline` a little longer than that, because
a frozen server (or a frozen network path whose kernel still acknowledges) enforces nothing. A cut
connection raises psycopg's OperationalError, SQLAlchemy sees a disconnect and drops it from the pool,
and the request answers 503 "The database is unavailable" (error_pages.py)."""

from __future__ import annotations

import os
import re
import time
from functools import lru_cache
from typing import Any

import psycopg
from sqlalchemy import event, exc

from .deadline import Deadline

CUT_MARGIN = 1.0  # the client cuts this long after the server's own statement_timeout would have fired


class GuardedConnection(psycopg.Connection[Any]):
    """psycopg's connection whose every network wait (`wait()` is psycopg's one way to the socket once
    connected; connecting has libpq's connect_timeout) ends by `postern_deadline` seconds."""

    postern_deadline: float | None = 15.0 + CUT_MARGIN  # None: no cut (POSTERN_DB_STATEMENT_TIMEOUT=0)

    def wait(self, *args: Any, **kwargs: Any) -> Any:
        if self.postern_deadline is None:
            return super().wait(*args, **kwargs)
        with Deadline(self.postern_deadline) as deadline:
            deadline.watch_fd(self.pgconn.socket)
            return super().wait(*args, **kwargs)


def connect(statement_timeout: float, *args: Any, **kwargs: Any) -> GuardedConnection:
    """A psycopg connection (SQLAlchemy's `do_connect`) whose waits are bounded (0: not bounded)."""
    conn = GuardedConnection.connect(*args, **kwargs)
    conn.postern_deadline = statement_timeout + CUT_MARGIN if statement_timeout > 0 else None
    return conn


def ping(dbapi_connection: Any, seconds: float) -> bool:
    """SQLAlchemy's pre-ping, bounded by `seconds` (the connect timeout: a ping is one round trip), so a
    frozen server costs a request that long before the reconnect, not a whole statement timeout."""
    autocommit = dbapi_connection.autocommit
    with Deadline(seconds) as deadline:
        deadline.watch_fd(dbapi_connection.pgconn.socket)
        dbapi_connection.autocommit = True  # as SQLAlchemy's own ping: no transaction left open by it
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(";")  # what SQLAlchemy pings psycopg with: an empty query
        finally:
            cursor.close()
            dbapi_connection.autocommit = autocommit
    return True


def libpq_options(connect_timeout: float, statement_timeout: float) -> dict[str, Any]:
    """connect_args for psycopg: connect deadline, statement_timeout (0: none), TCP keepalives and a TCP user
    timeout (a server or path that stops acknowledging is noticed on a blocked write, and on an idle pooled
    connection by the keepalives)."""
    unacknowledged = statement_timeout + CUT_MARGIN if statement_timeout > 0 else 30.0
    return {
        "connect_timeout": max(round(connect_timeout), 1),  # libpq: whole seconds, at least 1 (0: none)
        "options": f"-c statement_timeout={max(int(statement_timeout * 1000), 0)}",
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": int(unacknowledged * 1000),
    }


# --- a forked process: its own connections ---------------------------------------------------------------

def forget_after_fork(engine: Any) -> None:
    """A process forked with the app loaded (`gunicorn --preload`) never uses a connection its parent opened:
    checking one out drops it unclosed (its socket is the parent's too) and the pool opens another
    (SQLAlchemy's recipe for pools across fork). Listens before any other checkout hook (the idle ping)."""
    def connect(_dbapi: Any, record: Any) -> None:
        record.info["postern_pid"] = os.getpid()

    def checkout(_dbapi: Any, record: Any, proxy: Any) -> None:
        if record.info.get("postern_pid", os.getpid()) != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None
            raise exc.DisconnectionError("a connection opened by the parent process")

    event.listen(engine, "connect", connect)
    event.listen(engine, "checkout", checkout)


# --- the pool: a ping only for a connection that sat idle ------------------------------------------------

def ping_when_idle(engine: Any, idle_seconds: float, ping_seconds: float) -> None:
    """Ping a pooled connection on checkout only when it sat in the pool `idle_seconds` or more: a busy pool
    pays no round trip per request, while a connection that may have died during a quiet spell (a restarted
    or frozen server) is found out before a request uses it. A failed ping is a `DisconnectionError`: the
    pool drops that connection and checks out another (SQLAlchemy's own retry)."""
    def checkin(_dbapi: Any, record: Any) -> None:
        record.info["postern_idle_since"] = time.monotonic()

    def checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("postern_idle_since", None)
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            ping(dbapi, ping_seconds)
        except Exception as error:  # psycopg's OperationalError, or the deadline's timeout
            raise exc.DisconnectionError(str(error)) from error

    event.listen(engine, "checkin", checkin)
    event.listen(engine, "checkout", checkout)


# --- reads without a transaction -------------------------------------------------------------------------

AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}
_WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|MERGE|SAVEPOINT|LOCK)\b|\bFOR\s+(NO\s+KEY\s+)?(UPDATE|SHARE)\b"
                     r"|\bpg_advisory_xact_lock|^\s*WITH\b[\s\S]*\b(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def _writes(statement: str) -> bool:
    """Whether a statement writes or locks. Memoised by its text up to a size: SQLAlchemy hands the same compiled
    strings again (whose hash Python keeps), and the pattern costs ~0.1 ms on a long one such as a UNION of
    children."""
    return _writes_memo(statement) if len(statement) <= 16384 else _WRITES.search(statement) is not None


@lru_cache(maxsize=1024)
def _writes_memo(statement: str) -> bool:
    return _WRITES.search(statement) is not None


def begin_before_write(engine: Any) -> None:
    """A read-only request runs its statements in autocommit (`AUTOCOMMIT`: no BEGIN, no COMMIT: PostgreSQL's
    READ COMMITTED gives each statement its own snapshot either way). When such a request writes after all
    (a token's last use, an audit record) or locks rows, a BEGIN goes first, so what it writes from there is
    one transaction again, committed or rolled back by the unit of work (psycopg's commit and rollback act
    on the server's transaction state, not on the autocommit flag)."""
    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT" or not _writes(statement):
            return
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and dbapi.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            dbapi.execute("BEGIN")

    event.listen(engine, "before_cursor_execute", before)
