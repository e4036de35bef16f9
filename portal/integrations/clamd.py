"""A client for clamd's INSTREAM command (the protocol is a few lines; the PyPI clients are unmaintained)."""

from __future__ import annotations

import socket
import struct

from ..errors import Unavailable

CHUNK = 64 * 1024


def _connect(address: str, timeout: float) -> socket.socket:
    """`unix:/run/clamav/clamd.ctl` or `host:port`."""
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(address[5:])
        return sock
    host, _, port = address.rpartition(":")
    return socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)


def scan(address: str, data: bytes, *, timeout: float) -> str | None:
    """The signature clamd finds in `data`, or None when it finds none."""
    try:
        with _connect(address, timeout) as sock:
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
    except (OSError, ValueError) as exc:
        raise Unavailable(f"The virus scanner at {address} cannot be reached ({exc}).") from exc
    text = reply.rstrip(b"\0").decode(errors="replace")  # "stream: OK" / "stream: Eicar FOUND" / "... ERROR"
    if text.endswith(" FOUND"):
        return text.split(":", 1)[1].strip()[: -len(" FOUND")].strip()
    if text.endswith(" OK"):
        return None
    raise Unavailable(f"The virus scanner could not scan the message ({text}).")
