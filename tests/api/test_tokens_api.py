"""Seed 5.2 AuthenticationTokens replayed on the wire, and bearer authentication rules."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Admin, ApiToken
from portal.services import tokens
from tests.world import World

SEED_BODY = {"name": "mytoken", "expiration": 1805993567120}


def test_create_token_as_the_seed_shows(client: FlaskClient, world: World) -> None:
    me = world.id("sysadmin")
    response = client.post(f"/api/admins/{me}/tokens", json=SEED_BODY, headers=world.headers("sysadmin"))
    assert response.status_code == 201
    body = response.get_json()
    assert list(body) == ["id", "name", "value", "expiration", "createdAt"]
    assert body["name"] == "mytoken" and body["expiration"] == 1805993567120
    assert re.fullmatch(r"[0-9a-f]{32}", body["value"])
    assert isinstance(body["createdAt"], int) and body["createdAt"] > 1_700_000_000_000
    assert response.headers["Location"] == f"http://postern.test/api/admins/{me}/tokens/{body['id']}"
    # the new token works, and only its digest was stored
    assert client.get("/api/security/admins", headers={"Authorization": f"Bearer {body['value']}"}).status_code == 200


def test_token_values_are_stored_hashed(app: Flask, client: FlaskClient, world: World) -> None:
    me = world.id("sysadmin")
    value = client.post(f"/api/admins/{me}/tokens", json={"name": "x"}, headers=world.headers("sysadmin")).json["value"]
    with app.app_context():
        stored = [t.digest for t in db.session.query(ApiToken)]
        assert value not in stored and all(len(d) == 64 for d in stored)


def test_list_tokens_never_shows_values_and_omits_null_expiration(client: FlaskClient, world: World) -> None:
    me = world.id("domainA")
    headers = world.headers("domainA")
    client.post(f"/api/admins/{me}/tokens", json=SEED_BODY, headers=headers)
    response = client.get(f"/api/admins/{me}/tokens", headers=headers)
    assert response.status_code == 200
    items = response.get_json()
    assert [t["name"] for t in items] == ["domainA token", "mytoken"]
    assert all("value" not in t for t in items)
    first, second = items
    assert "expiration" not in first and second["expiration"] == 1805993567120
    assert set(second) >= {"id", "name", "expiration", "createdAt"}
    # the token used for this very call now shows a lastUse
    assert isinstance(first["lastUse"], int)


def test_delete_token_revokes_it(client: FlaskClient, world: World) -> None:
    me = world.id("broker")
    headers = world.headers("broker")
    created = client.post(f"/api/admins/{me}/tokens", json={"name": "short-lived"}, headers=headers).json
    bearer = {"Authorization": f"Bearer {created['value']}"}
    assert client.get("/api/security/admins", headers=bearer).status_code == 200
    assert client.delete(f"/api/admins/{me}/tokens/{created['id']}", headers=headers).status_code == 204
    assert client.get("/api/security/admins", headers=bearer).status_code == 401
    assert client.delete(f"/api/admins/{me}/tokens/{created['id']}", headers=headers).status_code == 404


def test_token_of_another_admin_is_404_under_my_id(client: FlaskClient, world: World) -> None:
    me = world.id("sysadmin")
    foreign = world.id("readerA_token")
    assert client.delete(f"/api/admins/{me}/tokens/{foreign}", headers=world.headers("sysadmin")).status_code == 404


def test_seed_403_for_another_admins_tokens(client: FlaskClient, world: World) -> None:
    response = client.get(f"/api/admins/{world.id('domainA')}/tokens", headers=world.headers("broker"))
    assert response.status_code == 403
    assert response.json["detail"] == "Only sysadmin or target user can call this endpoint."


def test_expiration_in_the_past_is_refused(client: FlaskClient, world: World) -> None:
    me = world.id("sysadmin")
    response = client.post(f"/api/admins/{me}/tokens", json={"name": "old", "expiration": 1000},
                           headers=world.headers("sysadmin"))
    assert response.status_code == 400
    assert response.json["errors"] == [{"field": "expiration", "message": "The expiration date must be in the future."}]


def test_token_bad_bodies(client: FlaskClient, world: World) -> None:
    me = world.id("sysadmin")
    h = world.headers("sysadmin")
    cases = [
        ({"name": ""}, "name"),
        ({"name": "a\r\nb"}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x", "expiration": "tomorrow"}, "expiration"),
        ({"name": "x", "admin": True}, "admin"),
        ({}, "name"),
        ({"name": "x" * 300}, "name"),
    ]
    for body, field in cases:
        response = client.post(f"/api/admins/{me}/tokens", json=body, headers=h)
        assert response.status_code == 400, body
        assert field in [e["field"] for e in response.json["errors"]], (body, response.json)


def test_disabled_account_and_expired_tokens_are_401(app: Flask, client: FlaskClient, world: World) -> None:
    assert client.get("/api/security/admins", headers=world.headers("disabled")).status_code == 401
    assert client.get("/api/security/admins", headers=world.headers("expired")).status_code == 401
    with app.app_context():
        admin = db.session.get(Admin, world.pk["broker"])
        admin.enabled = False
        db.session.commit()
    response = client.get("/api/security/admins", headers=world.headers("broker"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_of_a_deleted_account_is_401(client: FlaskClient, world: World) -> None:
    assert client.delete(f"/api/security/admins/{world.id('domainA')}",
                         headers=world.headers("sysadmin")).status_code == 204
    assert client.get("/api/security/admins", headers=world.headers("domainA")).status_code == 401


def test_malformed_authorization_headers(client: FlaskClient, world: World) -> None:
    for header in ("", "Bearer", "Bearer ", "Basic abc", "Bearer " + "f" * 32, "Bearer " + "x" * 500):
        response = client.get("/api/security/admins", headers={"Authorization": header})
        assert response.status_code == 401, header


def test_api_ignores_the_browser_session(client: FlaskClient, world: World) -> None:
    from tests.conftest import login
    from tests.world import PASSWORD

    assert login(client, "root", PASSWORD).status_code == 302
    assert client.get("/admin/admins").status_code == 200
    assert client.get("/api/security/admins").status_code == 401


def test_last_use_is_throttled(app: Flask, world: World) -> None:
    with app.app_context():
        tokens.authenticate(world.token["sysadmin"])
        db.session.commit()
        token = db.session.query(ApiToken).filter_by(admin_id=world.pk["sysadmin"]).one()
        first = token.last_use
        assert first is not None and (utcnow() - first).total_seconds() < 60
        tokens.authenticate(world.token["sysadmin"])
        db.session.commit()
        db.session.refresh(token)
        assert token.last_use == first
