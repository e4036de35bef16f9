"""The file outbox of the embedded default: each mail an .eml file in instance/outbox/."""

from __future__ import annotations

import os
import tempfile
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from flask import current_app

from ..errors import Invalid


def write(*, to: str, subject: str, body: str, idempotency_key: str) -> str:
    """Write a mail once per key (a retried job does not write it twice); returns the file name."""
    if any(c in to + subject for c in "\r\n"):
        raise Invalid("CR/LF in a header of an outgoing mail.")
    directory = Path(current_app.config["INSTANCE_DIR"]) / "outbox"
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{idempotency_key}.eml"
    target = directory / name
    if target.exists():
        return name
    message = EmailMessage(policy=SMTP)
    message["From"] = current_app.config.get("MAIL_FROM", "postern@localhost")
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(message.as_bytes())
    os.replace(tmp, target)
    return name


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
