"""Statistics jobs: the daily count of held mail from the stores (`collect_statistics`, scheduled, and `flask
portal statistics`), one `collect_statistics_batch` per BATCH domains (as the diagnostics do), and the retention
(`purge_statistics`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from .. import outbox
from ..clock import utcnow
from ..services import statistics
from .registry import job

BATCH = 50  # domains a collect_statistics_batch job counts (each reads every mailbox of its domains)


@job("collect_statistics")
def collect_statistics(day: str | None = None) -> dict[str, Any]:
    """Ask for the count of `day` (ISO date; default yesterday) of every enabled domain, in batches."""
    when = date.fromisoformat(day) if day else utcnow().date() - timedelta(days=1)
    ids = statistics.domain_ids()
    for start in range(0, len(ids), BATCH):
        outbox.enqueue("collect_statistics_batch", ids[start:start + BATCH], when.isoformat())
    return {"day": when.isoformat(), "domains": len(ids), "batches": -(-len(ids) // BATCH)}


@job("collect_statistics_batch")
def collect_statistics_batch(domain_ids: list[int], day: str) -> dict[str, Any]:
    """Count the held mail of `day` of these domains (a day counted again replaces its numbers)."""
    when = date.fromisoformat(day)
    held, failed = 0, {}
    for domain_id in domain_ids:
        done = statistics.collect(domain_id, when)
        held += done.held
        failed.update(done.failed)
    return {"day": day, "domains": len(domain_ids), "held": held, "failed": failed}


@job("purge_statistics")
def purge_statistics() -> int:
    """Delete the statistics older than POSTERN_STATS_RETENTION_DAYS."""
    return statistics.purge()
