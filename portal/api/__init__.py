"""The JSON API under /api, wire-compatible with the Cleanmail API (one module per seed group)."""

from . import domains, emails, mailservers, openapi, rules, security, signs, tokens, users  # noqa: F401 (registers the routes)
from .framework import REGISTRY, bp

__all__ = ["REGISTRY", "bp"]
