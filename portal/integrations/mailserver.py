"""Talking to a configured mail server (SMTP, IMAP, POP3): a live check with its transcript, and sending.

`check()` walks the stages target → connect → tls → greeting → capabilities → auth → done and answers a
`CheckResult` (it never raises for what the network or the server does); `send()` delivers through an SMTP
server configured the same way. Both are bounded by one `Deadline` on the whole exchange.

Decisions:
- Targets: the host is resolved once (`targets.resolve`) and the connection goes to that address; TLS verifies
  the host *name*. Private, loopback, link-local, reserved... addresses are refused unless `allow_private`.
- Ports: an allow-list per protocol (`DEFAULT_PORTS`), extended by `extra_ports` — by default read from
  `POSTERN_MAILSERVER_PORTS` ("2525,10000-10100"). `allow_private` does NOT lift it: a deployment that talks
  to a server on 10.x keeps the port rule; tests list their free ports (or a range) in that variable.
- Closed port, refused, unreachable, connect timeout: one generic message, "Could not connect to the server."
- TLS: SSL_TLS is implicit TLS, STARTTLS must be offered (else a failed check at stage "tls"), NONE is plain.
  The certificate and the host name are always verified, against `certificate_pem` alone when given (a CA or
  the server's own self-signed certificate), else the system CAs; TLS 1.2 at least.
- A password (or token) over an unencrypted connection is sent — some internal relays only speak plain — but
  the check's success message says the credentials went unencrypted.
- OAUTH2 logs in as `username` (the mailbox) with a client-credentials token (`oauth2.py`, cached).
- The transcript is what the client and the server said, with every secret replaced by "****": the AUTH
  command's argument and every line the client sends during SASL, IMAP LOGIN's password, POP3 PASS; then,
  belt and braces, any remaining occurrence of a secret or its base64 forms. Lines are capped in length and
  number, control characters shown as "?".
"""

from __future__ import annotations

import base64
import contextlib
import functools
import imaplib
import logging
import os
import poplib
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from ..errors import Invalid, MaybeDelivered, Unavailable
from ..words import Text, _l
from . import oauth2
from .deadline import Deadline
from .targets import TargetRefused, connect_first, normalize_host, resolve

__all__ = [
    "DEFAULT_PORTS", "DEFAULT_SCOPE", "DEFAULT_TOKEN_URL", "CertificateInvalid", "CheckResult", "Endpoint",
    "OAuth", "TargetRefused", "allowed_ports", "check", "check_target", "parse_ports", "send",
    "validate_certificate",
]

log = logging.getLogger(__name__)

DEFAULT_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
DEFAULT_SCOPE = {
    "SMTP": "https://outlook.office365.com/.default",
    "IMAP": "https://outlook.office365.com/.default",
    "POP3": "https://outlook.office365.com/.default",
}
DEFAULT_PORTS: dict[str, frozenset[int]] = {
    "SMTP": frozenset({25, 465, 587, 2525}),
    "IMAP": frozenset({143, 993}),
    "POP3": frozenset({110, 995}),
}
PROTOCOLS = ("SMTP", "POP3", "IMAP")
SECURITIES = ("NONE", "SSL_TLS", "STARTTLS")
AUTHS = ("NO_AUTH", "USERNAME_PASSWORD", "OAUTH2")
MAX_CERTIFICATE = 64 * 1024
MAX_LINES = 200  # transcript lines kept (a server that floods its EHLO answer is cut here)
MAX_LINE = 300  # characters kept of one transcript line
MAX_RECEIVED = 1000  # lines a server may send in one check: a flood ends the exchange (smtplib keeps a reply whole)
HIDDEN = "****"


@dataclass(frozen=True)
class OAuth:
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    token_url: str  # resolved by the caller: `token_url_for(tenant_id, given)`
    scope: str


def token_url_for(tenant_id: str, token_url: str | None = None) -> str:
    """The token URL to use: the given one, else Microsoft's for the tenant."""
    return token_url or DEFAULT_TOKEN_URL.format(tenant=tenant_id)


@dataclass(frozen=True)
class Endpoint:
    protocol: str  # "SMTP" | "POP3" | "IMAP"
    host: str
    port: int
    security: str  # "NONE" | "SSL_TLS" | "STARTTLS"
    certificate_pem: str | None  # CUSTOM: the only trust anchor; None: the system CAs
    auth: str  # "NO_AUTH" | "USERNAME_PASSWORD" | "OAUTH2"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # no secret in logs or tracebacks
    oauth: OAuth | None = None


