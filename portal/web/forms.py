"""Form helpers: turn posted fields into schema input, and errors into per-field messages."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import ServiceError
from ..schemas.validation import invalid_from_pydantic
from ..words import Message

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: dict[str, Any]) -> M:
    """Validate form values with the API's schema; raises Invalid naming the fields."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from_pydantic(exc) from exc


def blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def messages(error: ServiceError) -> dict[str, Message]:
    """The error's messages by field, for a form: each under its wire path (`platforms[2].transportDest`) and,
    inside a list item, under its own name too (`transportDest`), so the page's input finds it; an error
    naming no field goes above the form (`_form`)."""
    found: dict[str, Message] = {}
    for e in error.errors:
        found.setdefault(e.field, e.message)
        if "]." in e.field:
            found.setdefault(e.field.rsplit("].", 1)[1], e.message)
    return found or {"_form": error.detail}
