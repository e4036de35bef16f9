"""The domain-wide quarantine search (services/quarantine_search.py): one job per search, and its housekeeping.

The search writes each mailbox's hits and progress as it goes (committed apart), so a page polling it sees the
first hits while it runs. In-process (no Redis) it runs after the answer to the POST that asked for it has been
sent (`after_response`): the POST answers 202 at once."""

from __future__ import annotations

from typing import Any

from ..services import quarantine_search
from .registry import job


@job("quarantine_search", after_response=True)
def quarantine_search_job(search_id: str) -> dict[str, Any] | None:
    """Search the mailboxes of one search (asked for by `quarantine_search.start`)."""
    return quarantine_search.run(search_id)


@job("purge_expired_searches")
def purge_expired_searches() -> int:
    """Delete the quarantine searches kept for POSTERN_QSEARCH_KEEP_SECONDS, with their hits."""
    return quarantine_search.purge_expired()