@dataclass
class CheckResult:
    ok: bool
    stage: str  # target | connect | tls | greeting | capabilities | auth | send | done
    message: Text  # a fixed phrase (`.english()` for the API)
    transcript: list[str]  # "C: ..." / "S: ..." / "# ..." (notes), secrets replaced by "****"
    checked_at: datetime  # aware UTC


class CertificateInvalid(ValueError):
    """`validate_certificate` refused the PEM; `message` is the phrase for people (str(): English)."""

    def __init__(self, message: Text) -> None:
        super().__init__(message.english())
        self.message = message


# ---------------------------------------------------------------- ports and targets

def parse_ports(text: str | None) -> frozenset[int]:
    """"2525, 10000-10100" -> those ports (for POSTERN_MAILSERVER_PORTS). Raises ValueError on bad input."""
    ports: set[int] = set()
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        low, _, high = item.partition("-")
        first, last = int(low), int(high or low)
        if not 0 < first <= last < 65536:
            raise ValueError(f"not a port or port range: {item!r}")
        ports.update(range(first, last + 1))
    return frozenset(ports)


def allowed_ports(protocol: str | None, extra_ports: Collection[int] | None = None) -> frozenset[int]:
    """The ports a server of `protocol` (None: any) may use; `extra_ports` None reads POSTERN_MAILSERVER_PORTS."""
    extra = parse_ports(os.environ.get("POSTERN_MAILSERVER_PORTS")) if extra_ports is None else extra_ports
    base = DEFAULT_PORTS.get(protocol or "", frozenset().union(*DEFAULT_PORTS.values()))
    return base | frozenset(extra)


def check_target(host: str, port: int, allow_private: bool, *, protocol: str | None = None,
                 extra_ports: Collection[int] | None = None, timeout: float = 5.0) -> None:
    """Raise `TargetRefused` (an `errors.Invalid`, 400, naming the field) unless Postern may connect there.

    A name that does not resolve is not refused here (OSError is swallowed): the check reports it."""
    with contextlib.suppress(OSError):
        resolve(host, port, allow_private=allow_private, ports=allowed_ports(protocol, extra_ports), timeout=timeout)


# ---------------------------------------------------------------- certificates

_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----")


def validate_certificate(pem: str) -> None:
    """Raise `CertificateInvalid` (a ValueError) unless `pem` is one or more X.509 certificates in PEM, and
    nothing else (no private key, no other text), at most 64 KiB, usable as a trust anchor."""
    from cryptography import x509

    if not isinstance(pem, str) or not pem.strip():
        raise CertificateInvalid(_l("Paste one or more certificates in PEM format."))
    if len(pem.encode("utf-8", "replace")) > MAX_CERTIFICATE:
        raise CertificateInvalid(_l("The certificate is too large (at most 64 KiB)."))
    if "PRIVATE KEY" in pem:
        raise CertificateInvalid(_l("This is a private key: paste only the certificate, never its key."))
    blocks = _PEM_BLOCK.findall(pem)
    if not blocks or _PEM_BLOCK.sub("", pem).strip():
        raise CertificateInvalid(_l("This is not a certificate in PEM format."))
    try:
        for block in blocks:
            x509.load_pem_x509_certificate(block.encode("ascii"))
        _context(pem)
    except (ValueError, ssl.SSLError):
        raise CertificateInvalid(_l("This is not a certificate in PEM format.")) from None


@functools.lru_cache(maxsize=64)
def _context(pem: str | None) -> ssl.SSLContext:
    """A verifying client context (host name checked, TLS 1.2+): `pem` as the only trust anchor, else the system
    CAs. Cached: loading the system bundle costs ~20 ms, and a context is safe to share between threads."""
    context = ssl.create_default_context(cadata=pem) if pem else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


# ---------------------------------------------------------------- transcript and redaction

def _sasl_command(line: str) -> str:
    """"AUTH MECH ****" / "a1 AUTHENTICATE MECH ****": the mechanism shown, an initial response hidden."""
    m = re.match(r"(?i)^(\S+\s+AUTHENTICATE\s+\S+|AUTH\s+\S+)(\s+\S.*)?$", line)
    if m:
        return m.group(1) + (f" {HIDDEN}" if m.group(2) else "")
    return HIDDEN


