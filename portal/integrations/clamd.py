"""A client for clamd: INSTREAM, PING and VERSION (the protocol is a few lines; the PyPI clients are unmaintained).

Every call is one connection and one command, bounded as a whole by a `Deadline`."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

from ..errors import Unavailable
from ..words import _l
from .deadline import Deadline, open_stream

CHUNK = 64 * 1024
MAX_REPLY = 64 * 1024  # a reply is one line; more is not clamd


# the antivirus test file (eicar.org): every engine reports it, clamd as "Eicar-Test-Signature" or the like
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def scan(address: str, data: bytes, *, timeout: float) -> str | None:
    """The signature clamd finds in `data`, or None when it finds none; `timeout` bounds the whole scan."""
    text = _call(address, timeout, lambda deadline: _exchange(address, data, deadline))
    if text.endswith(" FOUND"):
        return text.split(":", 1)[1].strip()[: -len(" FOUND")].strip()
    if text.endswith(" OK"):
        return None
    raise Unavailable(_l("The virus scanner could not scan the message (%(why)s).", why=text))


def ping(address: str, *, timeout: float) -> bool:
    """True when clamd answers PONG."""
    return _call(address, timeout, lambda deadline: _command(address, b"zPING\0", deadline)) == "PONG"


def version(address: str, *, timeout: float) -> str:
    """clamd's VERSION answer, e.g. `ClamAV 1.0.7/27000/...` (without a database: `ClamAV 1.0.7`)."""
    return _call(address, timeout, lambda deadline: _command(address, b"zVERSION\0", deadline))


def _call(address: str, timeout: float, exchange: Callable[[Deadline], bytes]) -> str:
    """One exchange within `timeout` seconds, its NUL-terminated answer as text; failures are `Unavailable`."""
    with Deadline(timeout) as deadline:
        try:
            reply = exchange(deadline)
        except (OSError, ValueError) as exc:
            if deadline.expired:
                raise Unavailable(_l("The virus scanner at %(address)s did not answer within %(seconds)s s.",
                                address=str(address), seconds=f"{timeout:g}")) from exc
            raise Unavailable(_l("The virus scanner at %(address)s cannot be reached (%(why)s).", address=str(address),
                                why=str(exc))) from exc
        if deadline.expired:  # cut while reading: what arrived is not clamd's whole answer
            raise Unavailable(_l("The virus scanner at %(address)s did not answer within %(seconds)s s.",
                                address=str(address), seconds=f"{timeout:g}"))
    if not reply.endswith(b"\0"):  # closed before the end of its answer
        raise Unavailable(_l("The virus scanner at %(address)s closed the connection without an answer.",
                             address=str(address)))
    return reply.rstrip(b"\0").decode(errors="replace")  # "stream: OK" / "stream: Eicar FOUND" / "PONG" / ...


def _read_reply(sock: socket.socket) -> bytes:
    """clamd's NUL-terminated reply (what arrived, if the connection ends first)."""
    reply = b""
    while not reply.endswith(b"\0") and len(reply) < MAX_REPLY:
        part = sock.recv(4096)
        if not part:
            break
        reply += part
    return reply


def _command(address: str, command: bytes, deadline: Deadline) -> bytes:
    with open_stream(address, deadline) as sock:
        sock.sendall(command)
        return _read_reply(sock)


def _exchange(address: str, data: bytes, deadline: Deadline) -> bytes:
    """INSTREAM: the data in chunks, then clamd's NUL-terminated reply."""
    with open_stream(address, deadline) as sock:
        sock.sendall(b"zINSTREAM\0")
        for start in range(0, len(data), CHUNK):
            chunk = data[start:start + CHUNK]
            sock.sendall(struct.pack("!L", len(chunk)) + chunk)
        sock.sendall(struct.pack("!L", 0))
        return _read_reply(sock)
