"""Delivery over SMTP with a deadline on the whole session (release of quarantined mail)."""

from __future__ import annotations

import smtplib
import socket
import ssl

from ..errors import MaybeDelivered, Unavailable
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
    handed_over = False  # DATA was sent: from then on the relay may hold the message, whatever fails

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return self.deadline.connect((host, port), timeout)

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        self.handed_over = True
        return super().data(msg)

    def __exit__(self, kind: object, *rest: object) -> None:
        """QUIT only after a finished exchange. After a failure (the deadline's cut, a worker's abort) the
        next line from the relay may be the pending answer to DATA: smtplib's QUIT would read that 250 as a
        wrong QUIT reply and raise an SMTP error in place of the real one (gunicorn's SystemExit
        included), so the message would count as not taken while the relay had it."""
        if kind is None:
            try:
                super().__exit__(kind, *rest)
            except (OSError, smtplib.SMTPException):  # the message was answered already: QUIT changes nothing
                self.close()
        else:
            self.close()


class _ImplicitTLS(smtplib.SMTP_SSL, _Client):
    """SMTP_SSL wraps the socket `_Client` opened (and watches): the TLS handshake is inside the deadline."""


def deliver(host: str, port: int, transport: str, sender: str, recipients: list[str], raw: bytes, *,
            timeout: float) -> dict[str, tuple[int, bytes]]:
    """Send `raw` to `recipients`; returns the refused recipients (empty: every one got a 250).

    transport: SMTP (plain), SMTPS_MAY (STARTTLS when offered), SMTPS_ENCRYPT (implicit TLS).
    `timeout` bounds the whole session, connect to QUIT: a relay that trickles its answers is cut there."""
    client: _Client | None = None
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
            if client is not None and client.handed_over and not isinstance(exc, smtplib.SMTPResponseException):
                raise MaybeDelivered(f"The relay {host}:{port} did not confirm the message within {timeout:g} s "
                                     f"({exc}); it may have been delivered.") from exc
            if deadline.expired:
                raise Unavailable(f"The relay {host}:{port} did not finish within {timeout:g} s.") from exc
            raise Unavailable(f"The relay {host}:{port} did not take the message ({exc}).") from exc
