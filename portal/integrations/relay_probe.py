"""A live probe of one SMTP relay (a platform's transport): connect, banner, EHLO, TLS as the data plane uses it,
the certificate, and an optional `RCPT TO` without DATA.

It rides on `mailserver`'s exchange (one host lookup through `targets.resolve`, the port allow-list of SMTP
servers plus POSTERN_MAILSERVER_PORTS, one `Deadline` on the whole exchange, the redacted transcript, one generic
message for a closed or refused port); only the verdicts differ, because a relay is judged by what the gateway's
Postfix will do with the transport (`services/dataplane.TRANSPORTS`):

- `SMTPS_ENCRYPT` is exported as `smtps:` (implicit TLS, whatever the port): the TLS handshake must succeed.
  A relay that answers in plain text there (it expects STARTTLS) is a TLS failure with that hint.
- `SMTPS_MAY` is Postfix's `may` level: STARTTLS when offered; not offered or failing is a warning (mail
  still flows, in clear). After a failed STARTTLS the probe goes on over a new plain connection.
- `SMTP`: TLS is not used; whether STARTTLS is offered is reported.
- The certificate is checked against the trust anchors given (`ca_pem`, else the system CAs) and the host
  name. Postfix at `encrypt` / `may` does not verify it, so an unverified certificate is a warning, reported with
  why; its details come from a second connection that does not verify (inside the same deadline).
- The RCPT probe sends `MAIL FROM:<>` then `RCPT TO:<address>`, reports the answer, then RSET and QUIT: no DATA.

`probe()` never raises for what the network or the relay does; it raises `TargetRefused` for a host or port the
connection rules refuse (the caller decides whether that is bad input or a finding).
"""

from __future__ import annotations

import functools
import logging
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from .deadline import Deadline
from .mailserver import (
    _SMTP,
    Endpoint,
    Transcript,
    _close,
    _context,
    _quit,
    _Session,
    allowed_ports,
    redact_smtp,
)
from .targets import TargetRefused, normalize_host, resolve

__all__ = ["TRANSPORTS", "Certificate", "Probe", "Relay", "TargetRefused", "probe"]

log = logging.getLogger(__name__)

TRANSPORTS = ("SMTP", "SMTPS_MAY", "SMTPS_ENCRYPT")
Outcome = Literal["OK", "UNRESOLVED", "UNREACHABLE", "TIMEOUT", "NOT_SMTP", "EHLO_REFUSED", "TLS_FAILED",
                  "SENDER_REFUSED", "RCPT_REFUSED", "RCPT_DEFERRED", "ERROR"]
_ADDRESS = re.compile(r"^[^\s<>()\[\]\\,;:\"@\x00-\x1f\x7f]+@[A-Za-z0-9.-]+$")
# OpenSSL's reasons when the peer answered a ClientHello with plain text (an SMTP banner)
_PLAIN_REASONS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL",
                  "HTTP_REQUEST"}


@dataclass(frozen=True)
class Relay:
    host: str
    port: int
    transport: str  # SMTP | SMTPS_MAY | SMTPS_ENCRYPT


@dataclass
class Certificate:
    subject: str
    issuer: str
    not_after: datetime  # aware UTC
    names: list[str]  # subjectAltName DNS names and IP addresses
    verified: bool
    problem: str | None = None  # why it was not verified (OpenSSL's words)


@dataclass
class Probe:
    """What one relay did. `outcome` is the first failure (or OK); the booleans say what else was seen."""

    outcome: Outcome
    detail: str = ""  # English words on the failure, for the report
    address: str | None = None  # "ip port" connected to
    banner: str | None = None
    starttls_offered: bool | None = None
    tls_version: str | None = None  # set once TLS is up
    tls_problem: str | None = None  # a failed TLS attempt (SMTPS_MAY: a warning; SMTPS_ENCRYPT: the outcome)
    plain_answer: bool = False  # an implicit-TLS handshake met a plain-text peer
    certificate: Certificate | None = None
    rcpt: tuple[int, str] | None = None  # the RCPT (or refused MAIL FROM) answer
    transcript: list[str] = field(default_factory=list)
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class _Stop(Exception):
    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome, self.detail = outcome, detail



