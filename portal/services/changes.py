"""What happens after a change of rules or domains: the data-plane export job (after the commit)."""

from __future__ import annotations

from flask import current_app

from ..jobs import enqueue
from ..jobs.export import export_rules


def rules_changed() -> None:
    if current_app.config.get("EXPORT_ON_CHANGE", True):
        enqueue(export_rules)
