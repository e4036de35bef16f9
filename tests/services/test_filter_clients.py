"""The spamd and clamd clients against peers that misbehave: answers that are not the daemon's, refusals, a
reply that never ends (the whole-exchange deadline), one too long, and a unix socket."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest

from portal.errors import Unavailable
from portal.integrations import clamd, spamd

DEADLINE = 1.5
MARGIN = 5.0


@contextmanager
def peer(answer: Callable[[socket.socket], None], family: int = socket.AF_INET) -> Iterator[str]:
    """A one-thread server that reads what the client sends (up to a short pause) and runs `answer`."""
    stop = threading.Event()
    path = os.path.join(tempfile.mkdtemp(prefix="peer-"), "sock") if family == socket.AF_UNIX else None
    server = socket.socket(family, socket.SOCK_STREAM)
    server.bind(path or ("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.1)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.3)
                with suppress(OSError):
                    conn.recv(65536)
                with suppress(OSError):
                    answer(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"unix:{path}" if path else f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        server.close()


def _says(data: bytes) -> Callable[[socket.socket], None]:
    return lambda conn: conn.sendall(data)


def _trickles(conn: socket.socket) -> None:
    pace = threading.Event()  # never set: the peer's pace, a byte every 50 ms
    for _ in range(200):  # each read is quick, the whole answer never ends
        conn.sendall(b"S")
        pace.wait(0.05)


def test_spamd_ping_reads_the_protocol_version_over_a_unix_socket() -> None:
    with peer(_says(b"SPAMD/1.5 0 PONG\r\n"), socket.AF_UNIX) as address:
        assert spamd.ping(address, timeout=DEADLINE) == "SPAMD/1.5"


@pytest.mark.parametrize(("reply", "words"), [
    (b"HTTP/1.1 200 OK\r\n\r\n", "not spamd's"),
    (b"SPAMD/1.0 76 Bad header line: PING\r\n", "refused the request (76 Bad header line: PING)"),
    (b"", "not spamd's"),
    (b"SPAMD/1.5 0 EX_OK\r\nContent-length: 0\r\n\r\n", "gave no verdict"),
    (b"SPAMD/1.5 0 EX_OK\r\n" + b"X" * (spamd.MAX_REPLY + 10), "cannot be reached (more than"),
])
def test_spamd_answers_that_are_not_a_verdict_are_unavailable(reply: bytes, words: str) -> None:
    with peer(_says(reply)) as address, pytest.raises(Unavailable) as error:
        spamd.check(address, spamd.gtube_message(), timeout=DEADLINE)
    assert words in str(error.value.detail)


def test_spamd_that_never_finishes_its_answer_ends_at_the_deadline() -> None:
    with peer(_trickles) as address:
        started = time.monotonic()
        with pytest.raises(Unavailable) as error:
            spamd.ping(address, timeout=DEADLINE)
        assert time.monotonic() - started < DEADLINE + MARGIN
    assert f"did not answer within {DEADLINE:g} s" in str(error.value.detail)


def test_clamd_ping_and_version_and_a_reply_cut_short() -> None:
    with peer(_says(b"PONG\0")) as address:
        assert clamd.ping(address, timeout=DEADLINE) is True
    with peer(_says(b"ClamAV 1.0.7\0")) as address:
        assert clamd.version(address, timeout=DEADLINE) == "ClamAV 1.0.7"
    with peer(_says(b"PON")) as address, pytest.raises(Unavailable) as error:
        clamd.ping(address, timeout=DEADLINE)
    assert "closed the connection without an answer" in str(error.value.detail)
    with peer(_trickles) as address, pytest.raises(Unavailable) as error:
        clamd.version(address, timeout=DEADLINE)
    assert "did not answer within" in str(error.value.detail)
