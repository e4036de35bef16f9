"""A live virus scan before a release, when POSTERN_CLAMD names a clamd."""

from __future__ import annotations

from flask import current_app

from ..integrations import clamd


def infected(raw: bytes) -> str | None:
    """The virus clamd finds in a message, None when clean or when no clamd is configured.

    A configured clamd that cannot be reached is a 503: a release is not done unscanned."""
    address = current_app.config.get("CLAMD")
    if not address:
        return None
    return clamd.scan(address, raw, timeout=float(current_app.config["CLAMD_TIMEOUT"]))
