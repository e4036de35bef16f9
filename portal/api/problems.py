"""application/problem+json bodies (RFC 9457) with the offending fields named."""

from __future__ import annotations

from typing import Any

from flask import Response, json
from pydantic import ValidationError

from ..errors import FieldError, Invalid, ServiceError

PROBLEM_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str = "", errors: list[FieldError] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["errors"] = [{"field": e.field, "message": e.message} for e in errors or []]
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def from_service_error(error: ServiceError) -> Response:
    headers = {"WWW-Authenticate": 'Bearer realm="postern"'} if error.status == 401 else None
    return problem(error.status, error.title, error.detail, error.errors, headers)


def field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def invalid_from_pydantic(error: ValidationError) -> Invalid:
    errors = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "Unknown field."
        elif item["type"] == "enum" and "expected" in item.get("ctx", {}):
            message = f"Must be one of {item['ctx']['expected']}."
        errors.append(FieldError(field_path(loc), message))
    return Invalid("The request is not valid: " + "; ".join(f"{e.field}: {e.message}" for e in errors), errors)
