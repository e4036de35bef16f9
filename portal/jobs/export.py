"""The data-plane export job: re-run after every rule change (cheap when nothing changed)."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from ..integrations import files
from ..services import dataplane
from .registry import job, release_debounce


@job("export_rules", debounce=5)
def export_rules(directory: str | None = None) -> list[str]:
    """Write the effective rules to `directory` (default POSTERN_EXPORT_DIR); returns the files changed."""
    release_debounce("export_rules")
    root = Path(directory or current_app.config["EXPORT_DIR"])
    rendered = dataplane.render(str(root.resolve()))
    return files.write_tree(root, rendered, dataplane.file_modes(rendered))
