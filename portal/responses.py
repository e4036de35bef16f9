"""Responses shared by the API and the pages."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response


def download(data: bytes, filename: str) -> Response:
    """A file to save, never to display: octet-stream, nosniff, RFC 6266 name (ASCII fallback + UTF-8)."""
    response = Response(data, mimetype="application/octet-stream")
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_") or "attachment"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
