"""Domain diagnostics (issue 14, item 2) against a real DNS server (dnslib on loopback, UDP and TCP): one zone
per case; DNS that never answers or answers SERVFAIL gives results within the deadline; the job through the
outbox; the notice to a domain that starts failing is sent once, even when two runs record it at once."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from portal import jobs, outbox
from portal.extensions import db
from portal.models import DkimKey, Domain, HealthReport, MailServer, OptionValue, OutgoingProvider
from portal.services import domain_health, health
from tests.services_runtime import SmtpSink, dns_server, smtp_server
from tests.world import World


def public_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


KEY, OTHER_KEY = public_key(), public_key()
assert len(KEY) > 255  # published as two strings


def split(value: str) -> str:
    return " ".join(f'"{value[i:i + 200]}"' for i in range(0, len(value), 200))


GOOD_TAIL = """
{n}.           300 IN MX  10 mx1.gateway.test.
{n}.           300 IN TXT "v=spf1 include:spf.gateway.test include:spf.provider.test -all"
{n}.           300 IN TXT "google-site-verification=abc"
protect._domainkey.{n}. 300 IN TXT {dkim}
_dmarc.{n}.    300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{n}"
_mta-sts.{n}.  300 IN TXT "v=STSv1; id=20240101T01"
_smtp._tls.{n}. 300 IN TXT "v=TLSRPTv1; rua=mailto:tls@{n}"
"""

ZONE = (GOOD_TAIL.format(n="good.example", dkim=split("v=DKIM1; k=rsa; p=" + KEY))
        + GOOD_TAIL.format(n="mismatch.example", dkim=split("v=DKIM1; k=rsa; p=" + OTHER_KEY))
        + GOOD_TAIL.format(n="lax.example", dkim='"v=DKIM1; p=' + KEY[:200] + '" "' + KEY[200:] + '"')
        .replace('"v=DMARC1; p=reject; rua=mailto:dmarc@lax.example"', '"v=DMARC1; p=none; rua=mailto:d@lax.example"')
        + """
