"""A client for clamd's INSTREAM command (the protocol is a few lines; the PyPI clients are unmaintained)."""

from __future__ import annotations

import socket
import struct

from ..errors import Unavailable
from ..words import _l
from .deadline import Deadline

CHUNK = 64 * 1024


def _connect(address: str, deadline: Deadline) -> socket.socket:
    """`unix:/run/clamav/clamd.ctl` or `host:port`, watched by the deadline."""
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(deadline.remaining())
        sock.connect(address[5:])
        return deadline.watch(sock)
    host, _, port = address.rpartition(":")
    return deadline.connect((host.strip("[]"), int(port)))


def scan(address: str, data: bytes, *, timeout: float) -> str | None:
    """The signature clamd finds in `data`, or None when it finds none; `timeout` bounds the whole scan."""
    with Deadline(timeout) as deadline:
        try:
            reply = _exchange(address, data, deadline)
        except (OSError, ValueError) as exc:
            if deadline.expired:
                raise Unavailable(_l("The virus scanner at %(address)s did not answer within %(seconds)s s.",
                                address=str(address), seconds=f"{timeout:g}")) from exc
            raise Unavailable(_l("The virus scanner at %(address)s cannot be reached (%(why)s).", address=str(address),
                                why=str(exc))) from exc
        if deadline.expired:  # cut while reading: what arrived is not clamd's whole answer
            raise Unavailable(_l("The virus scanner at %(address)s did not answer within %(seconds)s s.",
                                address=str(address), seconds=f"{timeout:g}"))
    text = reply.rstrip(b"\0").decode(errors="replace")  # "stream: OK" / "stream: Eicar FOUND" / "... ERROR"
    if text.endswith(" FOUND"):
        return text.split(":", 1)[1].strip()[: -len(" FOUND")].strip()
    if text.endswith(" OK"):
        return None
    raise Unavailable(_l("The virus scanner could not scan the message (%(why)s).", why=text))


def _exchange(address: str, data: bytes, deadline: Deadline) -> bytes:
    """INSTREAM: the data in chunks, then clamd's NUL-terminated reply."""
    with _connect(address, deadline) as sock:
        sock.sendall(b"zINSTREAM\0")
        for start in range(0, len(data), CHUNK):
            chunk = data[start:start + CHUNK]
            sock.sendall(struct.pack("!L", len(chunk)) + chunk)
        sock.sendall(struct.pack("!L", 0))
        reply = b""
        while not reply.endswith(b"\0"):
            part = sock.recv(4096)
            if not part:
                break
            reply += part
    return reply
