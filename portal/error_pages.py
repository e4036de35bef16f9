"""Errors: problem+json under /api, a page elsewhere; never a stack trace."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFError
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
