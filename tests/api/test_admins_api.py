"""Seed 5.1 AccessControls: admins and permissions, with the privilege rules."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import Admin
from tests.snapshot import snapshot
from tests.world import World

ADMIN_FIELDS = ["id", "login", "displayName", "email", "enabled", "language", "totp", "sysAdmin", "authorities",
                "authoritiesCount", "lastConnectionDate", "createdAt"]


def test_get_admin_shape(client: FlaskClient, world: World) -> None:
    response = client.get(f"/api/security/admins/{world.id('readerA')}", headers=world.headers("customer"))
    assert response.status_code == 200
    body = response.json
    assert list(body) == ADMIN_FIELDS
    assert body["login"] == "reader-a" and body["sysAdmin"] is False and body["authoritiesCount"] == 1
    assert body["authorities"] == [{"objectType": "DOMAIN", "objectId": world.id("A"), "objectName": "a.example",
                                    "permissions": ["DOMAIN_READ"]}]


def test_the_plain_list_rows_are_the_documented_shape(app: Flask, client: FlaskClient, world: World) -> None:
    """The list serializes plain rows without a model per row: each row is exactly what AdminOut (the OpenAPI
    schema) makes of it, field order included, and the same as the single admin's answer."""
    from portal.schemas.accounts import AdminOut

    listed = client.get("/api/security/admins?pageSize=100", headers=world.headers("sysadmin")).json
    assert len(listed) >= 5 and any(row["authorities"] for row in listed)
    assert any(a["objectName"] for row in listed for a in row["authorities"])
    for row in listed:
        assert AdminOut.model_validate(row).wire() == row
        assert list(row) == list(AdminOut.model_validate(row).wire())
        single = client.get(f"/api/security/admins/{row['id']}", headers=world.headers("sysadmin")).json
        assert single == row


def test_list_scoped_by_grant(client: FlaskClient, world: World) -> None:
    def logins(role: str) -> set[str]:
        response = client.get("/api/security/admins?pageSize=100", headers=world.headers(role))
        assert response.status_code == 200
        assert int(response.headers["X-Total-Count"]) == len(response.json)
        return {a["login"] for a in response.json}

    assert logins("domainA") == {"admin-a", "reader-a", "admin-ac"}
    assert logins("domainB") == {"admin-b"}
    assert logins("customer") == {"customer1", "admin-a", "admin-b", "reader-a", "admin-ac"}
    assert logins("broker") == {"broker1", "customer1", "admin-a", "admin-b", "reader-a", "admin-ac"}
    assert "root" in logins("sysadmin") and "admin-c" in logins("sysadmin")


def test_admin_without_grant_cannot_list(app: Flask, client: FlaskClient, world: World) -> None:
    from portal.services import tokens

    with app.app_context():
        _, value = tokens.issue(db.session.get(Admin, world.pk["readerA"]), "t")
        db.session.commit()
    assert client.get("/api/security/admins", headers={"Authorization": f"Bearer {value}"}).status_code == 403


def test_patch_updates_profile(client: FlaskClient, world: World) -> None:
    response = client.patch(f"/api/security/admins/{world.id('readerA')}", headers=world.headers("domainA"),
                            json={"displayName": "Rea Der", "email": "rea@example.org", "language": "fr"})
    assert response.status_code == 200
    assert response.json["displayName"] == "Rea Der" and response.json["language"] == "FR"


def test_patch_cannot_raise_privileges(app: Flask, client: FlaskClient, world: World) -> None:
    me = world.id("domainA")
    with app.app_context():
        before = snapshot()
    for body in ({"sysAdmin": True}, {"authorities": [{"objectType": "BROKER", "objectId": world.id("B1")}]},
                 {"totp": True}, {"enabled": False}):
        response = client.patch(f"/api/security/admins/{me}", headers=world.headers("domainA"), json=body)
        assert response.status_code in (400, 403), body
        assert response.mimetype == "application/problem+json"
        assert response.json["errors"], body
    with app.app_context():
        assert snapshot() == before