# A redactor gets a client line and whether it is a response inside an authentication exchange (every line the
# client sends after the AUTH / AUTHENTICATE / LOGIN command until the exchange ends): those are always hidden.

def redact_smtp(line: str, in_auth: bool) -> str:
    """An SMTP client line as shown: "AUTH MECH ****", then "****" for each SASL response."""
    if in_auth:
        return HIDDEN
    return _sasl_command(line) if re.match(r"(?i)^AUTH\s", line) else line


_IMAP_LOGIN = re.compile(r'(?i)^(\S+ LOGIN )("(?:[^"\\]|\\.)*"|\S+)')


def redact_imap(line: str, in_auth: bool) -> str:
    """An IMAP client line as shown: "a1 LOGIN "user" ****"; "a1 AUTHENTICATE MECH", then "****"."""
    if in_auth:
        return HIDDEN
    m = _IMAP_LOGIN.match(line)
    if m:
        return f"{m.group(1)}{m.group(2)} {HIDDEN}"
    return _sasl_command(line) if re.match(r"(?i)^\S+ AUTHENTICATE\s", line) else line


def redact_pop3(line: str, in_auth: bool) -> str:
    """A POP3 client line as shown: "PASS ****"; "AUTH MECH ****", then "****"."""
    if in_auth:
        return HIDDEN
    if re.match(r"(?i)^PASS(\s|$)", line):
        return f"PASS {HIDDEN}"
    return _sasl_command(line) if re.match(r"(?i)^AUTH\s", line) else line


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _shown(line: bytes | str) -> str:
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = _CONTROL.sub("?", text.rstrip("\r\n"))
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


class _Flood(OSError):
    """A server that would not stop talking (counted as a broken connection)."""


class Transcript:
    """The lines of one exchange; client lines pass through the protocol's redactor."""

    def __init__(self, redact: Callable[[str, bool], str]) -> None:
        self.lines: list[str] = []
        self._in_auth = False
        self._auth_lines = 0  # client lines sent since the authentication exchange began
        self._redact = redact
        self._pending = b""
        self.secrets: list[str] = []
        self.received = 0

    def _add(self, line: str) -> None:
        if len(self.lines) < MAX_LINES:
            self.lines.append(line)
        elif len(self.lines) == MAX_LINES:
            self.lines.append("# (transcript cut)")

    @property
    def in_auth(self) -> bool:
        return self._in_auth

    @in_auth.setter
    def in_auth(self, value: bool) -> None:
        """True from just before the authentication command is sent until its exchange ended."""
        self._in_auth, self._auth_lines = value, 0

    def client(self, data: bytes) -> None:
        self._pending += data
        *complete, self._pending = self._pending.split(b"\r\n")
        for raw in complete:
            response = self._in_auth and self._auth_lines > 0
            self._auth_lines += self._in_auth
            self._add("C: " + _shown(self._redact(raw.decode("utf-8", "replace"), response)))

    def server(self, line: bytes | str) -> None:
        self.received += 1
        if self.received > MAX_RECEIVED:
            raise _Flood("the server sent too many lines")
        self._add("S: " + _shown(line))

    def note(self, text: str) -> None:
        self._add("# " + _shown(text))

    def hide(self, *secrets: str | None) -> None:
        """Secrets to scrub from the final lines (with their base64 forms), whatever the redactors missed."""
        for secret in secrets:
            if secret and len(secret) >= 4:
                self.secrets.append(secret)
                self.secrets.append(base64.b64encode(secret.encode()).decode())

    def final(self) -> list[str]:
        if self._pending:
            self.client(b"\r\n")
        lines = self.lines
        for secret in sorted(set(self.secrets), key=len, reverse=True):
            lines = [line.replace(secret, HIDDEN) for line in lines]
        return lines


# ---------------------------------------------------------------- the exchange

class _Failed(Exception):
    """Ends an exchange with a stage and a fixed phrase."""

    def __init__(self, stage: str, message: Text) -> None:
        super().__init__(message.english())
        self.stage, self.message = stage, message


