"""Housekeeping jobs."""

from __future__ import annotations

from datetime import timedelta

from ..extensions import db
from ..services import domains, tokens


def purge_expired_tokens(days: int = 30) -> int:
    """Delete API tokens expired for more than `days` days."""
    removed = tokens.purge_expired(timedelta(days=days))
    db.session.commit()
    return removed


def purge_due_domains() -> list[str]:
    """Remove the soft-deleted domains whose purge date has passed."""
    removed = domains.purge_due()
    db.session.commit()
    return removed
