"""Housekeeping jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from ..extensions import db
from ..services import domains, tokens, uploads, wblist
from ..services.changes import rules_changed
from . import dispatch

if TYPE_CHECKING:
    from rq.cron import CronScheduler


def purge_expired_tokens(days: int = 30) -> int:
    """Delete API tokens expired for more than `days` days."""
    removed = tokens.purge_expired(timedelta(days=days))
    db.session.commit()
    return removed


def purge_due_domains() -> list[str]:
    """Remove the soft-deleted domains whose purge date has passed."""
    removed = domains.purge_due()
    db.session.commit()
    dispatch()  # the export that follows a purge
    return removed


def schedule(scheduler: CronScheduler, queue_name: str) -> None:
    """The periodic housekeeping, for `flask --app app portal scheduler`."""
    scheduler.register(purge_due_domains, queue_name, cron="17 * * * *", name="purge-domains")
    scheduler.register(purge_expired_tokens, queue_name, cron="43 3 * * *", name="purge-tokens")
    scheduler.register(purge_expired_rules, queue_name, cron="*/5 * * * *", name="purge-rules")
    scheduler.register(purge_expired_uploads, queue_name, cron="29 * * * *", name="purge-uploads")


def purge_expired_rules() -> int:
    """Delete sender rules whose expiry has passed (they stopped applying then) and re-export."""
    removed = wblist.purge_expired()
    if removed:
        rules_changed()
    db.session.commit()
    dispatch()
    return removed


def purge_expired_uploads() -> int:
    """Delete the uploaded files nobody sent within POSTERN_UPLOAD_TTL_HOURS."""
    removed = uploads.purge_expired()
    db.session.commit()
    return removed