@dataclass
class _Session:
    endpoint: Endpoint
    addresses: list[tuple[str, int]]
    deadline: Deadline
    transcript: Transcript
    timeout: float
    allow_private: bool
    stage: str = "connect"
    encrypted: bool = False
    client: object = None  # the protocol client, once made (closed after a failure)

    def open(self) -> socket.socket:
        """TCP to the resolved address (and the TLS handshake for implicit TLS), watched by the deadline."""
        self.stage = "connect"
        sock = connect_first(self.deadline, self.addresses)
        peer = sock.getpeername()
        self.transcript.note(f"connected to {peer[0]} port {peer[1]}")
        if self.endpoint.security == "SSL_TLS":
            self.stage = "tls"
            sock = self.wrap(sock)
        self.stage = "greeting"
        return sock

    def wrap(self, sock: socket.socket) -> ssl.SSLSocket:
        wrapped = _context(self.endpoint.certificate_pem).wrap_socket(sock, server_hostname=self.endpoint.host)
        self.tls_established(wrapped)
        return wrapped

    def tls_established(self, sock: ssl.SSLSocket) -> None:
        self.encrypted = True
        self.transcript.note(f"{sock.version()} established, certificate verified for {self.endpoint.host}")

    def secret(self) -> str:
        """The password, or a fresh (cached) OAuth2 token; refuses CR, LF and NUL, which no protocol can carry."""
        ep = self.endpoint
        if ep.auth == "OAUTH2":
            if ep.oauth is None or not ep.username:
                raise _Failed("auth", _l("OAuth2 needs a user name (the mailbox) and the client credentials."))
            if _CONTROL.search(ep.username):
                raise _Failed("auth", _l("The user name or the password contains characters that cannot be sent."))
            self.transcript.hide(ep.oauth.client_secret)
            try:
                token = oauth2.client_credentials_token(
                    ep.oauth.token_url, ep.oauth.client_id, ep.oauth.client_secret, ep.oauth.scope,
                    timeout=self.deadline.remaining(), allow_private=self.allow_private)
            except oauth2.TokenError as exc:
                self.transcript.note("the OAuth2 token could not be obtained")
                raise _Failed("auth", exc.message) from None
            self.transcript.note("OAuth2 token obtained")
            blob = oauth2.xoauth2(ep.username, token)
            self.transcript.hide(token, blob)
            return token
        if not ep.username or ep.password is None:
            raise _Failed("auth", _l("A user name and a password are needed to log in."))
        self.transcript.hide(ep.password, f"\0{ep.username}\0{ep.password}")
        if any(c in value for value in (ep.username, ep.password) for c in "\r\n\0"):
            raise _Failed("auth", _l("The user name or the password contains characters that cannot be sent."))
        return ep.password


# -- SMTP

class _SMTP(smtplib.SMTP):
    """smtplib's client connected to the resolved address, its lines recorded, its socket under the deadline."""

    session: _Session
    handed_over = False

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return self.session.open()

    def send(self, s: bytes | str) -> None:
        if self.session.transcript is not None and not self.handed_over:
            self.session.transcript.client(s.encode("utf-8", "replace") if isinstance(s, str) else s)
        super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        """smtplib's, each line recorded as it comes, and a reply of endless lines cut (`MAX_RECEIVED`)."""
        lines: list[bytes] = []
        if self.file is None:
            self.file = self.sock.makefile("rb")
        while True:
            try:
                line = self.file.readline(smtplib._MAXLINE + 1)  # type: ignore[attr-defined]
                if line:
                    self.session.transcript.server(line)
            except OSError as exc:
                self.close()
                raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {exc}") from exc
            if not line:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            if len(line) > smtplib._MAXLINE:  # type: ignore[attr-defined]
                self.close()
                raise smtplib.SMTPResponseException(500, b"Line too long.")
            lines.append(line[4:].strip(b" \t\r\n"))
            try:
                code = int(line[:3])
            except ValueError:
                code = -1
                break
            if line[3:4] != b"-":
                break
        return code, b"\n".join(lines)

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        self.handed_over = True
        return super().data(msg)

    def sasl(self, mechanism: str, initial: bytes | None, respond: Callable[[bytes], bytes]) -> None:
        """AUTH with an optional initial response (UTF-8, unlike smtplib's ASCII-only `auth`)."""
        self.session.transcript.in_auth = True
        try:
            argument = f" {base64.b64encode(initial).decode()}" if initial is not None else ""
            code, reply = self.docmd("AUTH", mechanism + argument)
            rounds = 0
            while code == 334 and rounds < 5:
                rounds += 1
                try:
                    challenge = base64.b64decode(reply, validate=False)
                except ValueError:
                    challenge = b""
                code, reply = self.docmd(base64.b64encode(respond(challenge)).decode())
        finally:
            self.session.transcript.in_auth = False
        if code not in (235, 503):
            raise _Failed("auth", _l("The server refused the login."))


