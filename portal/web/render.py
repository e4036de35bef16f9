"""render(): the full page, or only its fragment for an HTMX request."""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template

from ..extensions import htmx


def wants_fragment() -> bool:
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(template: str, fragment: str | None = None, status: int = 200, **context: Any) -> Response:
    name = fragment if fragment and wants_fragment() else template
    response = make_response(render_template(name, **context), status)
    response.vary.add("HX-Request")
    return response
