"""Delivery over SMTP with a deadline on the whole session (release of quarantined mail)."""

from __future__ import annotations

import smtplib
import socket
import ssl

from ..errors import Unavailable
from .deadline import Deadline

_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    """One verifying context for the process (loading the CA bundle costs ~20 ms: not per mail)."""
    global _context
    if _context is None:
        _context = ssl.create_default_context()
    return _context


class _Client(smtplib.SMTP):
    """smtplib's client whose connection is watched by a deadline from the moment it exists."""

    deadline: Deadline

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return self.deadline.connect((host, port), timeout)


class _ImplicitTLS(smtplib.SMTP_SSL, _Client):
    """SMTP_SSL wraps the socket `_Client` opened (and watches): the TLS handshake is inside the deadline."""


def deliver(host: str, port: int, transport: str, sender: str, recipients: list[str], raw: bytes, *,
            timeout: float) -> dict[str, tuple[int, bytes]]:
    """Send `raw` to `recipients`; returns the refused recipients (empty: every one got a 250).

    transport: SMTP (plain), SMTPS_MAY (STARTTLS when offered), SMTPS_ENCRYPT (implicit TLS).
    `timeout` bounds the whole session, connect to QUIT: a relay that trickles its answers is cut there."""
    with Deadline(timeout) as deadline:
        try:
            client = _ImplicitTLS(timeout=timeout, context=_tls()) if transport == "SMTPS_ENCRYPT" \
                else _Client(timeout=timeout)
            client.deadline, client._host = deadline, host  # _host: the name TLS verifies
            with client:
                client.connect(host, port)
                client.ehlo()
                if transport == "SMTPS_MAY" and client.has_extn("starttls"):
                    client.starttls(context=_tls())
                    client.ehlo()
                return client.sendmail(sender, recipients, raw)
        except smtplib.SMTPRecipientsRefused as exc:
            return dict(exc.recipients)
        except (OSError, smtplib.SMTPException) as exc:
            if deadline.expired:
                raise Unavailable(f"The relay {host}:{port} did not finish within {timeout:g} s.") from exc
            raise Unavailable(f"The relay {host}:{port} did not take the message ({exc}).") from exc
