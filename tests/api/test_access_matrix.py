"""Every API route x every role, with the expected status; refused writes change nothing.

Adding a route without adding it here fails `test_every_route_is_in_the_matrix`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.api import REGISTRY
from tests.snapshot import snapshot
from tests.world import ROLES, World

UNAUTHENTICATED = {"disabled": 401, "expired": 401, "none": 401}


def expect(**statuses: int) -> dict[str, int]:
    table = {**UNAUTHENTICATED, **statuses}
    assert set(table) == set(ROLES), f"missing roles: {set(ROLES) - set(table)}"
    return table


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


@dataclass(frozen=True)
class Case:
    method: str
    rule: str  # as registered, e.g. /security/admins/<adminId>
    expected: dict[str, int]
    params: dict[str, str] = field(default_factory=dict)  # path parameter -> world name ("self": the caller)
    query: dict[str, str] = field(default_factory=dict)  # values naming world objects are encoded
    body: dict[str, Any] | None = None
    label: str = ""


ADMIN_TARGET = {"adminId": "readerA"}
TENANT_VIEW = dict(sysadmin=200, broker=200, customer=200, domainA=200, domainB=404, enduser=403)
ONLY_SYSADMIN = dict(broker=403, customer=403, domainA=403, domainB=403, enduser=403)

MATRIX = [
    Case("GET", "/security/admins",
         expect(sysadmin=200, broker=200, customer=200, domainA=200, domainB=200, enduser=403)),
    Case("GET", "/security/admins/<adminId>", expect(**TENANT_VIEW), ADMIN_TARGET),
    Case("PATCH", "/security/admins/<adminId>", expect(**TENANT_VIEW), ADMIN_TARGET, body={"displayName": "Renamed"}),
    Case("DELETE", "/security/admins/<adminId>",
         expect(sysadmin=204, broker=204, customer=204, domainA=204, domainB=404, enduser=403), ADMIN_TARGET),
    Case("GET", "/security/permissions", expect(**TENANT_VIEW), query={"scope": "DOMAIN", "id": "@A"}),
    Case("POST", "/admins/<adminId>/tokens", expect(sysadmin=201, **ONLY_SYSADMIN), ADMIN_TARGET,
         body={"name": "automation"}),
    Case("POST", "/admins/<adminId>/tokens", expect(
        sysadmin=201, broker=201, customer=201, domainA=201, domainB=201, enduser=403),
         {"adminId": "self"}, body={"name": "mine"}, label="own"),
    Case("GET", "/admins/<adminId>/tokens", expect(sysadmin=200, **ONLY_SYSADMIN), ADMIN_TARGET),
    Case("GET", "/admins/<adminId>/tokens", expect(
        sysadmin=200, broker=200, customer=200, domainA=200, domainB=200, enduser=403), {"adminId": "self"},
         label="own"),
    Case("DELETE", "/admins/<adminId>/tokens/<id>", expect(sysadmin=204, **ONLY_SYSADMIN),
         {"adminId": "readerA", "id": "readerA_token"}),
    Case("GET", "/openapi.json", everyone(200)),
    Case("GET", "/docs", everyone(200)),
]


def _url(case: Case, world: World, role: str) -> str:
    def sub(match: re.Match[str]) -> str:
        name = case.params[match.group(1)]
        if name == "self":
            return world.id(role) if role in world.admin_of_role else world.id("readerA")
        return world.id(name)

    path = "/api" + re.sub(r"<(\w+)>", sub, case.rule)
    if case.query:
        query = "&".join(f"{k}={world.id(v[1:]) if v.startswith('@') else v}" for k, v in case.query.items())
        path += "?" + query
    return path


@pytest.mark.parametrize(
    ("case", "role"),
    [(c, r) for c in MATRIX for r in ROLES],
    ids=[f"{c.method} {c.rule}{' ' + c.label if c.label else ''} as {r}" for c in MATRIX for r in ROLES],
)
def test_route_as_role(app: Flask, client: FlaskClient, world: World, case: Case, role: str) -> None:
    url = _url(case, world, role)
    with app.app_context():
        before = snapshot()
    response = client.open(url, method=case.method, json=case.body, headers=world.headers(role))
    assert response.status_code == case.expected[role], response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
        if case.method != "GET":
            with app.app_context():
                assert snapshot() == before, "a refused write changed the database"


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    """An audit of endpoints: each /api route is declared (with its access) and tested here."""
    declared = {(ep.method, ep.rule) for ep in REGISTRY}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, rule.rule[len("/api"):]) in declared, f"{method} {rule.rule} has no declared access"
    for ep in REGISTRY:
        assert ep.access, f"{ep.method} {ep.rule} has no access"
    tested = {(c.method, c.rule) for c in MATRIX}
    assert declared - tested == set(), f"routes missing from the role matrix: {declared - tested}"
