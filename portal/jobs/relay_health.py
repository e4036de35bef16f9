"""Relay diagnostics as jobs: one platform (asked for by a page through the outbox), and the scheduled
re-check of every platform of the enabled domains (bounded by POSTERN_HEALTH_CONCURRENCY), in batches of BATCH
platforms: a batch of relays that all hang ends well inside the job timeout (two relays a platform, BATCH * 2 /
concurrency rounds of POSTERN_RELAY_TIMEOUT), and keeps its reports when it ends."""

from __future__ import annotations

from typing import Any

from .. import outbox
from ..extensions import db
from ..models import Platform
from ..services import relay_health
from .registry import job

BATCH = 64  # platforms a recheck_platforms_batch job probes


@job(relay_health.JOB)
def platform_health(platform_id: int, test_address: str | None = None) -> bool | None:
    """Check one platform's relays and keep the report; None when the platform is gone."""
    platform = db.session.get(Platform, platform_id)
    if platform is None:
        return None
    return relay_health.run_platform(platform, test_address=test_address)


@job("recheck_platforms")
def recheck_platforms() -> dict[str, int]:
    """Ask for the re-check of every platform of the enabled domains, in batches (run after this job commits)."""
    ids = relay_health.enabled_ids()
    for start in range(0, len(ids), BATCH):
        outbox.enqueue("recheck_platforms_batch", ids[start:start + BATCH])
    return {"platforms": len(ids), "batches": -(-len(ids) // BATCH)}


@job("recheck_platforms_batch")
def recheck_platforms_batch(platform_ids: list[int]) -> dict[str, Any]:
    """Re-check these platforms (those of enabled domains), concurrently; each report replaces the last."""
    return relay_health.recheck_all(platform_ids=platform_ids)
