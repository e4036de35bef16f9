"""application/problem+json bodies (RFC 9457) with the offending fields named."""

from __future__ import annotations

from typing import Any

from flask import Response, json

from ..errors import FieldError, ServiceError, TooManyRequests
from ..words import Message, english

PROBLEM_TYPE = "application/problem+json"

__all__ = ["PROBLEM_TYPE", "from_service_error", "problem"]


def problem(status: int, title: str, detail: Message = "", errors: list[FieldError] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = english(detail)
    body["errors"] = [{"field": e.field, "message": english(e.message)} for e in errors or []]
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def from_service_error(error: ServiceError) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="postern"'} if error.status == 401 else None
    if isinstance(error, TooManyRequests):
        headers = {"Retry-After": str(error.retry_after)}
    return problem(error.status, error.title, error.detail, error.errors, headers)
