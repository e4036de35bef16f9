"""Refuse to serve on a database whose schema is not at the latest migration.

Checked before the first request, on every new pooled connection a request opens (a restored or re-pointed
database comes with new connections), and again at least every POSTERN_SCHEMA_RECHECK_SECONDS (30): a schema
downgraded under a running process is a 503 within that long, not a stream of SQL errors."""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, Response, current_app, has_request_context, request
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

from .extensions import db

MESSAGE = (
    "The database schema is not up to date (at {current}, code expects {head}). "
    "Run `flask --app app db upgrade` (make run does it), then reload."
)


class SchemaMismatch(Exception):
    """Raised when a request opens a new connection to a database at another revision; answered by the 503
    below (no template: a page's layout would read the account through yet another connection)."""


@cache
def _head(directory: str) -> str | None:
    """The code's head revision (the code does not change under a running process: read once)."""
    cfg = Config()
    cfg.set_main_option("script_location", directory)
    return ScriptDirectory.from_config(cfg).get_current_head()


def migration_state() -> tuple[str | None, str | None]:
    """(current revision of the database, head revision of migrations/)."""
    head = _head(str(Path(current_app.extensions["migrate"].directory)))
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head


def _revisions(dbapi_connection: Any) -> set[str]:
    """The revisions a new DBAPI connection's database is at (none: not migrated), read on that connection."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT version_num FROM alembic_version")
        found = {row[0] for row in cursor.fetchall()}
    except Exception as exc:  # the driver's own class; only "no such table" means "not migrated"
        if "alembic_version" not in str(exc):
            raise  # the database failed: its own 503
        found = set()
    finally:
        cursor.close()
    dbapi_connection.rollback()  # leave the new connection as it came: no open (or failed) transaction
    return found


def init_app(app: Flask) -> None:
    if not app.config.get("CHECK_MIGRATIONS", True):
        return
    every = float(app.config.get("SCHEMA_RECHECK_SECONDS", 30))
    directory = str(Path(app.extensions["migrate"].directory))
    state: dict[str, Any] = {"checked": None}  # monotonic time of the last success; None: check first

    def _refuse(current: object, head: object) -> str:
        state["checked"] = None
        message = MESSAGE.format(current=current, head=head)
        app.logger.error(message)
        return message

    def _on_new_connection(dbapi_connection: Any, _record: object) -> None:
        """Each new pooled connection is checked while a request opens it; a wrong schema fails that request
        with the 503 and the next ones in before_request. CLI commands (`db upgrade`) and jobs open
        connections outside requests: not checked here."""
        if not has_request_context():
            return
        head, found = _head(directory), _revisions(dbapi_connection)
        if found == {head}:
            state["checked"] = time.monotonic()
            return
        raise SchemaMismatch(_refuse(", ".join(sorted(found)) or None, head))

    with app.app_context():
        event.listen(db.engine, "connect", _on_new_connection)

    @app.before_request
    def _require_current_schema() -> Response | None:
        if request.endpoint == "static":
            return None
        checked = state["checked"]
        if checked is not None and time.monotonic() - checked < every:
            return None
        started = time.monotonic()
        current, head = migration_state()
        if current == head:
            state["checked"] = started
            return None
        return _refusal(_refuse(current, head))

    @app.errorhandler(SchemaMismatch)
    def _mismatch(error: SchemaMismatch) -> Response:
        db.session.rollback()
        return _refusal(str(error))

    @app.errorhandler(sa_exc.ProgrammingError)
    def _missing_table(error: sa_exc.ProgrammingError) -> Response:
        """A table or column gone since the last check (downgraded under this process): the 503 now, not a
        500 on every request until the next re-check. Any other programming error stays a 500."""
        db.session.rollback()
        try:
            current, head = migration_state()
        except sa_exc.SQLAlchemyError:
            raise error from None
        if current != head:
            return _refusal(_refuse(current, head))
        raise error


def _refusal(message: str) -> Response:
    """The 503: problem+json under /api, the plain message elsewhere (it is for the operator)."""
    if request.path == "/api" or request.path.startswith("/api/"):
        from .api.problems import problem

        return problem(503, "Service Unavailable", message)
    return Response(message, status=503, mimetype="text/plain")