@functools.lru_cache(maxsize=1)
def _unverified_context() -> ssl.SSLContext:
    """TLS 1.2+ without verification: only to read the certificate a verifying handshake refused."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _certificate(der: bytes | None, verified: bool, problem: str | None) -> Certificate | None:
    from cryptography import x509

    if not der:
        return None
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [*sans.get_values_for_type(x509.DNSName), *(str(ip) for ip in sans.get_values_for_type(x509.IPAddress))]
    except x509.ExtensionNotFound:
        names = []
    return Certificate(subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                       not_after=cert.not_valid_after_utc, names=names, verified=verified, problem=problem)


@dataclass
class _ProbeSession(_Session):
    """`mailserver`'s session, TLS verifying or not, and what TLS showed written into the probe."""

    verify: bool = True
    result: Probe | None = None
    certificate_problem: str | None = None

    def tls_context(self) -> ssl.SSLContext:
        return _context(self.endpoint.certificate_pem) if self.verify else _unverified_context()

    def wrap(self, sock: socket.socket) -> ssl.SSLSocket:
        wrapped = self.tls_context().wrap_socket(sock, server_hostname=self.endpoint.host)
        self.tls_established(wrapped)
        return wrapped

    def tls_established(self, sock: ssl.SSLSocket) -> None:
        self.encrypted = True
        assert self.result is not None
        self.result.tls_version = sock.version()
        self.result.certificate = _certificate(sock.getpeercert(binary_form=True), self.verify,
                                               self.certificate_problem)
        how = f"certificate verified for {self.endpoint.host}" if self.verify else "certificate NOT verified"
        self.transcript.note(f"{sock.version()} established, {how}")


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:300]


def _exchange(session: _ProbeSession, relay: Relay, helo: str, starttls: bool, test_address: str | None) -> None:
    """One connection: banner, EHLO, STARTTLS (SMTPS_MAY, when `starttls`), the RCPT probe; raises what failed."""
    result, ep = session.result, session.endpoint
    assert result is not None
    client = _SMTP(local_hostname=helo, timeout=session.deadline.remaining())
    client.session, session.client = session, client
    client._host = ep.host  # the name TLS verifies
    try:
        code, banner = client.connect(ep.host, ep.port)  # _get_socket: the resolved address, TLS for SMTPS_ENCRYPT
    except smtplib.SMTPConnectError as exc:  # a greeting other than 220 (554: the relay refuses this client)
        result.banner = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        raise _Stop("NOT_SMTP", f"The relay greeted with {exc.smtp_code} instead of 220.") from None
    peer = client.sock.getpeername()
    result.address = f"{peer[0]} port {peer[1]}"
    result.banner = f"{code} {_text(banner)}"
    session.stage = "capabilities"
    if client.ehlo()[0] != 250 and client.helo()[0] != 250:
        raise _Stop("EHLO_REFUSED", "The relay refused the EHLO and HELO greetings.")
    result.starttls_offered = client.has_extn("starttls")
    if relay.transport == "SMTPS_MAY" and starttls and result.starttls_offered:
        session.stage = "tls"
        answer, text = client.starttls(context=session.tls_context())
        if answer != 220:
            raise ssl.SSLError(f"STARTTLS answered {answer} {_text(text)}")
        session.tls_established(client.sock)  # type: ignore[arg-type]
        session.stage = "capabilities"
        if client.ehlo()[0] != 250:
            raise _Stop("EHLO_REFUSED", "The relay refused the EHLO greeting after STARTTLS.")
    if test_address:
        session.stage = "rcpt"
        code, reply = client.mail("")
        if code != 250:
            result.rcpt = (code, _text(reply))
            raise _Stop("SENDER_REFUSED", f"The relay refused the null sender MAIL FROM:<> ({code}).")
        code, reply = client.rcpt(test_address)
        result.rcpt = (code, _text(reply))
        client.rset()
        if code >= 500 or code < 200:
            raise _Stop("RCPT_REFUSED", f"The relay refused RCPT TO:<{test_address}> ({code}).")
        if code >= 400:
            raise _Stop("RCPT_DEFERRED", f"The relay deferred RCPT TO:<{test_address}> ({code}).")
    session.stage = "done"


def _timed_out(deadline: Deadline, exc: BaseException) -> bool:
    """The deadline's cut, or a read's own timeout (the socket's is what is left of the deadline) that came first."""
    if deadline.expired or time.monotonic() >= deadline.at - 0.05:
        return True
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__
    return False


