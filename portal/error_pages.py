"""Errors: problem+json under /api, a page elsewhere; never a stack trace."""

from __future__ import annotations

import contextlib

from flask import Flask, Response, request, session
from flask_babel import force_locale
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, InternalServerError

from .api.problems import from_service_error, problem
from .errors import ServiceError
from .extensions import db
from .unit_of_work import conflict
from .web.render import render


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    init_database_errors(app)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Response:
        return render("errors/error.html", status=400, code=400,
                      message="The form has expired or was not sent from this site. Reload the page and try again.")

    @app.errorhandler(ServiceError)
    def _service(error: ServiceError) -> Response:
        db.session.rollback()
        if _is_api():
            return from_service_error(error)
        return render("errors/error.html", status=error.status, code=error.status, message=error.detail)

    @app.errorhandler(IntegrityError)
    def _integrity(error: IntegrityError) -> Response:
        """A unique or foreign-key violation (concurrent writes, at a flush or at the commit) is a 409."""
        found = conflict(error)
        if found is None:  # NOT NULL, CHECK: a bug
            return _unexpected(error)
        return _service(found)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        code = error.code or 500
        if _is_api():
            response = problem(code, error.name, error.description or "")
            if code == 405 and error.valid_methods:  # type: ignore[attr-defined]
                response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
            return response
        return render("errors/error.html", status=code, code=code, message=error.description)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if _is_api():
            return problem(500, "Internal Server Error", "An unexpected error occurred; it has been logged.")
        return render("errors/error.html", status=500, code=500, message=InternalServerError.description)


# --- the database is down, frozen or locked ----------------------------------------------------------

DATABASE_UNAVAILABLE = "The database is unavailable"
RETRY_AFTER = "30"


def _database_down(app: Flask, error: Exception) -> Response:
    """503 for a database that cannot be reached, stopped answering (cut by its deadline), or stayed locked
    (SQLite) past its busy timeout. The page touches no table: no account lookup, the language from the
    session or the browser only."""
    with contextlib.suppress(sa_exc.SQLAlchemyError):
        db.session.rollback()
    app.logger.warning("database unavailable on %s %s: %s", request.method, request.path,
                       str(error).splitlines()[0] if str(error) else error.__class__.__name__)
    headers = {"Retry-After": RETRY_AFTER}
    if _is_api():
        return problem(503, "Service Unavailable", DATABASE_UNAVAILABLE + ".", headers=headers)
    from .web.i18n import LANGUAGES

    chosen = session.get("lang")
    locale = chosen.lower() if chosen in LANGUAGES else (
        request.accept_languages.best_match([code.lower() for code in LANGUAGES]) or "en")
    with force_locale(locale):  # the template alone: context processors would look the account up
        body = app.jinja_env.get_template("errors/database.html").render(locale=locale)
    return Response(body, status=503, headers=headers, mimetype="text/html")


def init_database_errors(app: Flask) -> None:
    """Register the 503 for database outages (OperationalError covers refused, cut, timed out and locked)."""
    for kind in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
        app.register_error_handler(kind, lambda error: _database_down(app, error))
