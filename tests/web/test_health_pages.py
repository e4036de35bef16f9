"""Diagnostics pages (issue 14, item 5): the Health tab with each check's fix and copy buttons, Run now through
the job with HTMX polling until done, the DNS records to publish, the dashboard's failing panel, in French too."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import DkimKey
from tests.conftest import csrf_token, login
from tests.services_runtime import dns_server
from tests.world import PASSWORD, World

ZONE = """
a.example.         300 IN MX  10 mail.elsewhere.test.
a.example.         300 IN TXT "v=spf1 mx -all"
_dmarc.a.example.  300 IN TXT "v=DMARC1; p=none"
"""


@pytest.fixture
def zone(app: Flask) -> Iterator[None]:
    with dns_server(ZONE) as server:
        app.config.update(DNS_SERVERS=[server], GATEWAY_MX_HOSTS=["mx1.gateway.test"], DNS_TIMEOUT=2.0,
                          HEALTH_RUN_INTERVAL=0)
        try:
            yield
        finally:
            app.config.update(DNS_SERVERS=[], GATEWAY_MX_HOSTS=[], HEALTH_RUN_INTERVAL=10)


def _as(client: FlaskClient, who: str) -> str:
    client.delete_cookie("session")
    assert login(client, who, PASSWORD).status_code == 302
    return csrf_token(client.get("/").text)


def test_run_now_polls_until_done_and_shows_each_fix(app: Flask, client: FlaskClient, world: World,
                                                     zone: None) -> None:
    token = _as(client, "admin-a")
    tab = client.get(f"/admin/domains/{world.id('A')}/tab/health")
    assert tab.status_code == 200 and "never checked" in tab.text and "Run now" in tab.text
    ran = client.post(f"/admin/domains/{world.id('A')}/health", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert ran.status_code == 200 and "<html" not in ran.text
    assert 'hx-trigger="load delay:2s"' in ran.text  # polls: the job runs after this request's commit
    done = client.get(f"/admin/domains/{world.id('A')}/health/status", headers={"HX-Request": "true"})
    assert "hx-trigger" not in done.text and "Last checked" in done.text
    assert 'id="check-MX"' in done.text and "keep only these MX records" in done.text
    assert "mx1.gateway.test." in done.text and 'data-copy="#dns-value-MX-1"' in done.text
    assert "p=none to p=quarantine" in done.text  # DMARC's advice, from its result code
    assert "ERROR_MX_INVALID_ENTRY" in done.text


def test_a_reader_sees_the_report_but_may_not_run(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "reader-a")
    tab = client.get(f"/admin/domains/{world.id('A')}/tab/health")
    assert tab.status_code == 200 and "Run now" not in tab.text
    assert client.post(f"/admin/domains/{world.id('A')}/health", data={"csrf_token": token}).status_code == 403


def test_dns_records_to_publish(app: Flask, client: FlaskClient, world: World) -> None:
    app.config.update(GATEWAY_MX_HOSTS=["mx1.gateway.test", "mx2.gateway.test"], GATEWAY_SPF_INCLUDE="spf.gw.test")
    try:
        with app.app_context():
            db.session.add(DkimKey(domain_id=world.pk["A"], selector="protect", state="active", private_key_enc="x",
                                   public_key="MIIBIjANBgkq"))
            db.session.commit()
        _as(client, "admin-a")
        page = client.get(f"/admin/domains/{world.id('A')}/dns")
    finally:
        app.config.update(GATEWAY_MX_HOSTS=[], GATEWAY_SPF_INCLUDE=None)
    assert page.status_code == 200
    for text in ("10 mx1.gateway.test.", "20 mx2.gateway.test.", "v=spf1 include:spf.gw.test",
                 "protect._domainkey.a.example.", "v=DKIM1; p=MIIBIjANBgkq", "_dmarc.a.example.",
                 "v=STSv1; id=", "_smtp._tls.a.example.", "mode: enforce"):
        assert text in page.text, text
    assert len(re.findall(r'data-copy="#dns-value-', page.text)) == 7


def test_a_new_domain_links_to_its_records(client: FlaskClient, world: World) -> None:
    token = _as(client, "customer1")
    created = client.post("/admin/domains/new", data={
        "csrf_token": token, "name": "fresh.example", "customer_id": world.id("C1"), "status": "ENABLED",
        "default_language": "EN"})
    assert created.status_code == 302
    page = client.get(created.headers["Location"])
    assert 'id="new-domain-dns"' in page.text and "/dns" in page.text


def test_dashboard_lists_failing_domains_in_sight(app: Flask, client: FlaskClient, world: World) -> None:
    from portal.services import health

    with app.app_context():
        health.record(health.DOMAIN, world.pk["A"], {"status": False, "entries": [
            {"type": "SPF", "result": "ERROR_SPF_MISSING_ENTRY", "output": []}]})
        db.session.commit()
    _as(client, "admin-a")
    page = client.get("/")
    assert 'id="failing-health"' in page.text and "a.example" in page.text and ">SPF<" in page.text
    _as(client, "admin-b")
    assert 'id="failing-health"' not in client.get("/").text


def test_the_tab_in_french(app: Flask, client: FlaskClient, world: World) -> None:
    from portal.services import health

    with app.app_context():
        health.record(health.DOMAIN, world.pk["A"], {"status": False, "entries": [
            {"type": "MX", "result": "ERROR_MX_MISSING_ENTRY",
             "output": ["Lookup for MX entry in DNS for a.example"]}]})
        db.session.commit()
    _as(client, "admin-a")
    client.post("/language", data={"csrf_token": csrf_token(client.get("/").text), "lang": "FR"})
    page = client.get(f"/admin/domains/{world.id('A')}/tab/health")
    assert page.status_code == 200
    assert "Lookup for MX entry in DNS for a.example" in page.text  # the stable English lines, as found
    assert "publish these MX records" not in page.text  # the advice is translated