def test_visible_but_not_governed_admin_is_403(client: FlaskClient, world: World) -> None:
    """admin-ac also works on c.example, where domainA has no GRANT: visible, not editable."""
    target = world.id("adminAC")
    headers = world.headers("domainA")
    assert client.get(f"/api/security/admins/{target}", headers=headers).status_code == 200
    assert client.patch(f"/api/security/admins/{target}", headers=headers, json={"enabled": False}).status_code == 403
    assert client.delete(f"/api/security/admins/{target}", headers=headers).status_code == 403
    assert client.patch(f"/api/security/admins/{target}", headers=world.headers("sysadmin"),
                        json={"enabled": False}).status_code == 200


def test_other_broker_is_invisible(client: FlaskClient, world: World) -> None:
    assert client.get(f"/api/security/admins/{world.id('adminC')}", headers=world.headers("broker")).status_code == 404


def test_sysadmin_cannot_be_touched_by_broker(client: FlaskClient, world: World) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        body = {"displayName": "x"} if method == "PATCH" else None
        response = client.open(f"/api/security/admins/{world.id('sysadmin')}", method=method, json=body,
                               headers=world.headers("broker"))
        assert response.status_code == 404, method


def test_cannot_delete_or_disable_oneself(client: FlaskClient, world: World) -> None:
    me = world.id("sysadmin")
    assert client.delete(f"/api/security/admins/{me}", headers=world.headers("sysadmin")).status_code == 403
    response = client.patch(f"/api/security/admins/{me}", headers=world.headers("sysadmin"), json={"enabled": False})
    assert response.status_code == 403 and response.json["errors"][0]["field"] == "enabled"


def test_password_change_through_api(app: Flask, client: FlaskClient, world: World) -> None:
    from portal.services.passwords import verify_password

    response = client.patch(f"/api/security/admins/{world.id('readerA')}", headers=world.headers("sysadmin"),
                            json={"password": "a brand new secret"})
    assert response.status_code == 200 and "password" not in response.json
    with app.app_context():
        assert verify_password(db.session.get(Admin, world.pk["readerA"]).password_hash, "a brand new secret")


def test_patch_bad_input(client: FlaskClient, world: World) -> None:
    url = f"/api/security/admins/{world.id('readerA')}"
    h = world.headers("sysadmin")
    cases = [
        ({"email": "not-an-email"}, "email"),
        ({"email": None}, "email"),
        ({"language": "KL"}, "language"),
        ({"enabled": "maybe"}, "enabled"),
        ({"displayName": "evil\r\nBcc: x@y"}, "displayName"),
        ({"password": "short"}, "password"),
        ({"unknownField": 1}, "unknownField"),
    ]
    for body, field in cases:
        response = client.patch(url, json=body, headers=h)
        assert response.status_code == 400, body
        assert [e["field"] for e in response.json["errors"]] == [field], response.json


def test_list_permissions(client: FlaskClient, world: World) -> None:
    url = f"/api/security/permissions?scope=DOMAIN&id={world.id('A')}"
    response = client.get(url, headers=world.headers("domainA"))
    assert response.status_code == 200
    names = {p["name"] for p in response.json}
    assert "GRANT" in names and "DOMAIN_CREATE" not in names
    assert all(p["editable"] for p in response.json)
    broker = client.get(f"/api/security/permissions?scope=BROKER&id={world.id('B1')}", headers=world.headers("broker"))
    assert "DOMAIN_CREATE" in {p["name"] for p in broker.json}
    bad = client.get("/api/security/permissions?scope=PLANET&id=x", headers=world.headers("sysadmin"))
    assert bad.status_code == 400 and bad.json["errors"][0]["field"] == "scope"
    missing = client.get("/api/security/permissions?scope=DOMAIN", headers=world.headers("sysadmin"))
    assert missing.status_code == 400 and missing.json["errors"][0]["field"] == "id"
