"""One unit of work per request: commit once at the end if the request succeeded, roll back otherwise.

The rule, for pages and the API alike (Indico's request handler works the same way):

- views and services never commit or roll back (`tests/test_unit_of_work.py` checks the source);
- `finish()` runs after the view (an app-level `after_request`, registered last so that it runs
  before every other app-level one, after the blueprints' own): a 2xx/3xx answer commits, any
  4xx/5xx answer (an error page, a problem+json, a form shown again with its errors) rolls back.
  The commit happens before the response leaves: an error at commit replaces the answer (a unique
  violation is a 409, as below), and the session cookie goes back to what the request brought,
  so a login or a password change that was not saved is not half done either;
- jobs asked for during the request are handed over after this commit (`portal/jobs` listens
  for the commit and dispatches in its own `after_request`, which runs after this one);
- a form that catches a `ServiceError` to show it next to a field runs the service call in
  `attempt()`: a savepoint, so nothing the refused call wrote survives, and the page is rendered
  from the database as it was.

The audit trail is written here too (`_audit`, rules in `portal/services/audit.py`): an administrator's
successful write, and its reads of a user's mail that services noted, are added to the session just
before the commit, so a write and its record are saved together or not at all. The objects the URL
names are looked up before the view runs (`_describe`), while a deleted one still has its name.

Integrity errors are conflicts: `conflict()` is the one mapping from a unique (or foreign-key)
violation to a `Conflict` naming the field, from the constraint's name (`CONFLICTS`); an unknown
constraint still gives a 409 with a generic message. It serves `attempt()`, the error handler
(`portal/error_pages.py`, for a flush inside a view and for the commit) and so every page and
API route.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, current_app, g, request, session
from flask_login import current_user
from sqlalchemy import UniqueConstraint, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .errors import Conflict, FieldError
from .extensions import db
from .integrations import database
from .models import Admin, MailUser
from .services import audit
from .words import Message, _l

UNIQUE_DEFAULT = "This already exists: it was saved at the same time by another request."
REFERENCE_DEFAULT = ("This refers to something that was changed or removed at the same time, "
                     "or that is still in use: reload the page and try again.")

# constraint name -> (field named in the error, message); the names follow extensions.NAMING.
CONFLICTS: dict[str, tuple[str, Message]] = {
    "uq_admins_login": ("login", "This login is already taken."),
    "uq_brokers_name": ("name", "A broker with this name exists already."),
    "uq_customers_broker_id": ("name", "The broker has a customer with this name already."),
    "uq_outgoing_providers_name": ("name", "A provider with this name exists already."),
    "uq_domains_name": ("name", "An alias or a domain already exists with this name."),
    "uq_domain_aliases_name": ("name", "An alias or a domain already exists with this name."),
    "uq_policies_domain_id": ("name", "A policy may already exists with the given name."),
    "uq_users_email": ("email", "A user already exists with this address."),
    "uq_email_aliases_email": ("email", "An email alias or a mailbox already exists with this address."),
    "uq_email_alias_recipients_alias_id": ("recipients", "A recipient is listed twice."),
    "uq_sender_rules_owner_key": ("value", "A rule for this sender already exists."),
    "uq_attachment_rules_domain_id": ("filter", "This item may already exists with same rules."),
    "uq_uri_rules_domain_id": ("filter", "This item may already exists with same rules."),
    "uq_option_values_scope": ("value", "The option was set at the same time by another request."),
    "uq_mail_servers_name": ("name", _l("A mail server with this name exists already.")),
    "uq_mail_servers_enabled_smtp": ("enabled", _l("Another SMTP server was enabled at the same time: reload and "
                                                   "try again.")),
    "uq_dkim_keys_domain_id": ("selector", _l("A DKIM key with this selector was saved at the same time by another "
                                              "request.")),
    "uq_dkim_keys_active": ("body", _l("Another DKIM key of this domain was made active at the same time: reload "
                                       "and try again.")),
    "uq_authorities_admin_id": ("authorities", "The administrator was given access to this object at the same "
                                               "time by another request."),
}

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")


def _sqlite_constraint(message: str) -> str | None:
    """SQLite names the columns ("UNIQUE constraint failed: t.a, t.b"): find the constraint they form."""
    found = _SQLITE_UNIQUE.search(message)
    if found is None:
        return None
    pairs = [part.strip().partition(".") for part in found.group(1).split(",")]
    tables = {table for table, _, _ in pairs}
    if len(tables) != 1:
        return None
    table = db.metadata.tables.get(tables.pop())
    if table is None:
        return None
    columns = {column for _, _, column in pairs}
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and {c.name for c in constraint.columns} == columns:
            return str(constraint.name)
    for index in table.indexes:
        if index.unique and {c.name for c in index.columns} == columns:
            return str(index.name)
    return None


def _violation(error: IntegrityError) -> tuple[str, str | None] | None:
    """("unique" | "reference", constraint name if known), or None for other integrity errors."""
    orig = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)  # psycopg 3 / psycopg2
    if state is not None:
        kind = {"23505": "unique", "23503": "reference"}.get(state)
        diag = getattr(orig, "diag", None)
        return (kind, getattr(diag, "constraint_name", None)) if kind else None
    message = str(orig)
    if "UNIQUE constraint failed" in message:
        return "unique", _sqlite_constraint(message)
    if "FOREIGN KEY constraint failed" in message:
        return "reference", None
    return None  # NOT NULL, CHECK: a bug, not a conflict


def conflict(error: IntegrityError) -> Conflict | None:
    """The 409 for a unique or foreign-key violation (None for other integrity errors)."""
    found = _violation(error)
    if found is None:
        return None
    kind, name = found
    if name in CONFLICTS:
        field, message = CONFLICTS[name]
        return Conflict(message, [FieldError(field, message)])
    return Conflict(UNIQUE_DEFAULT if kind == "unique" else REFERENCE_DEFAULT)


@contextmanager
def attempt() -> Iterator[None]:
    """All or nothing for one part of the unit of work (a savepoint).

    A form view runs its service call in it and catches `ServiceError` to show the form again:
    on an error everything the block wrote is undone, and a unique violation at its flush is
    raised as the `Conflict` naming the field. What the request did before the block stays."""
    try:
        with db.session.begin_nested():
            yield
    except IntegrityError as error:
        found = conflict(error)
        if found is None:
            raise
        raise found from error


def _remember_session() -> None:
    g.unit_of_work_session = copy.deepcopy(dict(session))


def _read_only() -> None:
    """A GET or HEAD reads: on PostgreSQL its statements run without a transaction (no BEGIN, no COMMIT; a
    write it does after all begins one first: `integrations.database.begin_before_write`)."""
    if (request.method in ("GET", "HEAD") and request.endpoint != "static"
            and db.engine.dialect.name == "postgresql" and not db.session().in_transaction()):
        db.session.connection(execution_options=database.AUTOCOMMIT)


def _describe() -> None:
    """Before a write: name the objects of its URL (the trail keeps the name of what it deletes)."""
    if db.session.registry.has():
        audit.take_notes()  # nothing a previous request left in a session it shares (tests' app context)
    if request.method in audit.WRITES and request.view_args and request.blueprint != "auth":
        g.audit_target = audit.describe(request.view_args)


def _actor() -> tuple[Admin | None, MailUser | None]:
    """The administrator behind the request (an API token's, a page session's, or the one viewing a
    user's portal, with that user); None for mailbox users and anonymous requests."""
    principal = g.get("principal")  # the API's
    if principal is not None:
        return principal.admin, None
    if request.blueprint in ("api", "auth") or request.endpoint == "static":
        return None, None
    impersonator = getattr(current_user, "impersonator", None)
    if impersonator is not None:  # only the user's portal is open to it (elsewhere: sent back there)
        return (impersonator, current_user.user) if request.blueprint == "user" else (None, None)
    if request.blueprint == "user":  # an administrator's session is sent to its own pages
        return None, None
    return getattr(current_user, "admin", None), None


def _errors_flashed(state: Any) -> int:
    return sum(1 for category, _ in state.get("_flashes", []) if category == "error")


def _audit() -> None:
    """The audit events of a request about to be committed (see `portal/services/audit.py`)."""
    notes = audit.take_notes()
    write = request.method in audit.WRITES and not notes["recorded"]
    if not (write or notes["reads"]):
        return
    actor, impersonated = _actor()
    if actor is None:
        return
    if write and _errors_flashed(session) > _errors_flashed(g.get("unit_of_work_session") or {}):
        write = False  # refused on the page it came from (an error flashed by this request): nothing written
    target, user_id = g.get("audit_target", ("", None))
    body = request.get_json(silent=True) if request.is_json else None
    audit.record_request(actor, audit.Request(
        method=request.method, route=request.url_rule.rule if request.url_rule else request.path[:255],
        action=(request.endpoint or "?").rpartition(".")[2], client=request.remote_addr or "",
        target=target, user_id=user_id,
        detail=audit.fields(request.form.to_dict(flat=False), [f.filename or "" for f in request.files.values()],
                            body) if write else "",
    ), notes["reads"], impersonated=impersonated, write=write)


def _restore_session() -> None:
    before = g.pop("unit_of_work_session", None)
    if before is not None:
        session.clear()
        session.update(before)


@contextmanager
def apart() -> Iterator[Connection]:
    """A short transaction committed at once, apart from the request's unit of work: for the few writes
    that must outlive it (`tests/test_unit_of_work.py` names who may: a release's claim and delivery record,
    a failed sign-in's count).

    On PostgreSQL it is a connection of its own, so nothing else of the request is committed with it. On
    SQLite (one writer at a time, and the request's session usually holds the write lock already: a token's
    last use, say) it is the session's transaction, committed: the request's writes so far go with it."""
    if db.engine.dialect.name == "sqlite":
        yield db.session.connection()
        db.session.commit()
    else:
        with db.engine.begin() as conn:
            yield conn


def finish(response: Response) -> Response:
    """The boundary: commit a successful answer, roll back a failed one; a failed commit is the answer."""
    if not db.session.registry.has():  # the request never touched the database (static files)
        return response
    if response.status_code >= 400:
        audit.take_notes()
        db.session.rollback()
        return response
    try:
        _audit()
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        _restore_session()
        return current_app.make_response(current_app.handle_user_exception(error))
    return response


def _begin_before_savepoint(conn: Connection, _name: Any) -> None:
    """pysqlite starts a transaction only before a write, so a SAVEPOINT outside one would start it
    and its RELEASE would commit: open the transaction first (IMMEDIATE, as the block is about to
    write: it waits for the write lock under the busy timeout instead of failing later)."""
    dbapi = conn.connection.dbapi_connection
    if dbapi is not None and not dbapi.in_transaction:  # type: ignore[attr-defined]
        dbapi.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    """Call last in create_app: `finish` must run before the other app-level after_request hooks."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite" and not event.contains(engine, "savepoint", _begin_before_savepoint):
            event.listen(engine, "savepoint", _begin_before_savepoint)
    app.before_request(_remember_session)
    app.before_request(_read_only)
    app.before_request(_describe)
    app.after_request(finish)
