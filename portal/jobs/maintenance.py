"""Housekeeping jobs."""

from __future__ import annotations

from datetime import timedelta

from ..extensions import db
from ..services import tokens


def purge_expired_tokens(days: int = 30) -> int:
    """Delete API tokens expired for more than `days` days."""
    removed = tokens.purge_expired(timedelta(days=days))
    db.session.commit()
    return removed
