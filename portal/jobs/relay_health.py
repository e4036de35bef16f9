"""Relay diagnostics as jobs: one platform (asked for by a page through the outbox), and the scheduled
re-check of every platform of the enabled domains (bounded by POSTERN_HEALTH_CONCURRENCY)."""

from __future__ import annotations

from typing import Any

from ..extensions import db
from ..models import Platform
from ..services import relay_health
from .registry import job


@job(relay_health.JOB)
def platform_health(platform_id: int, test_address: str | None = None) -> bool | None:
    """Check one platform's relays and keep the report; None when the platform is gone."""
    platform = db.session.get(Platform, platform_id)
    if platform is None:
        return None
    return relay_health.run_platform(platform, test_address=test_address)


@job("recheck_platforms")
def recheck_platforms() -> dict[str, Any]:
    """Re-check every platform of the enabled domains, concurrently; each report replaces the last."""
    return relay_health.recheck_all()
