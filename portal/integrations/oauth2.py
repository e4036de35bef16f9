"""OAuth2 client-credentials tokens (Microsoft identity platform and alike) for XOAUTH2 logins.

`client_credentials_token()` POSTs `grant_type=client_credentials` with the client id, secret and scope to the
token URL and answers the access token. The whole exchange (connect, TLS, request, answer) is bounded by one
`Deadline`; the host is resolved once, checked like any admin-given target (`targets.resolve`), and the
connection goes to that address while TLS verifies the host *name*. Only `https` URLs on port 443, unless
private targets are allowed (then also `http` and any port: the tests serve `http` on loopback). No redirects.

Tokens are cached per (token URL, client id, scope, sha256 of the secret) until `expires_in` minus a margin,
in this process (thread-safe); a changed secret is a different key, so it never reuses the old token.
Errors are `TokenError` with a fixed phrase: never the secret, never the token endpoint's own words.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import json
import socket
import ssl
import threading
import time
import urllib.parse

from ..words import Text, _l
from .deadline import Deadline
from .targets import TargetRefused, connect_first, resolve

MAX_ANSWER = 64 * 1024  # a token answer is ~2 KiB; a bigger one is not read further
_MARGIN = 60.0  # seconds before `expires_in` at which a cached token is fetched again (at most half its life)


class TokenError(Exception):
    """The token could not be obtained; `message` is a fixed phrase for people (no secret, no server words)."""

    def __init__(self, message: Text) -> None:
        super().__init__(message.english())
        self.message = message


_cache: dict[tuple[str, str, str, str], tuple[str, float]] = {}
_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _system_context() -> ssl.SSLContext:
    """The system CAs, loaded once (~20 ms)."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _key(token_url: str, client_id: str, client_secret: str, scope: str) -> tuple[str, str, str, str]:
    return token_url, client_id, scope, hashlib.sha256(client_secret.encode()).hexdigest()


def forget() -> None:
    """Drop every cached token (tests; a secret rotated outside Postern)."""
    with _lock:
        _cache.clear()


def client_credentials_token(token_url: str, client_id: str, client_secret: str, scope: str, *,
                             timeout: float, allow_private: bool,
                             context: ssl.SSLContext | None = None) -> str:
    """An access token for the client (cached until it expires). Raises `TokenError`.

    `context`: the TLS trust for the token endpoint (default: the system CAs)."""
    key = _key(token_url, client_id, client_secret, scope)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
    token, expires_in = _fetch(token_url, client_id, client_secret, scope, timeout=timeout,
                               allow_private=allow_private, context=context)
    if expires_in > 0:
        lifetime = expires_in - min(_MARGIN, expires_in / 2)
        with _lock:
            _cache[key] = (token, time.monotonic() + lifetime)
    return token


class _Connection(http.client.HTTPSConnection):
    """An HTTP(S) connection to an address resolved beforehand, watched by a deadline (TLS checks the name)."""

    def __init__(self, host: str, port: int, addresses: list[tuple[str, int]], deadline: Deadline,
                 context: ssl.SSLContext | None, tls: bool) -> None:
        super().__init__(host, port, timeout=deadline.remaining(), context=context)
        self._addresses, self._deadline, self._tls = addresses, deadline, tls

    def connect(self) -> None:
        if self._tls:
            super().connect()
        else:
            http.client.HTTPConnection.connect(self)

    def _create_connection(self, address: object, timeout: object = None,  # type: ignore[override]
                           source_address: object = None) -> socket.socket:
        return connect_first(self._deadline, self._addresses)


def _fetch(token_url: str, client_id: str, client_secret: str, scope: str, *, timeout: float,
           allow_private: bool, context: ssl.SSLContext | None) -> tuple[str, float]:
    try:
        url = urllib.parse.urlsplit(token_url)
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError:
        raise TokenError(_l("The OAuth2 token URL is not valid.")) from None
    if url.scheme != "https" and not (allow_private and url.scheme == "http"):
        raise TokenError(_l("The OAuth2 token URL must start with https://."))
    if not url.hostname or url.username is not None or url.password is not None:
        raise TokenError(_l("The OAuth2 token URL is not valid."))
    host = url.hostname
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    if any(ord(c) < 33 or ord(c) == 127 for c in path):
        raise TokenError(_l("The OAuth2 token URL is not valid."))
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                   "client_secret": client_secret, "scope": scope}).encode()
    with Deadline(timeout) as deadline:
        try:
            addresses = resolve(host, port, allow_private=allow_private, ports={443, port} if allow_private else {443})
        except TargetRefused as exc:
            raise TokenError(_l("The OAuth2 token URL points to a host or port that is not allowed.")) from exc
        except OSError as exc:
            raise TokenError(_l("The OAuth2 token endpoint could not be reached.")) from exc
        tls = url.scheme == "https"
        conn = _Connection(host, port, addresses, deadline, (context or _system_context()) if tls else None,
                           tls)
        try:
            conn.request("POST", path, body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                "User-Agent": "Postern"})
            answer = conn.getresponse()
            data = answer.read(MAX_ANSWER + 1)
            status = answer.status
        except ssl.SSLError as exc:
            raise TokenError(_l("The OAuth2 token endpoint's certificate could not be verified.")) from exc
        except (OSError, http.client.HTTPException) as exc:
            if deadline.expired:
                raise TokenError(_l("The OAuth2 token endpoint did not answer in time.")) from exc
            raise TokenError(_l("The OAuth2 token endpoint could not be reached.")) from exc
        finally:
            conn.close()
    if status != 200:
        raise TokenError(_l("The OAuth2 token endpoint refused the client credentials."))
    try:
        if len(data) > MAX_ANSWER:
            raise ValueError("too long")
        document = json.loads(data)
        token = document["access_token"]
        expires_in = float(document.get("expires_in", 0))
        if not isinstance(token, str) or not token or not token.isascii() or not token.isprintable():
            raise ValueError("no token")
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenError(_l("The OAuth2 token endpoint gave no usable token.")) from exc
    return token, expires_in


def xoauth2(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (not yet base64-encoded)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"
