"""The JSON API under /api, wire-compatible with the Cleanmail API (one module per seed group)."""

from . import (  # noqa: F401 (registers the routes)
    dkim,
    domains,
    emails,
    health,
    mailqueue,
    mailservers,
    openapi,
    quarantine_search,
    relay_health,
    rules,
    security,
    services,
    signs,
    statistics,
    tasks,
    tokens,
    tracking,
    users,
)
from .framework import REGISTRY, bp

__all__ = ["REGISTRY", "bp"]