def _smtp_session(session: _Session, helo: str) -> _SMTP:
    ep = session.endpoint
    if not helo or _CONTROL.search(helo) or " " in helo:
        helo = "postern.localdomain"
    client = _SMTP(local_hostname=helo, timeout=session.deadline.remaining())
    client.session, session.client = session, client
    client._host = ep.host  # the name STARTTLS verifies
    client.connect(ep.host, ep.port)  # _get_socket connects to the resolved address
    session.stage = "capabilities"
    if client.ehlo()[0] != 250 and client.helo()[0] != 250:
        raise _Failed("capabilities", _l("The server refused the EHLO and HELO greetings."))
    if ep.security == "STARTTLS":
        session.stage = "tls"
        if not client.has_extn("starttls"):
            raise _Failed("tls", _l("The server does not offer STARTTLS."))
        client.starttls(context=_context(ep.certificate_pem))
        session.tls_established(client.sock)  # type: ignore[arg-type]
        session.stage = "capabilities"
        if client.ehlo()[0] != 250:
            raise _Failed("capabilities", _l("The server refused the EHLO greeting after STARTTLS."))
    if ep.auth == "NO_AUTH":
        return client
    session.stage = "auth"
    offered = client.esmtp_features.get("auth", "").upper().split() if client.has_extn("auth") else []
    if ep.auth == "OAUTH2":
        mechanism = "XOAUTH2" if "XOAUTH2" in offered else None
    else:
        mechanism = next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
    if mechanism is None:
        if not offered and not session.encrypted and client.has_extn("starttls"):
            raise _Failed("auth", _l("The server offers a login only after STARTTLS: choose STARTTLS as the "
                                     "security."))
        if ep.auth == "OAUTH2":
            raise _Failed("auth", _l("The server does not offer OAuth2 (XOAUTH2) login."))
        raise _Failed("auth", _l("The server offers no login method Postern supports (PLAIN, LOGIN)."))
    secret = session.secret()  # the token is fetched only for a server that takes it
    user = ep.username or ""
    if mechanism == "XOAUTH2":
        client.sasl("XOAUTH2", oauth2.xoauth2(user, secret).encode(), lambda challenge: b"")
    elif mechanism == "PLAIN":
        client.sasl("PLAIN", f"\0{user}\0{secret}".encode(), lambda challenge: b"")
    else:  # LOGIN, without an initial response: the server asks "Username:", then "Password:"
        answers = iter([user.encode(), secret.encode()])

        def login(challenge: bytes) -> bytes:
            asked = challenge.lower()
            if b"username" in asked:
                return user.encode()
            if b"password" in asked:
                return secret.encode()
            return next(answers, b"")

        client.sasl("LOGIN", None, login)
    return client


# -- IMAP

class _IMAP(imaplib.IMAP4):
    def __init__(self, session: _Session) -> None:
        self.session = session
        super().__init__(session.endpoint.host, session.endpoint.port, timeout=session.deadline.remaining())

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = self.session.open()
        self.session.client = self
        return sock

    def send(self, data: bytes) -> None:
        self.session.transcript.client(data)
        super().send(data)

    def readline(self) -> bytes:
        line = super().readline()
        self.session.transcript.server(line)
        if self.session.stage == "greeting":
            self.session.stage = "capabilities"
        return line


def _imap_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_session(session: _Session) -> _IMAP:
    ep = session.endpoint
    client = _IMAP(session)
    if ep.security == "STARTTLS":
        session.stage = "tls"
        if "STARTTLS" not in client.capabilities:
            raise _Failed("tls", _l("The server does not offer STARTTLS."))
        client.starttls(_context(ep.certificate_pem))
        session.tls_established(client.sock)  # type: ignore[arg-type]
    if ep.auth == "NO_AUTH":
        return client
    session.stage = "auth"
    if ep.auth == "OAUTH2" and "AUTH=XOAUTH2" not in client.capabilities:
        raise _Failed("auth", _l("The server does not offer OAuth2 (XOAUTH2) login."))
    if ep.auth != "OAUTH2" and "LOGINDISABLED" in client.capabilities:
        raise _Failed("auth", _l("The server refuses logins on an unencrypted connection."))
    secret = session.secret()
    user = ep.username or ""
    if ep.auth == "OAUTH2":
        blob = oauth2.xoauth2(user, secret).encode()
        answers = iter([blob])
        session.transcript.in_auth = True
        try:
            client.authenticate("XOAUTH2", lambda challenge: next(answers, b""))
        finally:
            session.transcript.in_auth = False
        return client
    if not user.isascii():
        raise _Failed("auth", _l("The user name or the password contains characters that cannot be sent."))
    session.transcript.in_auth = True
    try:
        if secret.isascii():
            typ, _ = client._simple_command("LOGIN", _imap_quote(user), _imap_quote(secret))
        else:  # 8-bit: a literal ("a1 LOGIN user {n}", then the bytes)
            client.literal = secret.encode()
            typ, _ = client._simple_command("LOGIN", _imap_quote(user))
    finally:
        session.transcript.in_auth = False
    if typ != "OK":
        raise _Failed("auth", _l("The server refused the login."))
    client.state = "AUTH"
    return client


