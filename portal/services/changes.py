"""What happens after a change of rules or domains: the data-plane export job (after the commit)."""

from __future__ import annotations

from flask import current_app

from .. import outbox


def rules_changed() -> None:
    if current_app.config.get("EXPORT_ON_CHANGE", True):
        outbox.enqueue("export_rules")
