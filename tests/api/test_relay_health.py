"""Relay diagnostics (seed 5.11.2, 5.11.5, 5.11.6) against real relays: aiosmtpd plain, with STARTTLS and with
implicit TLS (a throwaway CA), one refusing the test address, a silent peer that hangs mid-banner; the connection
rules (private ranges refused when not allowed, the port allow-list); the rate of checks; try-relay keeps
nothing; the jobs (one platform through the outbox, the scheduled re-check of all)."""

from __future__ import annotations

import time
import warnings
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import jobs
from portal.extensions import db
from portal.models import Domain, HealthReport, Platform
from portal.services import health, relay_health
from tests.services_runtime import CertificateAuthority, mail_smtp_server, silent_server, smtp_server
from tests.snapshot import snapshot
from tests.world import World


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority()


@pytest.fixture(autouse=True)
def _short_lived_certificates_are_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test CA's certificates live a day: below the 14 days that warn of an expiry (tested apart)."""
    monkeypatch.setattr(relay_health, "EXPIRY_WARNING", timedelta(hours=1))


@pytest.fixture(autouse=True)
def _check_at_will(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests check a platform several times in a row (`test_rates` sets the interval back)."""
    monkeypatch.setitem(app.config, "RELAY_CHECK_INTERVAL", 0)


def _point(app: Flask, world: World, host: str, port: int, transport: str = "SMTP",
           fallback: tuple[str, int, str] | None = None, name: str = "platformA") -> str:
    """Point a platform of the world at a relay (and a fallback); answers its public id."""
    with app.app_context():
        platform = db.session.get(Platform, world.pk[name])
        platform.transport_dest, platform.transport_port, platform.transport_type = host, port, transport
        platform.fallback_transport_dest, platform.fallback_transport_port, platform.fallback_transport_type = \
            fallback or (None, None, None)
        db.session.commit()
    return world.id(name)


def _run(client: FlaskClient, world: World, platform: str, role: str = "sysadmin", **query: str) -> dict[str, Any]:
    answer = client.post(f"/api/platforms/{platform}/health", query_string=query, headers=world.headers(role))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def _entry(health_answer: dict[str, Any], kind: str = "RELAY") -> dict[str, Any]:
    return next(e for e in health_answer["report"]["entries"] if e["type"] == kind)


def test_a_plain_relay_passes_and_the_report_is_kept(app: Flask, client: FlaskClient, world: World) -> None:
    with smtp_server() as (sink, port):
        platform = _point(app, world, "127.0.0.1", port)
        before = int(time.time())
        answer = _run(client, world, platform)
    assert answer["report"]["status"] is True
    assert before <= answer["performedAt"] <= int(time.time())  # seconds, as the seed
    entry = _entry(answer)
    assert entry["result"] == "OK", entry
    assert entry["output"][0] == f"Connection to 127.0.0.1 port {port} (SMTP)"
    assert any(line.startswith("Banner: 220 ") for line in entry["output"])
    assert entry["output"][-1] == "Success"
    assert not sink.messages
    again = client.get(f"/api/platforms/{platform}/health", headers=world.headers("domainA"))
    assert again.status_code == 200 and again.get_json() == answer
    with app.app_context():
        row = health.last(health.PLATFORM, world.pk["platformA"])
        assert row is not None and row.status is True and row.failing_since is None


def test_never_checked_is_a_404_saying_so(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        db.session.query(HealthReport).delete()
        db.session.commit()
    answer = client.get(f"/api/platforms/{world.id('platformA')}/health", headers=world.headers("sysadmin"))
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
    assert "never checked" in answer.get_json()["detail"]


def test_starttls_with_a_trusted_certificate(app: Flask, client: FlaskClient, world: World, ca: CertificateAuthority,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "RELAY_CA_PEM", ca.pem)
    with mail_smtp_server("STARTTLS", ca=ca) as (_, port):
        entry = _entry(_run(client, world, _point(app, world, "localhost", port, "SMTPS_MAY")))
    assert entry["result"] == "OK", entry
    assert "STARTTLS offered" in entry["output"]
    assert any(line.startswith("TLS: TLSv1.") for line in entry["output"])
    assert any(line.startswith("Certificate: subject CN=127.0.0.1; issuer CN=Postern Test CA; valid until ")
               for line in entry["output"]), entry["output"]
    assert "Certificate names: localhost, 127.0.0.1" in entry["output"]
    assert "Certificate verified for localhost" in entry["output"]


def test_an_untrusted_certificate_is_a_warning_with_the_reason(app: Flask, client: FlaskClient, world: World,
                                                               ca: CertificateAuthority) -> None:
    with mail_smtp_server("STARTTLS", ca=ca) as (_, port):
        answer = _run(client, world, _point(app, world, "localhost", port, "SMTPS_MAY"))
    entry = _entry(answer)
    assert answer["report"]["status"] is True  # Postfix at level may does not verify: mail flows, encrypted
    assert entry["result"] == "WARNING_RELAY_CERTIFICATE", entry
    assert any(line.startswith("Certificate not verified: unable to get local issuer certificate")
               for line in entry["output"]), entry["output"]
    assert any(line.startswith("Certificate: subject CN=127.0.0.1") for line in entry["output"])


def test_smtps_may_without_starttls_warns(app: Flask, client: FlaskClient, world: World) -> None:
    with smtp_server() as (_, port):
        answer = _run(client, world, _point(app, world, "127.0.0.1", port, "SMTPS_MAY"))
    assert answer["report"]["status"] is True
    entry = _entry(answer)
    assert entry["result"] == "WARNING_RELAY_NO_TLS" and "STARTTLS not offered" in entry["output"]


def test_smtps_encrypt_is_implicit_tls_as_exported(app: Flask, client: FlaskClient, world: World,
                                                   ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "RELAY_CA_PEM", ca.pem)
    with mail_smtp_server("SSL_TLS", ca=ca) as (_, port):
        entry = _entry(_run(client, world, _point(app, world, "localhost", port, "SMTPS_ENCRYPT")))
    assert entry["result"] == "OK", entry
    assert "Certificate verified for localhost" in entry["output"]
    # a relay that expects STARTTLS on that port: the gateway's smtps transport would fail, so does the check
    with mail_smtp_server("STARTTLS", ca=ca) as (_, port):
        answer = _run(client, world, _point(app, world, "localhost", port, "SMTPS_ENCRYPT"))
    entry = _entry(answer)
    assert answer["report"]["status"] is False
    assert entry["result"] == "ERROR_RELAY_TLS", entry
    assert "plain text" in entry["output"][-1]


def test_the_test_address_is_probed_without_data(app: Flask, client: FlaskClient, world: World) -> None:
    with smtp_server() as (sink, port):
        sink.refuse.add("nobody@a.example")
        sink.full.add("busy@a.example")
        platform = _point(app, world, "127.0.0.1", port)
        refused = _run(client, world, platform, testAddress="nobody@a.example")
        deferred = _run(client, world, platform, testAddress="busy@a.example")
        accepted = _run(client, world, platform, testAddress="user@a.example")
        assert not sink.messages  # MAIL FROM, RCPT TO, RSET, QUIT: never DATA
    assert refused["report"]["status"] is False
    assert _entry(refused)["result"] == "ERROR_RELAY_RCPT_REFUSED"
    assert "Test address answer: 550 5.1.1 no such mailbox" in _entry(refused)["output"]
    assert _entry(deferred)["result"] == "WARNING_RELAY_RCPT_DEFERRED" and deferred["report"]["status"] is True
    assert _entry(accepted)["result"] == "OK"
    assert "Test address answer: 250 OK" in _entry(accepted)["output"]
    bad = client.post(f"/api/platforms/{platform}/health", query_string={"testAddress": "a@b\r\nDATA"},
                      headers=world.headers("sysadmin"))
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "testAddress"


def test_the_fallback_is_checked_too(app: Flask, client: FlaskClient, world: World) -> None:
    with smtp_server() as (_, closed):
        pass  # a port nothing listens on any more
    with smtp_server() as (_, port):
        answer = _run(client, world, _point(app, world, "127.0.0.1", closed, fallback=("127.0.0.1", port, "SMTP")))
    assert answer["report"]["status"] is False
    assert _entry(answer)["result"] == "ERROR_RELAY_UNREACHABLE"
    assert _entry(answer)["output"][-1] == "Fail: Could not connect to the server."
    assert _entry(answer, "RELAY_FALLBACK")["result"] == "OK"


def test_a_relay_hanging_mid_banner_ends_at_the_deadline(app: Flask, client: FlaskClient, world: World,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "RELAY_TIMEOUT", 1.0)
    with silent_server() as port, smtp_server() as (_, good):
        platform = _point(app, world, "127.0.0.1", port, fallback=("127.0.0.1", good, "SMTP"))
        started = time.monotonic()
        answer = _run(client, world, platform)
        elapsed = time.monotonic() - started
    assert elapsed < 3, elapsed  # both relays probed at once, each within its deadline
    entry = _entry(answer)
    assert entry["result"] == "ERROR_RELAY_TIMEOUT", entry
    assert "waiting for the banner" in entry["output"][-1]
    assert _entry(answer, "RELAY_FALLBACK")["result"] == "OK"


def test_forbidden_targets(app: Flask, client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "ALLOW_PRIVATE_TARGETS", False)
    headers = world.headers("sysadmin")

    def tried(**body: Any) -> Any:
        return client.post("/api/health/try-relay", json={"transportPort": 25, **body}, headers=headers)

    for host in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "0.0.0.0"):
        answer = tried(transportDest=host)
        assert answer.status_code == 400 and answer.mimetype == "application/problem+json", host
        assert answer.get_json()["errors"][0]["field"] == "transportDest", host
    fallback = tried(transportDest="8.8.8.8", fallbackTransportDest="172.16.0.1", fallbackTransportPort=25)
    assert fallback.status_code == 400 and fallback.get_json()["errors"][0]["field"] == "fallbackTransportDest"
    port = tried(transportDest="8.8.8.8", transportPort=9)
    assert port.status_code == 400 and port.get_json()["errors"][0]["field"] == "transportPort"
    for bad in ("relay.example\r\nRCPT", "relay example", "http://relay.example/", ""):
        answer = tried(transportDest=bad)
        assert answer.status_code == 400, bad
    # a saved platform on a forbidden address: a finding in its report, not bad input
    platform = _point(app, world, "127.0.0.1", 2525)
    entry = _entry(_run(client, world, platform))
    assert entry["result"] == "ERROR_RELAY_FORBIDDEN_TARGET"
    assert entry["output"][-1].startswith("Fail: This host is not allowed")


def test_try_relay_keeps_nothing(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        before = snapshot()
    with smtp_server() as (sink, port):
        sink.refuse.add("nobody@a.example")
        good = client.post("/api/health/try-relay", headers=world.headers("domainA"), json={
            "id": world.id("platformA"), "transportDest": "127.0.0.1", "transportPort": port, "authType": "local",
            "apiType": "IMAP"})
        bad = client.post("/api/health/try-relay", headers=world.headers("domainA"), json={
            "transportDest": "127.0.0.1", "transportPort": port, "testAddress": "nobody@a.example",
            "authType": "local", "apiType": "IMAP"})
    assert good.status_code == 200, good.get_data(as_text=True)
    assert good.get_json()["report"]["status"] is True and _entry(good.get_json())["result"] == "OK"
    assert bad.status_code == 200 and bad.get_json()["report"]["status"] is False
    assert _entry(bad.get_json())["result"] == "ERROR_RELAY_RCPT_REFUSED"
    with app.app_context():
        after = snapshot()
    after.pop("audit_events"), before.pop("audit_events")  # the tries are in the audit trail, as any admin POST
    assert after == before
    other = client.post("/api/health/try-relay", headers=world.headers("domainB"), json={
        "id": world.id("platformA"), "transportDest": "127.0.0.1", "transportPort": 2525})
    assert other.status_code == 400 and other.get_json()["errors"][0]["field"] == "id"


def test_rates(app: Flask, client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "RELAY_CHECK_INTERVAL", 60)
    monkeypatch.setitem(app.config, "RELAY_TRY_RATE_LIMIT", "2 per minute")
    with smtp_server() as (_, port):
        platform = _point(app, world, "127.0.0.1", port)
        _run(client, world, platform)
        again = client.post(f"/api/platforms/{platform}/health", headers=world.headers("sysadmin"))
        assert again.status_code == 429 and again.mimetype == "application/problem+json"
        assert 1 <= int(again.headers["Retry-After"]) <= 60
        body = {"transportDest": "127.0.0.1", "transportPort": port}
        statuses = [client.post("/api/health/try-relay", json=body, headers=world.headers("domainA")).status_code
                    for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert client.post("/api/health/try-relay", json=body, headers=world.headers("sysadmin")).status_code == 200


def test_the_jobs(app: Flask, client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "HEALTH_CONCURRENCY", 2)
    with smtp_server() as (_, good), smtp_server() as (_, closed):
        pass
    with smtp_server() as (_, good):
        _point(app, world, "127.0.0.1", good)
        with app.app_context():
            b = db.session.scalars(db.select(Platform).where(Platform.domain_id == world.pk["B"])).one()
            c = db.session.scalars(db.select(Platform).where(Platform.domain_id == world.pk["C"])).one()
            b.transport_dest, b.transport_port = "127.0.0.1", closed
            c.transport_dest, c.transport_port = "127.0.0.1", good
            db.session.get(Domain, world.pk["C"]).status = "DISABLED"
            db.session.commit()
            assert jobs.run_now("platform_health", world.pk["platformA"]) is False  # passing: not "started failing"
            assert jobs.run_now("recheck_platforms") == {"platforms": 2, "batches": 1}  # C's domain is disabled
            assert jobs.run_now("recheck_platforms_batch", [world.pk["platformA"], b.id, c.id]) == {
                "platforms": 2, "relays": 2, "failing": 1}  # C's domain is disabled: skipped
            db.session.expire_all()
            assert health.last(health.PLATFORM, world.pk["platformA"]).status is True
            failing = health.last(health.PLATFORM, b.id)
            assert failing.status is False and failing.failing_since is not None
            assert failing.report["entries"][0]["result"] == "ERROR_RELAY_UNREACHABLE"
            assert health.last(health.PLATFORM, c.id) is None
            assert jobs.run_now("platform_health", 10**6) is None  # a platform removed meanwhile


def test_a_certificate_about_to_expire_warns(app: Flask, client: FlaskClient, world: World, ca: CertificateAuthority,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay_health, "EXPIRY_WARNING", timedelta(days=14))
    monkeypatch.setitem(app.config, "RELAY_CA_PEM", ca.pem)
    with mail_smtp_server("SSL_TLS", ca=ca) as (_, port):
        answer = _run(client, world, _point(app, world, "localhost", port, "SMTPS_ENCRYPT"))
    entry = _entry(answer)
    assert answer["report"]["status"] is True and entry["result"] == "WARNING_RELAY_CERTIFICATE"
    assert "Certificate verified for localhost" in entry["output"]
    assert any(line.startswith("Certificate expires on ") for line in entry["output"])


def test_a_failing_starttls_under_smtps_may_warns_and_goes_on_in_clear(app: Flask, client: FlaskClient,
                                                                        world: World, ca: CertificateAuthority) -> None:
    import ssl

    from aiosmtpd.controller import Controller

    from tests.services_runtime import SmtpSink, free_port

    context = ca.server_context("localhost")
    with warnings.catch_warnings():  # an old version on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        context.maximum_version = ssl.TLSVersion.TLSv1_1  # below what Postern accepts: the handshake fails
    sink, port = SmtpSink(), free_port()
    sink.refuse.add("nobody@a.example")
    controller = Controller(sink, hostname="127.0.0.1", port=port, tls_context=context, ready_timeout=10)
    controller.start()
    try:
        platform = _point(app, world, "localhost", port, "SMTPS_MAY")
        warned = _run(client, world, platform)
        answer = _run(client, world, platform, testAddress="nobody@a.example")
    finally:
        controller.stop()
    assert warned["report"]["status"] is True and _entry(warned)["result"] == "WARNING_RELAY_TLS_FAILED"
    entry = _entry(answer)
    assert any(line.startswith("TLS failed: ") for line in entry["output"]), entry["output"]
    # the connection again without STARTTLS reached the RCPT probe, as Postfix at level may would deliver
    assert entry["result"] == "ERROR_RELAY_RCPT_REFUSED", entry
    assert "Test address answer: 550 5.1.1 no such mailbox" in entry["output"]