# -- POP3

class _POP3(poplib.POP3):
    def __init__(self, session: _Session) -> None:
        self.session = session
        super().__init__(session.endpoint.host, session.endpoint.port, timeout=session.deadline.remaining())

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = self.session.open()
        self.session.client = self
        return sock

    def _putline(self, line: bytes) -> None:
        self.session.transcript.client(line + b"\r\n")
        super()._putline(line)

    def _getline(self) -> tuple[bytes, int]:
        line, octets = super()._getline()
        self.session.transcript.server(line)
        if self.session.stage == "greeting":
            self.session.stage = "capabilities"
        return line, octets


def _pop3_session(session: _Session) -> _POP3:
    ep = session.endpoint
    client = _POP3(session)

    def capabilities() -> dict[str, list[str]]:
        try:
            return client.capa()
        except poplib.error_proto:  # CAPA is optional (RFC 2449): an -ERR is "none"; a cut is a failure
            if session.deadline.expired:
                raise
            return {}

    caps = capabilities()
    if ep.security == "STARTTLS":
        session.stage = "tls"
        if "STLS" not in caps:
            raise _Failed("tls", _l("The server does not offer STARTTLS."))
        client._shortcmd("STLS")
        client.sock = _context(ep.certificate_pem).wrap_socket(client.sock, server_hostname=ep.host)
        client.file = client.sock.makefile("rb")
        client._tls_established = True
        session.tls_established(client.sock)  # type: ignore[arg-type]
        session.stage = "capabilities"
        caps = capabilities()
    if ep.auth == "NO_AUTH":
        return client
    session.stage = "auth"
    if ep.auth == "OAUTH2" and "XOAUTH2" not in [m.upper() for m in caps.get("SASL", [])]:
        raise _Failed("auth", _l("The server does not offer OAuth2 (XOAUTH2) login."))
    secret = session.secret()
    user = ep.username or ""
    if ep.auth == "OAUTH2":
        session.transcript.in_auth = True
        try:
            answer = client._shortcmd("AUTH XOAUTH2 " + base64.b64encode(oauth2.xoauth2(user, secret).encode())
                                      .decode())
            if not answer.startswith(b"+OK"):  # "+ <error>": a continuation, answered empty, then -ERR
                client._shortcmd("")
        finally:
            session.transcript.in_auth = False
        return client
    try:
        client.user(user)
        client.pass_(secret)
    except UnicodeEncodeError:
        raise _Failed("auth", _l("The user name or the password contains characters that cannot be sent.")) \
            from None
    return client


# ---------------------------------------------------------------- check and send

_REDACTORS = {"SMTP": redact_smtp, "IMAP": redact_imap, "POP3": redact_pop3}


def _timeout_message(seconds: float) -> Text:
    return _l("The server did not answer within %(seconds)s s.", seconds=f"{seconds:g}")


def _failure(session: _Session, exc: BaseException) -> tuple[str, Text]:
    """The stage and phrase for an exception the network or the server caused."""
    stage = session.stage
    if isinstance(exc, ssl.SSLCertVerificationError):
        session.transcript.note(f"certificate not accepted: {exc.verify_message}")
        if exc.verify_code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
            return "tls", _l("The server's certificate is not valid for this host name.")
        return "tls", _l("The server's certificate could not be verified with the trusted certificates.")
    if stage == "connect":
        return stage, _l("Could not connect to the server.")
    if session.deadline.expired:
        return stage, _timeout_message(session.deadline.seconds)
    if isinstance(exc, ssl.SSLError) or stage == "tls":
        return "tls", _l("The TLS handshake with the server failed.")
    if stage == "greeting":
        return stage, _l("The server closed the connection or did not greet as a mail server.")
    if stage == "auth":
        return stage, _l("The server refused the login.")
    return stage, _l("The server closed the connection or answered unexpectedly.")


