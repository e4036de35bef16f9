"""Housekeeping jobs (each one unit of work: `perform` commits it)."""

from __future__ import annotations

from datetime import timedelta

from ..services import domains, links, tokens, uploads, wblist
from ..services.changes import rules_changed
from .registry import job


@job("purge_expired_tokens")
def purge_expired_tokens(days: int = 30) -> int:
    """Delete API tokens expired for more than `days` days, and mail links expired or used that long ago."""
    return tokens.purge_expired(timedelta(days=days)) + links.purge(timedelta(days=days))


@job("purge_due_domains")
def purge_due_domains() -> list[str]:
    """Remove the soft-deleted domains whose purge date has passed (the export follows)."""
    return domains.purge_due()


@job("purge_expired_rules")
def purge_expired_rules() -> int:
    """Delete sender rules whose expiry has passed (they stopped applying then) and re-export."""
    removed = wblist.purge_expired()
    if removed:
        rules_changed()
    return removed


@job("purge_expired_uploads")
def purge_expired_uploads() -> int:
    """Delete the uploaded files nobody sent within POSTERN_UPLOAD_TTL_HOURS."""
    return uploads.purge_expired()
