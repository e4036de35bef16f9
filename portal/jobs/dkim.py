"""DKIM rotations: the hourly look in DNS for every pending key (one unit of work; each domain in a savepoint)."""

from __future__ import annotations

from ..services import dkim
from .registry import job


@job("dkim_rotations")
def dkim_rotations() -> dict[str, str]:
    """Activate each pending DKIM key that DNS now serves; a domain whose check fails is logged and skipped."""
    return dkim.check_pending_rotations()
