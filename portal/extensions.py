"""Flask extensions, created unbound here and initialised in create_app()."""

from typing import Any

from flask_babel import Babel
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = HTMX()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """SQLite enforces foreign keys (ON DELETE CASCADE) only when asked, per connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def setup_engine_events() -> None:
    """Install connection hooks once the engine exists (inside an app context)."""
    from flask import current_app
    from sqlalchemy import event

    engine = db.engine
    if not getattr(engine, "postern_fork_safe", False):
        from .integrations import database

        database.forget_after_fork(engine)  # first: before the idle ping's checkout hook
        engine.postern_fork_safe = True  # type: ignore[attr-defined]
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_pragmas):
        event.listen(engine, "connect", _sqlite_pragmas)
    if engine.dialect.driver == "psycopg" and not getattr(engine, "postern_guarded", False):
        # Every wait on a PostgreSQL connection, and the pool's pre-ping, ends by a deadline (no hang on a
        # frozen server); see integrations/database.py.
        from .integrations import database

        statement = float(current_app.config["DB_STATEMENT_TIMEOUT"])
        ping = float(current_app.config["DB_CONNECT_TIMEOUT"])

        def _connect(_dialect: object, _record: object, cargs: list[Any], cparams: dict[str, Any]) -> Any:
            return database.connect(statement, *cargs, **cparams)

        event.listen(engine, "do_connect", _connect)
        engine.dialect.do_ping = lambda dbapi_connection: database.ping(dbapi_connection, ping)  # type: ignore[method-assign]
        database.ping_when_idle(engine, float(current_app.config["DB_PING_IDLE_SECONDS"]), ping)
        database.begin_before_write(engine)
        engine.postern_guarded = True  # type: ignore[attr-defined]
