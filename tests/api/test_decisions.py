"""The decision table of "explain this sender": priority, specificity, expiry, SPF, PROTECTED."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Domain, SenderRule
from tests.world import World


def _rules(app: Flask, world: World, *rules: tuple[str, str, str, dict]) -> None:
    """(owner "domain" or "user", value, type, extra columns)."""
    with app.app_context():
        db.session.query(SenderRule).delete()
        for owner, value, kind, extra in rules:
            if owner == "domain":
                key, user = f"d:{world.pk['A']}", None
            else:
                key, user = f"u:{world.pk['userA']}", world.pk["userA"]
            db.session.add(SenderRule(owner_key=key, domain_id=world.pk["A"], user_id=user, value=value, type=kind,
                                      **extra))
        db.session.commit()


def _explain(client: FlaskClient, world: World, sender: str, role: str = "domainA", **extra: str) -> dict:
    query = "&".join(f"{k}={v}" for k, v in {"sender": sender, "recipient": "user@a.example", **extra}.items())
    response = client.get(f"/api/wblist/decision?{query}", headers=world.headers(role))
    assert response.status_code == 200, response.json
    return response.json


def _priority(app: Flask, world: World, value: str) -> None:
    with app.app_context():
        db.session.get(Domain, world.pk["A"]).wblist_priority = value
        db.session.commit()


@pytest.mark.parametrize(("priority", "verdict", "owner"), [("USER", "ALLOW", "user@a.example"),
                                                           ("DOMAIN", "BLOCK", "a.example")])
def test_wblist_priority(app: Flask, client: FlaskClient, world: World, priority: str, verdict: str,
                         owner: str) -> None:
    _rules(app, world, ("domain", "bad.example", "BLOCK", {}), ("user", "bob@bad.example", "ALLOW", {"spf_on": False}))
    _priority(app, world, priority)
    result = _explain(client, world, "bob@bad.example")
    assert result["verdict"] == verdict and result["decidedBy"]["rule"]["owner"] == owner
    assert len(result["shadowed"]) == 1 and "comes first" in result["shadowed"][0]["reason"]


def test_exact_address_beats_domain(app: Flask, client: FlaskClient, world: World) -> None:
    _rules(app, world, ("domain", "bad.example", "BLOCK", {}),
           ("domain", "ceo@bad.example", "ALLOW", {"spf_on": False}), ("domain", "example", "BLOCK", {}))
    result = _explain(client, world, "CEO@Bad.Example")
    assert result["verdict"] == "ALLOW" and "exact address" in result["reason"]
    assert {s["reason"] for s in result["shadowed"]} == {"shadowed: less specific"}
    parent = _explain(client, world, "x@mail.bad.example")
    assert parent["verdict"] == "BLOCK" and parent["decidedBy"]["rule"]["value"] == "bad.example"


def test_expired_rules_stop_applying(app: Flask, client: FlaskClient, world: World) -> None:
    _rules(app, world, ("domain", "bad.example", "BLOCK", {"expire_at": utcnow() - timedelta(seconds=1)}))
    result = _explain(client, world, "x@bad.example")
    assert result["verdict"] == "NONE" and result["shadowed"][0]["reason"] == "expired"


def test_spf_condition_of_allow(app: Flask, client: FlaskClient, world: World) -> None:
    _rules(app, world, ("user", "bank.example", "ALLOW", {"spf_on": True}), ("domain", "bank.example", "BLOCK", {}))
    assert _explain(client, world, "x@bank.example")["verdict"] == "BLOCK"
    assert _explain(client, world, "x@bank.example", spf="pass")["verdict"] == "ALLOW"


def test_protected_addresses(app: Flask, client: FlaskClient, world: World) -> None:
    _rules(app, world, ("domain", "a.example", "PROTECTED", {}), ("user", "a.example", "ALLOW", {"spf_on": False}))
    spoof = _explain(client, world, "ceo@a.example")
    assert spoof["verdict"] == "BLOCK" and spoof["decidedBy"]["reason"] == "protected"
    assert _explain(client, world, "ceo@a.example", dkim="pass")["verdict"] == "ALLOW"
    assert _explain(client, world, "ceo@a.example", spf="pass")["verdict"] == "ALLOW"


def test_no_rule(app: Flask, client: FlaskClient, world: World) -> None:
    _rules(app, world)
    result = _explain(client, world, "someone@new.example")
    assert result["verdict"] == "NONE" and result["decidedBy"] is None and result["owners"] == [
        "user@a.example", "a.example"]


def test_bad_input_and_scope(client: FlaskClient, world: World) -> None:
    h = world.headers("domainA")
    for query, field in (("sender=nope&recipient=user@a.example", "sender"),
                         ("sender=x@y.example&recipient=user@nowhere.example", "recipient"),
                         ("sender=x@y.example&recipient=user@a.example&spf=maybe", "spf")):
        response = client.get(f"/api/wblist/decision?{query}", headers=h)
        assert response.status_code == 400 and response.json["errors"][0]["field"] == field
    other = client.get("/api/wblist/decision?sender=x@y.example&recipient=user@a.example",
                       headers=world.headers("domainB"))
    assert other.status_code == 404
    foreign = client.get("/api/wblist/decision?sender=x@y.example&recipient=other@a.example",
                         headers=world.headers("enduser"))
    assert foreign.status_code == 403
