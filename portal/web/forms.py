"""Form helpers: turn posted fields into schema input, and errors into per-field messages."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..schemas.validation import invalid_from_pydantic

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
