"""Whether a quarantined message is infected: the one answer for the list, the message page and release.

The filter's verdict is in the message's headers (`X-Virus-Name`, or `X-Quarantine-Reason: VIRUS`).
When POSTERN_CLAMD names a clamd, a message whose bytes are at hand is also scanned live, so that a
message the filter did not mark is caught: the message page and release both pass the bytes (they
read the whole message anyway) and so agree; a list reads headers only and stays cheap."""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app

from ..integrations import clamd
from ..integrations.mailstore import Summary


def header_verdict(headers: Mapping[str, str]) -> bool:
    """The filter's own verdict, from the data-plane headers."""
    return bool(headers.get("X-Virus-Name")) or (headers.get("X-Quarantine-Reason") or "").upper() == "VIRUS"


def infected(raw: bytes) -> str | None:
    """The virus clamd finds in a message, None when clean or when no clamd is configured.

    A configured clamd that cannot be reached is a 503: a release is not done unscanned."""
    address = current_app.config.get("CLAMD")
    if not address:
        return None
    return clamd.scan(address, raw, timeout=float(current_app.config["CLAMD_TIMEOUT"]))


def is_infected(summary: Summary, raw: bytes | None = None) -> bool:
    """The header verdict, then (given the message's bytes and a configured clamd) a live scan.
    Raises Unavailable when the configured clamd cannot be reached."""
    return header_verdict(summary.headers) or (raw is not None and infected(raw) is not None)
