"""Whole-exchange deadlines: a peer that trickles a byte every half second, or never answers, is cut at the
deadline (plus a generous margin: these are bounds, not timings) and the caller gets a clear Unavailable."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest
from flask import Flask

from portal.errors import StoreUnavailable, Unavailable
from portal.integrations import clamd, dns, smtp
from portal.integrations.deadline import Deadline
from portal.integrations.mailstore import ImapStore, check_login

DEADLINE = 2.0
MARGIN = 5.0  # generous: shared machines


@contextmanager
def bounded() -> Iterator[None]:
    """The block must end (by its expected error) before the deadline plus the margin."""
    started = time.monotonic()
    yield
    assert time.monotonic() - started < DEADLINE + MARGIN


Handler = Callable[[socket.socket, threading.Event], None]


@contextmanager
def tcp_peer(handler: Handler) -> Iterator[int]:
    """A loopback TCP server running `handler` on each connection (in a thread); yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=_run, args=(conn,), daemon=True).start()

    def _run(conn: socket.socket) -> None:
        with conn, suppress(OSError):
            handler(conn, stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def trickle(greeting: bytes = b"", drip: bytes = b"x", *, after: Callable[[socket.socket], None] | None = None
            ) -> Handler:
    """Send `greeting` at once, let `after` talk, then one byte of `drip` (cycled) every half second,
    reading (and dropping) whatever the client sends meanwhile."""

    def handler(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(greeting)
        if after:
            after(conn)
        conn.settimeout(0.5)
        for byte in itertools.cycle(drip):
            if stop.is_set():
                return
            try:
                if conn.recv(65536) == b"":
                    return
            except TimeoutError:
                pass
            conn.sendall(bytes([byte]))

    return handler


def silent(conn: socket.socket, stop: threading.Event) -> None:
    """Accept, then neither read nor write (the client's writes fill the buffers and block)."""
    stop.wait(DEADLINE + MARGIN + 5)


# --- the mechanism ------------------------------------------------------------------------------------


def test_a_deadline_cuts_a_blocked_read_and_spares_a_finished_exchange() -> None:
    with tcp_peer(silent) as port:
        with bounded(), Deadline(DEADLINE) as deadline:
            sock = deadline.connect(("127.0.0.1", port), timeout=60)  # the per-read timeout alone would wait 60 s
            assert sock.recv(10) == b""  # the cut: end of stream instead of a hang
        assert deadline.expired
        sock.close()

        with Deadline(0.5) as quick:
            kept = quick.connect(("127.0.0.1", port), timeout=60)
        time.sleep(1.0)  # past the deadline, but the block was left: the connection is not cut
        kept.settimeout(0.2)
        with pytest.raises(TimeoutError):
            kept.recv(10)
        assert not quick.expired
        kept.close()


# --- SMTP ---------------------------------------------------------------------------------------------


def _smtp_line(conn: socket.socket) -> None:
    conn.recv(1024)  # the client's EHLO


def _smtp_starttls(conn: socket.socket) -> None:
    """Offer STARTTLS and accept it; the TLS handshake that follows gets the trickle."""
    conn.recv(1024)
    conn.sendall(b"250-relay\r\n250 STARTTLS\r\n")
    conn.recv(1024)
    conn.sendall(b"220 go ahead\r\n")


@pytest.mark.parametrize(("transport", "handler"), [
    ("SMTP", trickle(drip=b"220")),  # the greeting never ends
    ("SMTP", trickle(b"220 relay ready\r\n", b"250-", after=_smtp_line)),  # EHLO's answer never ends
    ("SMTPS_ENCRYPT", trickle(drip=b"\x16\x03\x03\x3f\xff")),  # the TLS handshake never ends (inside the deadline)
    # STARTTLS wraps the watched socket in a new object: the cut still reaches the connection
    ("SMTPS_MAY", trickle(b"220 relay ready\r\n", b"\x16\x03\x03\x3f\xff", after=_smtp_starttls)),
], ids=["greeting", "ehlo", "tls-handshake", "starttls-handshake"])
def test_smtp_to_a_trickling_relay_ends_at_the_deadline(transport: str, handler: Handler) -> None:
    with tcp_peer(handler) as port, bounded(), pytest.raises(Unavailable) as error:
        smtp.deliver("127.0.0.1", port, transport, "a@example.org", ["b@example.org"], b"Subject: x\r\n\r\nhi\r\n",
                     timeout=DEADLINE)
    assert f"did not finish within {DEADLINE:g} s" in error.value.detail


# --- IMAP ---------------------------------------------------------------------------------------------


def _imap_script(conn: socket.socket) -> None:
    """Answer the login (and a CAPABILITY) like a server; the next command gets the trickle."""
    buffer = b""
    while True:
        while b"\r\n" not in buffer:
            part = conn.recv(4096)
            if not part:
                return
            buffer += part
        line, buffer = buffer.split(b"\r\n", 1)
        tag, _, rest = line.partition(b" ")
        command = rest.split(b" ", 1)[0].upper()
        if command == b"CAPABILITY":
            conn.sendall(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK done\r\n")
        elif command == b"LOGIN":
            conn.sendall(tag + b" OK [CAPABILITY IMAP4rev1] logged in\r\n")
        else:
            conn.sendall(b"* LIST (\\HasNoChildren) \"/\" ")  # then the trickle finishes nothing
            return


@pytest.mark.parametrize("handler", [
    trickle(drip=b"* OK"),  # the greeting never ends
    trickle(b"* OK [CAPABILITY IMAP4rev1] ready\r\n", b"* ", after=lambda c: c.recv(1024)),  # LOGIN's answer
    trickle(b"* OK [CAPABILITY IMAP4rev1] ready\r\n", b"x", after=_imap_script),  # LIST's answer
], ids=["greeting", "login", "command"])
def test_imap_to_a_trickling_server_ends_at_the_deadline(handler: Handler) -> None:
    with tcp_peer(handler) as port:
        store = ImapStore("127.0.0.1", port, "user@a.example*postern", "secret", timeout=DEADLINE, pooled=False)
        try:
            with bounded(), pytest.raises(StoreUnavailable) as error:
                store.folders()
        finally:
            store.close()
    assert f"did not answer within {DEADLINE:g} s" in error.value.detail


def test_imap_login_check_ends_at_the_deadline() -> None:
    with tcp_peer(trickle(drip=b"* OK")) as port, bounded(), pytest.raises(StoreUnavailable):
        check_login("127.0.0.1", port, "user@a.example", "secret", use_ssl=False, timeout=DEADLINE)


# --- clamd --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("handler", "size"), [
    (trickle(drip=b"stream: "), 10),  # the verdict never ends (no NUL)
    (silent, 64 * 1024 * 1024),  # never reads: the upload blocks
], ids=["verdict", "upload"])
def test_clamd_that_trickles_or_stalls_ends_at_the_deadline(handler: Handler, size: int) -> None:
    with tcp_peer(handler) as port, bounded(), pytest.raises(Unavailable) as error:
        clamd.scan(f"127.0.0.1:{port}", b"x" * size, timeout=DEADLINE)
    assert f"did not answer within {DEADLINE:g} s" in error.value.detail


# --- DNS ----------------------------------------------------------------------------------------------


@contextmanager
def dns_config(app: Flask, port: int) -> Iterator[None]:
    saved = app.config["DNS_SERVERS"], app.config["DNS_TIMEOUT"]
    app.config["DNS_SERVERS"], app.config["DNS_TIMEOUT"] = [("127.0.0.1", port)], DEADLINE
    try:
        with app.app_context():
            yield
    finally:
        app.config["DNS_SERVERS"], app.config["DNS_TIMEOUT"] = saved


def test_dns_server_that_never_answers_ends_at_the_deadline(app: Flask) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:  # bound, reads nothing, answers nothing
        mute.bind(("127.0.0.1", 0))
        with dns_config(app, mute.getsockname()[1]), bounded(), pytest.raises(Unavailable):
            dns.mx_hosts("example.org")


def test_dns_truncated_answer_then_trickling_tcp_ends_at_the_deadline(app: Flask) -> None:
    """UDP says "truncated, ask over TCP"; the TCP answer trickles: still one deadline for the query."""
    with tcp_peer(trickle(drip=b"\x7f")) as port, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", port))
        stop = threading.Event()

        def answer_truncated() -> None:
            udp.settimeout(0.2)
            while not stop.is_set():
                try:
                    query, peer = udp.recvfrom(4096)
                except TimeoutError:
                    continue
                reply = bytearray(query)
                reply[2] |= 0x82  # QR (an answer) and TC (truncated)
                udp.sendto(bytes(reply), peer)

        thread = threading.Thread(target=answer_truncated, daemon=True)
        thread.start()
        try:
            with dns_config(app, port), bounded(), pytest.raises(Unavailable):
                dns.mx_hosts("example.org")
        finally:
            stop.set()
            thread.join(5)