def _quit(client: object, session: _Session) -> None:
    """End politely; a failure here changes nothing (the check's verdict is taken)."""
    try:
        if isinstance(client, smtplib.SMTP):
            client.quit()
        elif isinstance(client, imaplib.IMAP4):
            client.logout()
        elif isinstance(client, poplib.POP3):
            client.quit()
    except (OSError, EOFError, ValueError, smtplib.SMTPException, imaplib.IMAP4.error, poplib.error_proto):
        pass
    finally:
        _close(client)


def _close(client: object) -> None:
    """Close the connection without a word (after a failure the next line may be anything)."""
    try:
        if isinstance(client, smtplib.SMTP):
            client.close()
        elif isinstance(client, imaplib.IMAP4):
            client.shutdown()
        elif isinstance(client, poplib.POP3):
            client.close()
    except OSError:
        pass


def check(endpoint: Endpoint, *, timeout: float, allow_private: bool, helo: str = "postern.localdomain",
          extra_ports: Collection[int] | None = None) -> CheckResult:
    """Connect, TLS as configured, greeting, capabilities, login; never raises for what the network or the server
    does. `timeout` bounds the whole exchange (the host lookup, and the OAuth2 token fetch, included)."""
    transcript = Transcript(_REDACTORS.get(endpoint.protocol, redact_smtp))

    def result(ok: bool, stage: str, message: Text) -> CheckResult:
        return CheckResult(ok, stage, message, transcript.final(), datetime.now(UTC))

    if endpoint.protocol not in PROTOCOLS or endpoint.security not in SECURITIES or endpoint.auth not in AUTHS:
        return result(False, "target", _l("The server settings are not complete."))
    try:
        endpoint = replace(endpoint, host=normalize_host(endpoint.host))
    except TargetRefused as exc:
        return result(False, "target", exc.message)
    with Deadline(timeout) as deadline:
        try:
            addresses = resolve(endpoint.host, endpoint.port, allow_private=allow_private,
                                ports=allowed_ports(endpoint.protocol, extra_ports), timeout=deadline.remaining())
        except TargetRefused as exc:
            return result(False, "target", exc.message)
        except OSError:
            return result(False, "connect", _l("The host name could not be resolved."))
        session = _Session(endpoint, addresses, deadline, transcript, timeout, allow_private)
        client: object = None
        try:
            if endpoint.protocol == "SMTP":
                client = _smtp_session(session, helo)
            elif endpoint.protocol == "IMAP":
                client = _imap_session(session)
            else:
                client = _pop3_session(session)
        except _Failed as exc:
            _quit(session.client, session)  # the exchange itself went well: say goodbye
            return result(False, exc.stage, exc.message)
        except (OSError, EOFError, ValueError, smtplib.SMTPException, imaplib.IMAP4.error,
                poplib.error_proto) as exc:
            _close(session.client)
            stage, message = _failure(session, exc)
            return result(False, stage, message)
        except Exception:  # a bug must not turn a check into a 500; it is logged (without the endpoint's secrets)
            _close(session.client)
            log.exception("mail server check of %r failed", endpoint)
            return result(False, session.stage, _l("The check failed unexpectedly."))
        _quit(client, session)
    if endpoint.auth == "NO_AUTH":
        return result(True, "done", _l("The server answered as expected."))
    if not session.encrypted:
        return result(True, "done", _l("The server accepted the login, but the credentials were sent unencrypted."))
    return result(True, "done", _l("The server accepted the login."))


@dataclass
class _Kept:
    """An SMTP session left open after a mail, for the next mail of this thread to the same endpoint."""

    client: _SMTP
    key: tuple[object, ...]
    idle_since: float


_kept = threading.local()


def _take_kept(key: tuple[object, ...], keep_seconds: float) -> _SMTP | None:
    """This thread's open session to the same endpoint (same settings, secrets and rules), if fresh enough;
    any other kept session is ended."""
    kept: _Kept | None = getattr(_kept, "session", None)
    _kept.session = None
    if kept is None:
        return None
    if kept.key == key and time.monotonic() - kept.idle_since < keep_seconds:
        return kept.client
    _quit(kept.client, kept.client.session)
    return None


