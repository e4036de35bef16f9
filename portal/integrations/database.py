"""The database as an outside call: PostgreSQL connections that cannot hang a request.

The server enforces `statement_timeout`; this side bounds every wait of a connection (a statement and
its results, a commit, a rollback, the pool's ping) with a `Deadline` a little longer than that, because
a frozen server (or a frozen network path whose kernel still acknowledges) enforces nothing. A cut
connection raises psycopg's OperationalError, SQLAlchemy sees a disconnect and drops it from the pool,
and the request answers 503 "The database is unavailable" (error_pages.py)."""

from __future__ import annotations

from typing import Any

import psycopg

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
    with Deadline(seconds) as deadline:
        deadline.watch_fd(dbapi_connection.pgconn.socket)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(";")  # what SQLAlchemy pings psycopg with: an empty query
        finally:
            cursor.close()
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
