"""Whole-exchange deadlines for the sockets of outside calls (SMTP, IMAP, clamd).

A socket timeout bounds one read; a peer that trickles a byte a second never trips it. A `Deadline`
bounds the whole exchange instead: the sockets it watches are shut down (both ways) by one watchdog
thread when it passes, so whatever read or write the client library is blocked in ends at once with
an error, and the integration turns that into `Unavailable`. Leaving the `with` block before the
deadline unwatches the sockets, so a pooled connection is never cut after it was handed back.

    with Deadline(20) as deadline:
        sock = deadline.connect((host, port))      # connect bounded by what is left
        ...                                        # talk; at most 20 s in all
    if deadline.expired: ...                       # the error came from the cut
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from types import TracebackType


class Deadline:
    """A point in time (monotonic) after which the watched sockets are cut."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._active = False

    def remaining(self) -> float:
        """Seconds left, never below a small positive floor (a socket timeout of 0 means non-blocking)."""
        return max(self.at - time.monotonic(), 0.001)

    def watch(self, sock: socket.socket) -> socket.socket:
        """Cut `sock`'s connection when the deadline passes (or now, if it has passed already).

        The watchdog keeps its own descriptor of the socket (a dup): a shutdown acts on the connection,
        so the cut still reaches it after a library wrapped the socket in TLS (STARTTLS) or replaced it."""
        if sock.fileno() >= 0:
            self._hold(socket.socket(fileno=os.dup(sock.fileno())))
        return sock

    def _hold(self, handle: socket.socket) -> None:
        """Keep the watchdog's own descriptor of a connection until the block ends (or the cut)."""
        with _WATCHDOG.lock:
            self._sockets.append(handle)
            if self.expired or time.monotonic() >= self.at:
                self._cut()

    def watch_fd(self, fd: int) -> None:
        """Cut the connection behind a descriptor a library owns (a psycopg connection's socket)."""
        if fd >= 0:
            self._hold(socket.socket(fileno=os.dup(fd)))

    def connect(self, address: tuple[str, int], timeout: float | None = None) -> socket.socket:
        """A TCP connection whose connect is bounded by the time left, then watched."""
        limit = self.remaining() if timeout is None else min(timeout, self.remaining())
        return self.watch(socket.create_connection(address, timeout=limit))

    def _cut(self) -> None:
        """Shut the watched sockets down (the watchdog's lock held: never after `__exit__`)."""
        self.expired = True
        sockets, self._sockets = self._sockets, []
        for handle in sockets:
            with contextlib.suppress(OSError):  # wakes a read or write blocked on the connection
                handle.shutdown(socket.SHUT_RDWR)
            handle.close()

    def __enter__(self) -> Deadline:
        _WATCHDOG.add(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        _WATCHDOG.remove(self)


def open_stream(address: str, deadline: Deadline) -> socket.socket:
    """A stream to `unix:/path` or `host:port` (a daemon's socket: clamd, spamd), watched by the deadline."""
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(deadline.remaining())
            sock.connect(address[5:])
        except OSError:
            sock.close()
            raise
        return deadline.watch(sock)
    host, _, port = address.rpartition(":")
    return deadline.connect((host.strip("[]"), int(port)))


class _Watchdog:
    """One daemon thread per process that cuts deadlines as they pass (started on first use)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._wake = threading.Condition(self.lock)
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self.lock:
            deadline._active = True
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="postern-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._wake.notify()

    def remove(self, deadline: Deadline) -> None:
        with self.lock:
            deadline._active = False  # lazily dropped from the heap; never cut after this
            handles, deadline._sockets = deadline._sockets, []
        for handle in handles:
            handle.close()

    def _run(self) -> None:
        while True:
            with self.lock:
                while self._heap and not self._heap[0][2]._active:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait(60)
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                _, _, due = heapq.heappop(self._heap)
                due._active = False
                due._cut()

    def forget(self) -> None:
        """In a forked child: no thread, no inherited deadlines."""
        self.lock = threading.Lock()
        self._wake = threading.Condition(self.lock)
        self._heap = []
        self._thread = None


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG.forget)
