"""Postern's own mail keeps its SMTP session between mails of one thread (`mailserver.send(keep_seconds=)`):
the next mail to the same endpoint goes over it after an RSET; a session the server ended meanwhile is replaced
before anything is sent; each mail keeps its own whole-exchange deadline; another endpoint gets its own session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portal.errors import MaybeDelivered
from portal.integrations import mailserver
from portal.integrations.mailserver import Endpoint
from tests.services_runtime import free_port, slow_smtp_server, smtp_server

RAW = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: kept\r\n\r\nbody\r\n"


def _endpoint(port: int) -> Endpoint:
    return Endpoint("SMTP", "127.0.0.1", port, "NONE", None, "NO_AUTH")


def _send(port: int, keep: float, timeout: float = 10.0) -> dict[str, tuple[int, bytes]]:
    return mailserver.send(_endpoint(port), "a@example.org", ["b@example.org"], RAW, timeout=timeout,
                           allow_private=True, extra_ports=range(1024, 65536), keep_seconds=keep)


@pytest.fixture(autouse=True)
def _no_session_left() -> Iterator[None]:
    mailserver.end_kept_session()
    yield
    mailserver.end_kept_session()


def test_mails_of_a_thread_share_one_session() -> None:
    with smtp_server() as (sink, port):
        for _ in range(3):
            assert _send(port, keep=30) == {}
        assert len(sink.messages) == 3 and len(set(sink.peers)) == 1


def test_without_keeping_each_mail_has_its_own_session() -> None:
    with smtp_server() as (sink, port):
        _send(port, keep=0)
        _send(port, keep=0)
        assert len(sink.messages) == 2 and len(set(sink.peers)) == 2


def test_a_session_the_server_ended_is_replaced_before_sending() -> None:
    port = free_port()
    from aiosmtpd.controller import Controller

    from tests.services_runtime import SmtpSink

    first, second = SmtpSink(), SmtpSink()
    controller = Controller(first, hostname="127.0.0.1", port=port)
    controller.start()
    _send(port, keep=30)
    controller.stop()  # the server goes away with the kept connection; another one listens there
    controller = Controller(second, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert _send(port, keep=30) == {}  # no MaybeDelivered, no loss: the RSET failed, a new session sent it
    finally:
        controller.stop()
    assert len(first.messages) == 1 and len(second.messages) == 1


def test_another_endpoint_gets_its_own_session() -> None:
    with smtp_server() as (one, port_one), smtp_server() as (two, port_two):
        _send(port_one, keep=30)
        _send(port_two, keep=30)
        _send(port_one, keep=30)
        assert len(one.messages) == 2 and len(set(one.peers)) == 2 and len(two.messages) == 1


def test_a_kept_session_is_under_each_mail_s_deadline() -> None:
    with slow_smtp_server(1.5) as (sink, port):
        assert _send(port, keep=30, timeout=10) == {}
        with pytest.raises(MaybeDelivered):  # the DATA answer comes after this mail's deadline: cut
            _send(port, keep=30, timeout=0.5)
        assert _send(port, keep=30, timeout=10) == {}  # the cut session is gone; a new one sends
        assert sink.wait_for(2) and len(set(sink.peers)) == 2
