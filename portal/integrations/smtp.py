"""Delivery over SMTP with explicit timeouts (release of quarantined mail)."""

from __future__ import annotations

import smtplib
import ssl

from ..errors import Unavailable

_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    """One verifying context for the process (loading the CA bundle costs ~20 ms: not per mail)."""
    global _context
    if _context is None:
        _context = ssl.create_default_context()
    return _context


def deliver(host: str, port: int, transport: str, sender: str, recipients: list[str], raw: bytes, *,
            timeout: float) -> dict[str, tuple[int, bytes]]:
    """Send `raw` to `recipients`; returns the refused recipients (empty: every one got a 250).

    transport: SMTP (plain), SMTPS_MAY (STARTTLS when offered), SMTPS_ENCRYPT (implicit TLS)."""
    try:
        if transport == "SMTPS_ENCRYPT":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls())
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            client.ehlo()
            if transport == "SMTPS_MAY" and client.has_extn("starttls"):
                client.starttls(context=_tls())
                client.ehlo()
            return client.sendmail(sender, recipients, raw)
    except smtplib.SMTPRecipientsRefused as exc:
        return dict(exc.recipients)
    except (OSError, smtplib.SMTPException) as exc:
        raise Unavailable(f"The relay {host}:{port} did not take the message ({exc}).") from exc