def _failure(session: _ProbeSession, relay: Relay, exc: BaseException) -> tuple[Outcome, str]:
    """The outcome and words for an exception the network or the relay caused."""
    stage, result = session.stage, session.result
    assert result is not None
    if stage == "connect":
        return "UNREACHABLE", "Could not connect to the server."
    if _timed_out(session.deadline, exc):
        waiting = {"greeting": "the banner", "tls": "the TLS handshake", "capabilities": "the EHLO answer",
                   "rcpt": "the RCPT answer"}.get(stage, "an answer")
        return "TIMEOUT", f"The relay did not finish within {session.deadline.seconds:g} s (waiting for {waiting})."
    if stage == "tls" or isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or str(exc)
        if relay.transport == "SMTPS_ENCRYPT" and reason in _PLAIN_REASONS:
            result.plain_answer = True
            return "TLS_FAILED", "The relay answered in plain text: it does not speak implicit TLS on this port."
        return "TLS_FAILED", f"The TLS handshake with the relay failed ({reason})."
    if stage == "greeting":
        return "NOT_SMTP", "The relay closed the connection or did not greet as a mail server."
    return "ERROR", "The relay closed the connection or answered unexpectedly."


def probe(relay: Relay, *, timeout: float, allow_private: bool, extra_ports: Collection[int] | None = None,
          ca_pem: str | None = None, helo: str = "postern.localdomain", test_address: str | None = None) -> Probe:
    """Probe `relay` within `timeout` seconds in all (lookup included). Raises `TargetRefused` for a host or
    port the connection rules refuse and ValueError for a transport or test address that is not one."""
    if relay.transport not in TRANSPORTS:
        raise ValueError(f"unknown transport {relay.transport!r}")
    if test_address is not None and (len(test_address) > 254 or not _ADDRESS.match(test_address)):
        raise ValueError("the test address is not an email address")
    host = normalize_host(relay.host)
    if not helo or not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", helo):
        helo = "postern.localdomain"
    transcript = Transcript(redact_smtp)
    result = Probe("OK")
    endpoint = Endpoint(protocol="SMTP", host=host, port=relay.port, certificate_pem=ca_pem, auth="NO_AUTH",
                        security="SSL_TLS" if relay.transport == "SMTPS_ENCRYPT" else "NONE")
    with Deadline(timeout) as deadline:
        addresses = _addresses(host, relay.port, allow_private, extra_ports, deadline)
        if addresses is None:
            result.outcome, result.detail = "UNRESOLVED", f"The host name {host} could not be resolved."
        verify, starttls, problem = True, True, None
        while addresses is not None:
            session = _ProbeSession(endpoint, addresses, deadline, transcript, timeout, allow_private,
                                    verify=verify, result=result, certificate_problem=problem)
            try:
                _exchange(session, relay, helo, starttls, test_address)
            except ssl.SSLCertVerificationError as exc:
                _close(session.client)
                if not verify or deadline.expired:
                    result.outcome, result.detail = _failure(session, relay, exc)
                    break
                problem = exc.verify_message or str(exc)
                transcript.note(f"certificate not accepted: {problem}; connecting again to read it")
                verify = False
                continue
            except _Stop as stop:
                _quit(session.client, session)
                result.outcome, result.detail = stop.outcome, stop.detail
            except (OSError, EOFError, ValueError, smtplib.SMTPException) as exc:
                _close(session.client)
                retry_plain = session.stage == "tls" and relay.transport == "SMTPS_MAY" and starttls
                if retry_plain and not _timed_out(deadline, exc):
                    result.tls_problem = _failure(session, relay, exc)[1]
                    result.tls_version = result.certificate = None
                    transcript.note("STARTTLS failed; connecting again without it (as Postfix does at level may)")
                    starttls = False
                    continue
                result.outcome, result.detail = _failure(session, relay, exc)
            except Exception:  # a bug must not turn a diagnosis into a 500
                _close(session.client)
                log.exception("relay probe of %s:%s failed", host, relay.port)
                result.outcome, result.detail = "ERROR", "The check failed unexpectedly."
            else:
                _quit(session.client, session)
            break
    if result.outcome == "TLS_FAILED":
        result.tls_problem = result.detail
    result.transcript = transcript.final()
    result.checked_at = datetime.now(UTC)
    return result


def _addresses(host: str, port: int, allow_private: bool, extra_ports: Collection[int] | None,
               deadline: Deadline) -> list[tuple[str, int]] | None:
    """The resolved addresses (None: the name does not resolve); `TargetRefused` passes through."""
    try:
        return resolve(host, port, allow_private=allow_private, ports=allowed_ports("SMTP", extra_ports),
                       timeout=deadline.remaining())
    except TargetRefused:
        raise
    except OSError:
        return None
