"""A client for SpamAssassin's spamd (the SPAMC/1.5 protocol): PING and SYMBOLS (a verdict with its score).

`POSTERN_SPAMD` is `host:port` or `unix:/path`. Every call is one connection and one request, bounded as a
whole by a `Deadline`; a reply longer than MAX_REPLY is not spamd's and is refused.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from ..errors import Unavailable
from ..words import _l
from .deadline import Deadline, open_stream

MAX_REPLY = 64 * 1024
# the spam test string (spamassassin.apache.org/gtube): every SpamAssassin scores it about 1000
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
STATUS = re.compile(r"^SPAMD/(?P<version>\d+\.\d+) +(?P<code>\d+) +(?P<message>.*)$")
SPAM = re.compile(r"^(?P<flag>True|False|Yes|No) *; *(?P<score>-?[\d.]+) */ *(?P<threshold>-?[\d.]+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    spam: bool
    score: float
    threshold: float
    symbols: tuple[str, ...] = ()


def ping(address: str, *, timeout: float) -> str:
    """spamd's protocol version (`SPAMD/1.5`) when it answers PONG; `Unavailable` otherwise."""
    protocol, message, _headers, _body = _call(address, timeout, b"PING SPAMC/1.5\r\n\r\n")
    if message != "PONG":
        raise Unavailable(_l("The spam filter at %(address)s answered %(answer)s to PING.", address=str(address),
                             answer=message))
    return protocol


def check(address: str, message: bytes, *, timeout: float) -> Verdict:
    """spamd's verdict on `message` (SYMBOLS: spam or not, score, threshold, the rules that matched)."""
    request = b"SYMBOLS SPAMC/1.5\r\nContent-length: %d\r\n\r\n" % len(message) + message
    _protocol, _message, headers, body = _call(address, timeout, request)
    match = SPAM.match(headers.get("spam", ""))
    if match is None:
        raise Unavailable(_l("The spam filter at %(address)s gave no verdict.", address=str(address)))
    return Verdict(spam=match["flag"].lower() in ("true", "yes"), score=float(match["score"]),
                   threshold=float(match["threshold"]),
                   symbols=tuple(s.strip() for s in body.split(",") if s.strip()))


def gtube_message() -> bytes:
    """A minimal message carrying GTUBE (what the self-test sends)."""
    return (b"From: postern-self-test@localhost\r\nTo: postern-self-test@localhost\r\n"
            b"Subject: Postern spam filter self-test\r\nMessage-ID: <self-test@postern.invalid>\r\n\r\n"
            + GTUBE + b"\r\n")


def _call(address: str, timeout: float, request: bytes) -> tuple[str, str, dict[str, str], str]:
    """One request within `timeout` seconds: (protocol, status message, headers lower-cased, body)."""
    with Deadline(timeout) as deadline:
        try:
            reply = _exchange(address, request, deadline)
        except (OSError, ValueError) as exc:
            if deadline.expired:
                raise Unavailable(_l("The spam filter at %(address)s did not answer within %(seconds)s s.",
                                     address=str(address), seconds=f"{timeout:g}")) from exc
            raise Unavailable(_l("The spam filter at %(address)s cannot be reached (%(why)s).",
                                 address=str(address), why=str(exc))) from exc
        if deadline.expired:
            raise Unavailable(_l("The spam filter at %(address)s did not answer within %(seconds)s s.",
                                 address=str(address), seconds=f"{timeout:g}"))
    head, _, body = reply.decode(errors="replace").partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = STATUS.match(lines[0].strip())
    if status is None:
        raise Unavailable(_l("The spam filter at %(address)s gave an answer that is not spamd's.",
                             address=str(address)))
    if status["code"] != "0":
        raise Unavailable(_l("The spam filter at %(address)s refused the request (%(why)s).", address=str(address),
                             why=f"{status['code']} {status['message']}"))
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return f"SPAMD/{status['version']}", status["message"].strip(), headers, body


def _exchange(address: str, request: bytes, deadline: Deadline) -> bytes:
    """Send the request, then read until spamd closes the connection (it does after each answer)."""
    with open_stream(address, deadline) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while len(reply) <= MAX_REPLY:
            part = sock.recv(4096)
            if not part:
                return reply
            reply += part
    raise ValueError(f"more than {MAX_REPLY} bytes")
