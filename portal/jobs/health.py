"""Diagnostics jobs: one domain (the page's *Run now*), every enabled domain (scheduled, `check_domains`), and
the notice to a domain that started failing (asked for by either, sent once: services/domain_health.notify).

The scheduled run asks for one `check_domains_batch` job per BATCH domains: a batch ends well inside the job
timeout even when DNS does not answer at all (BATCH / POSTERN_HEALTH_CONCURRENCY rounds of the DNS deadline, a
few lookups deep), each batch keeps its reports when it ends, and RQ's workers share the batches."""

from __future__ import annotations

from typing import Any

from .. import outbox
from ..services import domain_health
from .registry import job

BATCH = 200  # domains a check_domains_batch job diagnoses


@job("domain_health")
def domain_health_job(domain_id: int) -> dict[str, Any] | None:
    """Diagnose one domain and keep its report (the page polls until its state is done)."""
    return domain_health.check_one(domain_id)


@job("check_domains")
def check_domains() -> dict[str, int]:
    """Ask for the re-check of every enabled domain, in batches (run after this job commits)."""
    ids = domain_health.enabled_ids()
    for start in range(0, len(ids), BATCH):
        outbox.enqueue("check_domains_batch", ids[start:start + BATCH])
    return {"domains": len(ids), "batches": -(-len(ids) // BATCH)}


@job("check_domains_batch")
def check_domains_batch(domain_ids: list[int]) -> dict[str, int]:
    """Re-check these domains (those still enabled), POSTERN_HEALTH_CONCURRENCY at a time; changes are recorded."""
    return domain_health.check_all(domain_ids=domain_ids)


@job("notify_domain_health")
def notify_domain_health(domain_id: int) -> list[str]:
    """Tell a domain's contact it started failing (once per failing spell)."""
    return domain_health.notify(domain_id)
