"""Refuse to serve on a database whose schema is not at the latest migration."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, Response, current_app, request

from .extensions import db

MESSAGE = (
    "The database schema is not up to date (at {current}, code expects {head}). "
    "Run `flask --app app db upgrade` (make run does it), then reload."
)


def migration_state() -> tuple[str | None, str | None]:
    """(current revision of the database, head revision of migrations/)."""
    directory = Path(current_app.extensions["migrate"].directory)
    cfg = Config()
    cfg.set_main_option("script_location", str(directory))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head


def init_app(app: Flask) -> None:
    state = {"ok": not app.config.get("CHECK_MIGRATIONS", True)}

    @app.before_request
    def _require_current_schema() -> Response | None:
        if state["ok"] or request.endpoint == "static":
            return None
        current, head = migration_state()
        if current == head:
            state["ok"] = True
            return None
        app.logger.error(MESSAGE.format(current=current, head=head))
        return Response(MESSAGE.format(current=current, head=head), status=503, mimetype="text/plain")
