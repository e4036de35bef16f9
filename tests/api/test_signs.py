"""Seed 5.16 UsersSigns: base64 HTML, sanitized when saved, only for accounts with a storage service."""

from __future__ import annotations

import base64

from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import Policy
from tests.world import World


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_sign_round_trip(client: FlaskClient, world: World) -> None:
    url = f"/api/users/{world.id('userA')}/sign"
    assert client.get(url, headers=world.headers("enduser")).json == {"sign": ""}
    saved = client.put(url, json={"sign": _b64("Robert Stark<br/>King of the north<script>x()</script>")},
                       headers=world.headers("enduser"))
    assert saved.status_code == 200
    assert base64.b64decode(saved.json["sign"]).decode() == "Robert Stark<br>King of the north"
    assert client.get(url, headers=world.headers("domainA")).json == saved.json
    assert client.delete(url, headers=world.headers("domainA")).status_code == 204
    assert client.get(url, headers=world.headers("enduser")).json == {"sign": ""}


def test_sign_bad_input_and_rules(app: Flask, client: FlaskClient, world: World) -> None:
    url = f"/api/users/{world.id('userA')}/sign"
    bad = client.put(url, json={"sign": "not base64!!"}, headers=world.headers("enduser"))
    assert bad.status_code == 400 and bad.json["errors"][0]["field"] == "sign"
    assert client.put(url, json={"sign": _b64("x"), "extra": 1}, headers=world.headers("enduser")).status_code == 400
    assert client.get(f"/api/users/{world.id('otherA')}/sign", headers=world.headers("enduser")).status_code == 404
    assert client.get(url, headers=world.headers("domainB")).status_code == 404
    with app.app_context():
        db.session.get(Policy, world.pk["policyA"]).quarantine = False
        db.session.commit()
    no_service = client.get(url, headers=world.headers("domainA"))
    assert no_service.status_code == 400 and "quarantine, retention or archive" in no_service.json["detail"]
