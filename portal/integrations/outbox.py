"""The file outbox of the embedded default: mail for addresses outside this portal, each an .eml file in
instance/outbox/ (with POSTERN_DELIVERY=local)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import current_app


def write_raw(raw: bytes, *, sender: str, recipients: list[str]) -> str:
    """Keep a ready mail for recipients outside this host (the embedded default's delivery); returns the file."""
    directory = Path(current_app.config["INSTANCE_DIR"]) / "outbox"
    directory.mkdir(parents=True, exist_ok=True)
    envelope = f"X-Postern-Envelope: from={sender} to={','.join(recipients)}\r\n".encode()
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(envelope + raw)
    name = Path(tmp).with_suffix(".eml").name
    os.replace(tmp, directory / name)
    return name
