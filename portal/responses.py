"""Responses shared by the API and the pages."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from flask import Response

from .services.messages import safe_filename


def download(data: bytes, filename: str) -> Response:
    """A file to save, never to display: octet-stream, nosniff, RFC 6266 name (ASCII fallback + UTF-8).

    Whatever the caller passes, both names are made safe here (`safe_filename`: no path, no leading `-`
    or dot, no bidi or other format character)."""
    filename = safe_filename(filename, 0)
    response = Response(data, mimetype="application/octet-stream")
    folded = "".join(c if " " <= c <= "~" else "_" for c in unicodedata.normalize("NFKD", filename)
                     if not unicodedata.combining(c))  # é -> e, 文 -> _
    ascii_name = safe_filename(folded, 0)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
