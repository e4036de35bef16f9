"""Requests too large to serve, refused before anything else runs (no session, no database, no view).

A URL longer than `MAX_URL_BYTES` is a 414 and a header block larger than `MAX_HEADER_BYTES` a 431,
whatever server runs the app. The server refuses first when its own limits are lower: gunicorn (`make run`
and production) answers 414 past 4094 bytes of request line and 431 past 8190 bytes of one header field
or 100 fields."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from flask import Flask

WSGIEnvironment = dict[str, Any]


def url_bytes(environ: WSGIEnvironment) -> int:
    """The length of the request target as received (path and query)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return len(raw)
    query = environ.get("QUERY_STRING", "")
    return len(environ.get("SCRIPT_NAME", "")) + len(environ.get("PATH_INFO", "")) + (len(query) + 1 if query else 0)


def header_bytes(environ: WSGIEnvironment) -> int:
    """The size of the header block (`Name: value` CRLF per field)."""
    total = 0
    for key, value in environ.items():
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            total += len(key) - (5 if key.startswith("HTTP_") else 0) + len(str(value)) + 4
    return total


class RequestLimits:
    """WSGI middleware around `app.wsgi_app`; reads the limits from the app's config on each request."""

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: Any) -> Iterable[bytes]:
        config = self.app.config
        if url_bytes(environ) > int(config["MAX_URL_BYTES"]):
            return _refuse(environ, start_response, 414, "URI Too Long",
                           f"The URL is longer than {config['MAX_URL_BYTES']} bytes.")
        if header_bytes(environ) > int(config["MAX_HEADER_BYTES"]):
            return _refuse(environ, start_response, 431, "Request Header Fields Too Large",
                           f"The request headers are larger than {config['MAX_HEADER_BYTES']} bytes.")
        return self.wsgi_app(environ, start_response)


def _refuse(environ: WSGIEnvironment, start_response: Any, status: int, title: str, detail: str) -> list[bytes]:
    if environ.get("PATH_INFO", "").startswith("/api/"):
        body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
        kind = "application/problem+json"
    else:
        body, kind = f"{title}: {detail}\n".encode(), "text/plain; charset=utf-8"
    start_response(f"{status} {title}", [
        ("Content-Type", kind), ("Content-Length", str(len(body))), ("Connection", "close"),
        ("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"),
    ])
    return [body]


def init_app(app: Flask) -> None:
    app.wsgi_app = RequestLimits(app, app.wsgi_app)  # type: ignore[method-assign]
