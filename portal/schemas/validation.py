"""A pydantic ValidationError as the service's `Invalid` (400), each field named by its wire path.

Shared by the API, the pages and the CLI: whoever validates a schema answers its errors the same way."""

from __future__ import annotations

from pydantic import ValidationError

from ..errors import FieldError, Invalid


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