def end_kept_session() -> None:
    """End this thread's kept SMTP session now (a worker going idle; tests)."""
    kept: _Kept | None = getattr(_kept, "session", None)
    _kept.session = None
    if kept is not None:
        _quit(kept.client, kept.client.session)


def send(endpoint: Endpoint, sender: str, recipients: list[str], raw: bytes, *, timeout: float,
         allow_private: bool, helo: str = "postern.localdomain",
         extra_ports: Collection[int] | None = None, keep_seconds: float = 0.0) -> dict[str, tuple[int, bytes]]:
    """Send `raw` through an SMTP endpoint; returns the refused recipients (empty: every one got a 250).

    `keep_seconds` > 0: the session stays open after the mail, and the next mail of this thread to the same
    endpoint within that idle time goes over it (RSET first; a session the server ended meanwhile is replaced by
    a new one before anything is sent). Each mail still has its own whole-exchange deadline.

    Raises `TargetRefused` (400) for a forbidden target, `Unavailable` when the server cannot be reached or
    refuses the login or the message, `MaybeDelivered` when the exchange broke after DATA was sent."""
    if endpoint.protocol != "SMTP":
        raise Invalid(_l("Only an SMTP server can send mail."))
    endpoint = replace(endpoint, host=normalize_host(endpoint.host))
    ports = extra_ports if isinstance(extra_ports, frozenset) else frozenset(extra_ports or ())  # config's: as is
    key = (endpoint, helo, allow_private, ports)
    with Deadline(timeout) as deadline:
        client = _take_kept(key, keep_seconds) if keep_seconds > 0 else None
        if client is not None and not _reset(client, deadline):
            client = None
        if client is None:
            try:
                addresses = resolve(endpoint.host, endpoint.port, allow_private=allow_private,
                                    ports=allowed_ports("SMTP", extra_ports), timeout=deadline.remaining())
            except OSError:
                raise Unavailable(_l("The host name %(host)s could not be resolved.", host=endpoint.host)) from None
            session = _Session(endpoint, addresses, deadline, Transcript(redact_smtp), timeout, allow_private)
        else:
            session = client.session
        refused = _deliver(session, client, helo, sender, recipients, raw)
        assert session.client is not None
        if keep_seconds > 0:
            _kept.session = _Kept(session.client, key, time.monotonic())  # type: ignore[arg-type]
        else:
            _quit(session.client, session)
        return refused


def _reset(client: _SMTP, deadline: Deadline) -> bool:
    """Make a kept session this mail's: under its deadline, a fresh transcript, RSET answered with 250."""
    session = client.session
    session.deadline, session.transcript = deadline, Transcript(redact_smtp)
    client.handed_over = False
    try:
        deadline.watch(client.sock)  # type: ignore[arg-type]
        client.sock.settimeout(deadline.remaining())  # type: ignore[union-attr]
        if client.rset()[0] == 250:
            return True
    except (OSError, EOFError, ValueError, smtplib.SMTPException):
        pass
    _close(client)
    return False


def _deliver(session: _Session, client: _SMTP | None, helo: str, sender: str, recipients: list[str],
             raw: bytes) -> dict[str, tuple[int, bytes]]:
    """The mail's exchange over `client` (a new session when None); the failures as the module's errors."""
    address_text = f"{session.endpoint.host}:{session.endpoint.port}"
    try:
        if client is None:
            client = _smtp_session(session, helo)
        return client.sendmail(sender, recipients, raw)
    except smtplib.SMTPRecipientsRefused as exc:
        return dict(exc.recipients)
    except _Failed as exc:
        _quit(session.client, session)
        raise Unavailable(exc.message) from None
    except (OSError, EOFError, ValueError, smtplib.SMTPException) as exc:
        handed_over = client is not None and client.handed_over
        _close(session.client)
        answered = isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code > 0  # -1: no reply line
        if handed_over and not answered:
            raise MaybeDelivered(_l("The mail server %(address)s did not confirm the message within "
                                    "%(seconds)s s; it may have been delivered.", address=address_text,
                                    seconds=f"{session.timeout:g}")) from None
        if answered:
            raise Unavailable(_l("The mail server %(address)s did not take the message (%(code)s).",
                                 address=address_text, code=str(exc.smtp_code))) from None
        raise Unavailable(_failure(session, exc)[1]) from None
