"""Seed 5.11 (domains): the seed's examples as conformance (shape, field names, `performedAt` in seconds, the
seed's output lines), the last report, the failing list narrowed to what each role sees, the per-domain rate
limit (429 + Retry-After), and the result enum in the OpenAPI document."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import DkimKey
from tests.services_runtime import dns_server
from tests.world import ROLES, World

# a.example: no MX, its DKIM key not published (as the seed's targaryen.net)
ZONE = "a.example. 300 IN A 192.0.2.1\n"


@pytest.fixture
def zone(app: Flask) -> Iterator[None]:
    with dns_server(ZONE) as server:
        app.config.update(DNS_SERVERS=[server], GATEWAY_MX_HOSTS=["mx1.gateway.test"], DNS_TIMEOUT=2.0)
        try:
            yield
        finally:
            app.config.update(DNS_SERVERS=[], GATEWAY_MX_HOSTS=[])


@pytest.fixture
def key(app: Flask, world: World) -> None:
    with app.app_context():
        db.session.add(DkimKey(domain_id=world.pk["A"], selector="protect", state="active", private_key_enc="x",
                               public_key="MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"))
        db.session.commit()


def test_run_answers_the_seeds_entity_health(client: FlaskClient, world: World, zone: None, key: None) -> None:
    before = int(time.time())
    response = client.post(f"/api/domains/{world.id('A')}/health", headers=world.headers("sysadmin"))
    assert response.status_code == 201 and response.mimetype == "application/json"
    body = response.json
    assert set(body) == {"performedAt", "report"} and set(body["report"]) == {"status", "entries"}
    assert before - 1 <= body["performedAt"] <= int(time.time()) + 1  # seconds, not milliseconds
    assert body["report"]["status"] is False
    mx, dkim = body["report"]["entries"][:2]
    assert mx == {"type": "MX", "result": "ERROR_MX_MISSING_ENTRY",
                  "output": ["Lookup for MX entry in DNS for a.example", "Fail: No MX entry found"]}
    assert dkim == {"type": "DKIM", "result": "ERROR_DKIM_MISSING_ENTRY", "output": [
        "Lookup for dkim entry in DNS for a.example",
        'Fail: DKIM DNS entry not found for domain "a.example" and selector "protect"']}
    last = client.get(f"/api/domains/{world.id('A')}/health", headers=world.headers("domainA"))
    assert last.status_code == 200 and last.json == body


def test_runs_are_rate_limited_per_domain(app: Flask, client: FlaskClient, world: World, zone: None) -> None:
    app.config["HEALTH_RUN_INTERVAL"] = 60
    try:
        url = f"/api/domains/{world.id('A')}/health"
        assert client.post(url, headers=world.headers("sysadmin")).status_code == 201
        again = client.post(url, headers=world.headers("domainA"))
        assert again.status_code == 429 and again.headers["Retry-After"] == "60"
        assert again.mimetype == "application/problem+json"
        other = client.post(f"/api/domains/{world.id('B')}/health", headers=world.headers("sysadmin"))
        assert other.status_code == 201  # per domain
    finally:
        app.config["HEALTH_RUN_INTERVAL"] = 10


def test_never_diagnosed_and_unknown_domains_are_404(client: FlaskClient, world: World) -> None:
    never = client.get(f"/api/domains/{world.id('A')}/health", headers=world.headers("sysadmin"))
    assert never.status_code == 404 and "never diagnosed" in never.json["detail"]
    for bad in ("zzzzzz", "0"):
        assert client.post(f"/api/domains/{bad}/health", headers=world.headers("sysadmin")).status_code == 404
        assert client.get(f"/api/domains/{bad}/health", headers=world.headers("sysadmin")).status_code == 404


def _failing(app: Flask, world: World) -> None:
    """A failing report for domain A and for A's platform (as the relay checks would keep it)."""
    from portal.models import Domain

    report = {"status": False, "entries": [{"type": "MX", "result": "ERROR_MX_MISSING_ENTRY", "output": ["x"]}]}
    from portal.services import health

    with app.app_context():
        platform = db.session.get(Domain, world.pk["A"]).platforms[0]
        for kind, pk in (("DOMAIN", world.pk["A"]), ("PLATFORM", platform.id)):  # the world's passing one replaced
            health.record(kind, pk, report)
        health.record("DOMAIN", world.pk["B"], {"status": True, "entries": []})
        db.session.commit()


SEES_A = {"sysadmin": 200, "broker": 200, "customer": 200, "domainA": 200, "domainB": 404, "enduser": 403,
          "disabled": 401, "expired": 401, "none": 401}


@pytest.mark.parametrize("role", ROLES)
def test_roles_once_a_report_exists(app: Flask, client: FlaskClient, world: World, role: str) -> None:
    _failing(app, world)
    last = client.get(f"/api/domains/{world.id('A')}/health", headers=world.headers(role))
    assert last.status_code == SEES_A[role]
    listed = client.get("/api/health", headers=world.headers(role))
    expected = {**SEES_A, "domainB": 200}[role]
    assert listed.status_code == expected
    if expected == 200:
        rows = listed.json
        if role == "domainB":
            assert rows == []  # B passes; A's are not its to see
        else:
            assert [(r["type"], r["name"]) for r in rows] == [("DOMAIN", "a.example"), ("PLATFORM", rows[1]["name"])]
            assert set(rows[0]) == {"id", "name", "type", "health"}
            assert rows[0]["id"] == world.id("A")
            assert set(rows[0]["health"]) == {"performedAt", "report"}


def test_openapi_documents_the_results(client: FlaskClient) -> None:
    text = client.get("/api/openapi.json").get_data(as_text=True)
    for result in ("ERROR_MX_INVALID_ENTRY", "ERROR_DKIM_INVALID_COUPLE", "ERROR_DNS_UNAVAILABLE",
                   "WARNING_DMARC_POLICY_NONE", "ERROR_SPF_TOO_MANY_LOOKUPS"):
        assert result in text