spf.gateway.test.   300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
spf.provider.test.  300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"
missing.example.    300 IN A   192.0.2.7
invalid.example.    300 IN MX  10 mx1.gateway.test.
invalid.example.    300 IN MX  20 mail.elsewhere.test.
invalid.example.    300 IN TXT "v=spf1 mx -all"
_mta-sts.invalid.example. 300 IN TXT "v=STSv1; id=not valid!"
_smtp._tls.invalid.example. 300 IN TXT "v=TLSRPTv1; rua=ftp://x"
_dmarc.invalid.example. 300 IN TXT "v=DMARC1; p=maybe"
many.example.       300 IN MX  10 mx2.gateway.test.
many.example.       300 IN TXT "v=spf1 include:spf.gateway.test include:many.test include:loop.test -all"
many.test.          300 IN TXT "v=spf1 a mx a:x.test a:y.test mx:z.test include:more.test -all"
more.test.          300 IN TXT "v=spf1 a mx ptr exists:%{i}.e.test a:q.test -all"
loop.test.          300 IN TXT "v=spf1 include:loop.test -all"
two.example.        300 IN MX  10 mx2.gateway.test.
two.example.        300 IN TXT "v=spf1 include:spf.gateway.test -all"
two.example.        300 IN TXT "v=spf1 ip4:203.0.113.1 -all"
broken.example.     300 IN TXT "v=spf1 include:spf.gateway.test -all"
""")

GATEWAY = ["mx1.gateway.test", "mx2.gateway.test"]


@pytest.fixture
def zone(app: Flask) -> Iterator[tuple[str, int]]:
    with dns_server(ZONE, servfail=["broken.example"]) as server:
        app.config.update(GATEWAY_MX_HOSTS=GATEWAY, GATEWAY_SPF_INCLUDE="spf.gateway.test", DNS_SERVERS=[server],
                          DNS_TIMEOUT=2.0)
        try:
            yield server
        finally:
            app.config.update(GATEWAY_MX_HOSTS=[], GATEWAY_SPF_INCLUDE=None, DNS_SERVERS=[])


def add_domain(world: World, name: str, key: str | None = None, providers: tuple[str, ...] = ()) -> int:
    domain = Domain(customer_id=world.pk["C1"], name=name)
    db.session.add(domain)
    db.session.flush()
    if key:
        db.session.add(DkimKey(domain_id=domain.id, selector="protect", state="active", private_key_enc="x",
                               public_key=key))
    for spf in providers:
        provider = OutgoingProvider(name=spf, spf_provider=spf)
        db.session.add(provider)
        domain.outgoing_providers.append(provider)
    db.session.commit()
    return domain.id


def diagnose(app: Flask, world: World, name: str, **kw: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    with app.app_context():
        report = domain_health.check_one(add_domain(world, name, **kw))
        db.session.commit()
    assert report is not None
    assert [e["type"] for e in report["entries"]] == ["MX", "DKIM", "SPF", "DMARC", "MTA_STS", "TLSRPT"]
    return report, {e["type"]: e for e in report["entries"]}


def results(entries: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {kind: e["result"] for kind, e in entries.items()}


def test_a_well_wired_domain_passes_every_check(app: Flask, world: World, zone: object) -> None:
    report, entries = diagnose(app, world, "good.example", key=KEY, providers=("spf.provider.test",))
    assert report["status"] is True
    assert set(results(entries).values()) == {"OK"}
    assert entries["MX"]["output"] == ["Passed"]  # the seed's form


def test_missing_records(app: Flask, world: World, zone: object) -> None:
    report, entries = diagnose(app, world, "missing.example", key=KEY)
    assert report["status"] is False
    assert results(entries) == {
        "MX": "ERROR_MX_MISSING_ENTRY", "DKIM": "ERROR_DKIM_MISSING_ENTRY", "SPF": "ERROR_SPF_MISSING_ENTRY",
        "DMARC": "ERROR_DMARC_MISSING_ENTRY", "MTA_STS": "WARNING_MTA_STS_MISSING_ENTRY",
        "TLSRPT": "WARNING_TLSRPT_MISSING_ENTRY"}
    # the seed's lines, word for word
    assert entries["MX"]["output"] == ["Lookup for MX entry in DNS for missing.example", "Fail: No MX entry found"]
    assert entries["DKIM"]["output"] == [
        "Lookup for dkim entry in DNS for missing.example",
        'Fail: DKIM DNS entry not found for domain "missing.example" and selector "protect"']


def test_no_stored_key_is_a_warning(app: Flask, world: World, zone: object) -> None:
    report, entries = diagnose(app, world, "good.example", providers=("spf.provider.test",))
    assert entries["DKIM"]["result"] == "WARNING_DKIM_NOT_CONFIGURED" and report["status"] is True


def test_invalid_records(app: Flask, world: World, zone: object) -> None:
    report, entries = diagnose(app, world, "invalid.example")
    assert report["status"] is False
    assert results(entries) == {
        "MX": "ERROR_MX_INVALID_ENTRY", "DKIM": "WARNING_DKIM_NOT_CONFIGURED", "SPF": "ERROR_SPF_GATEWAY_MISSING",
        "DMARC": "ERROR_DMARC_INVALID_ENTRY", "MTA_STS": "ERROR_MTA_STS_INVALID_ENTRY",
        "TLSRPT": "ERROR_TLSRPT_INVALID_ENTRY"}
    assert "Required: mx1.gateway.test, mx2.gateway.test" in entries["MX"]["output"]
    assert entries["MX"]["output"][-1] == "Fail"


def test_dkim_key_in_dns_differs_from_the_stored_one(app: Flask, world: World, zone: object) -> None:
    _, entries = diagnose(app, world, "mismatch.example", key=KEY, providers=("spf.provider.test",))
    assert entries["DKIM"]["result"] == "ERROR_DKIM_INVALID_COUPLE"
    assert entries["DKIM"]["output"][-1] == "Fail: DKIM key defined in DNS does not match with private part"


def test_split_long_txt_strings_are_joined_and_p_none_warns(app: Flask, world: World, zone: object) -> None:
    report, entries = diagnose(app, world, "lax.example", key=KEY, providers=("spf.provider.test",))
    assert entries["DKIM"]["result"] == "OK"
    assert entries["DMARC"]["result"] == "WARNING_DMARC_POLICY_NONE"
    assert report["status"] is True  # a warning does not fail the domain


def test_spf_with_too_many_lookups_and_a_loop(app: Flask, world: World, zone: object) -> None:
    _, entries = diagnose(app, world, "many.example")
    assert entries["SPF"]["result"] == "ERROR_SPF_TOO_MANY_LOOKUPS"
    assert any("DNS lookups, at most 10" in line for line in entries["SPF"]["output"])


def test_two_spf_records_and_a_missing_provider(app: Flask, world: World, zone: object) -> None:
    _, entries = diagnose(app, world, "two.example")
    assert entries["SPF"]["result"] == "ERROR_SPF_MULTIPLE_ENTRIES"
    _, entries = diagnose(app, world, "good.example", key=KEY, providers=("spf.provider.test", "spf.other.test"))
    assert entries["SPF"]["result"] == "ERROR_SPF_PROVIDER_MISSING"
    assert "Fail: include:spf.other.test is missing" in entries["SPF"]["output"]


def test_spf_lookup_count_follows_includes_with_a_bound() -> None:
    zone = {"a.test": ["v=spf1 include:b.test mx -all"], "b.test": ["v=spf1 include:a.test a -all"]}
    count, _ = domain_health.count_spf_lookups(zone["a.test"][0], lambda name: zone.get(name, []))
    # include:b, (in b) include:a, (in a again) include:b counted but not followed again, mx, (back in b) a, mx
    assert count == 6


def test_servfail_is_a_result_not_an_error(app: Flask, world: World, zone: object) -> None:
    report, entries = diagnose(app, world, "broken.example")
    assert entries["MX"]["result"] == "ERROR_DNS_UNAVAILABLE" and entries["SPF"]["result"] == "ERROR_DNS_UNAVAILABLE"
    assert entries["MX"]["output"][0] == "Lookup for MX entry in DNS for broken.example"
    assert entries["DMARC"]["result"] == "ERROR_DMARC_MISSING_ENTRY"  # other names still answer
    assert report["status"] is False


def test_dns_that_never_answers_gives_results_within_one_deadline(app: Flask, world: World) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
        mute.bind(("127.0.0.1", 0))
        app.config.update(DNS_SERVERS=[("127.0.0.1", mute.getsockname()[1])], DNS_TIMEOUT=0.5)
        try:
            started = time.monotonic()
            report, entries = diagnose(app, world, "silent.example", key=KEY)
            elapsed = time.monotonic() - started
        finally:
            app.config.update(DNS_SERVERS=[], DNS_TIMEOUT=3.0)
    assert set(results(entries).values()) == {"ERROR_DNS_UNAVAILABLE"}
    assert report["status"] is False
    assert elapsed < 1.5  # six lookups at once: about one deadline, not six


def test_the_job_runs_through_the_outbox(app: Flask, world: World, zone: object) -> None:
    with app.app_context():
        pk = add_domain(world, "good.example", key=KEY, providers=("spf.provider.test",))
        health.mark_running(health.DOMAIN, pk)
        outbox.enqueue("domain_health", pk)
        db.session.commit()
        assert jobs.dispatch() == 1  # in-process (no Redis): run after the commit
        db.session.expire_all()
        row = health.last(health.DOMAIN, pk)
        assert row is not None and row.state == "done" and row.status is True


def test_check_all_records_every_enabled_domain(app: Flask, world: World, zone: object) -> None:
    with app.app_context():
        good = add_domain(world, "good.example", key=KEY, providers=("spf.provider.test",))
        bad = add_domain(world, "missing.example")
        summary = domain_health.check_all(concurrency=4)
        db.session.commit()
        enabled = db.session.query(Domain).filter_by(status="ENABLED").count()
        assert summary["checked"] == enabled and summary["failing"] == enabled - 1
        assert health.last(health.DOMAIN, good).status is True
        assert health.last(health.DOMAIN, bad).status is False


def test_the_scheduled_run_checks_in_batches(app: Flask, world: World, zone: object,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`check_domains` asks for one batch job per BATCH enabled domains (each ends inside the job timeout
    even when DNS is silent); the batches, run after it commits, record every enabled domain."""
    from portal import jobs
    from portal.jobs import health as health_jobs

    monkeypatch.setattr(health_jobs, "BATCH", 2)
    with app.app_context():
        add_domain(world, "good.example", key=KEY, providers=("spf.provider.test",))
        off = add_domain(world, "off.example")
        db.session.get(Domain, off).status = "DISABLED"
        db.session.commit()
        enabled = domain_health.enabled_ids()
        assert jobs.run_now("check_domains") == {"domains": len(enabled), "batches": -(-len(enabled) // 2)}
        db.session.expire_all()
        assert all(health.last(health.DOMAIN, pk) is not None for pk in enabled)
        assert off not in enabled and health.last(health.DOMAIN, off) is None  # a domain not enabled: left alone


@pytest.fixture
def sink(app: Flask) -> Iterator[SmtpSink]:
    with smtp_server() as (received, port):
        with app.app_context():
            db.session.add(MailServer(name="out", protocol="SMTP", host="127.0.0.1", port=port, security="NONE",
                                      auth="NO_AUTH", sender_address="postern@ops.example", enabled=True))
            db.session.commit()
        yield received


def test_a_domain_that_starts_failing_notifies_its_contact_once(app: Flask, world: World, zone: object,
                                                                sink: SmtpSink) -> None:
    with app.app_context():
        pk = add_domain(world, "missing.example")
        db.session.add(OptionValue(scope="DOMAIN", object_id=pk, name="DOMAIN_ADMIN", value="boss@missing.example"))
        db.session.get(Domain, pk).default_language = "FR"
        db.session.commit()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                jobs.run_now("domain_health", pk)  # records; asks for the notice, run in-process after the commit
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sink.wait_for(1)
    with app.app_context():
        jobs.run_now("domain_health", pk)  # still failing: no new notice
        assert jobs.run_now("notify_domain_health", pk) == []
        row = db.session.scalar(db.select(HealthReport).filter_by(entity_id=pk, entity_type="DOMAIN"))
        assert row.notified_at is not None
    assert len(sink.messages) == 1
    _, rcpts, raw = sink.messages[0]
    assert rcpts == ["boss@missing.example"]
    mail = message_from_bytes(raw, policy=policy.default)
    assert "missing.example" in str(mail["Subject"]) and mail["Content-Language"] == "fr"
    text = mail.get_body(("plain",)).get_content()
    assert "/tab/health" in text


def test_without_a_contact_the_domain_editors_are_told(app: Flask, world: World) -> None:
    with app.app_context():
        domain = db.session.get(Domain, world.pk["A"])
        addresses = [a for a, _ in domain_health.recipients(domain)]
    assert "admin-a@example.org" in addresses and "root@example.org" not in addresses
    assert "reader-a@example.org" not in addresses  # DOMAIN_READ only


def test_run_now_through_the_outbox_and_rq(app: Flask, world: World, zone: object) -> None:
    """The page's Run now on RQ: the request marks the report running and writes the outbox row; after the
    commit it is handed to RQ; a real worker runs the job, which records the report (state done)."""
    from rq import SimpleWorker

    from portal.services.principal import principal_for_admin
    from tests.services.test_jobs import _redis_config
    from tests.services_runtime import redis_url

    with redis_url() as url, _redis_config(app, url), app.app_context():
        pk = add_domain(world, "good.example", key=KEY, providers=("spf.provider.test",))
        from portal.models import Admin

        root = db.session.get(Admin, world.pk["sysadmin"])
        domain_health.request_run(principal_for_admin(root), pk)
        db.session.commit()
        assert health.last(health.DOMAIN, pk).state == "running"
        assert jobs.dispatch() == 1
        queue = jobs.queue()
        assert queue.count == 1
        assert SimpleWorker([queue], connection=queue.connection).work(burst=True)
        db.session.expire_all()
        row = health.last(health.DOMAIN, pk)
        assert row.state == "done" and row.status is True
