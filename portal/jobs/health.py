"""Diagnostics jobs: one domain (the page's *Run now*), every enabled domain (scheduled, `check_domains`), and
the notice to a domain that started failing (asked for by either, sent once: services/domain_health.notify)."""

from __future__ import annotations

from typing import Any

from ..services import domain_health
from .registry import job


@job("domain_health")
def domain_health_job(domain_id: int) -> dict[str, Any] | None:
    """Diagnose one domain and keep its report (the page polls until its state is done)."""
    return domain_health.check_one(domain_id)


@job("check_domains")
def check_domains() -> dict[str, int]:
    """Re-check every enabled domain, POSTERN_HEALTH_CONCURRENCY at a time; changes are recorded."""
    return domain_health.check_all()


@job("notify_domain_health")
def notify_domain_health(domain_id: int) -> list[str]:
    """Tell a domain's contact it started failing (once per failing spell)."""
    return domain_health.notify(domain_id)
