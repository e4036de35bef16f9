"""Seed 5.14 Users replayed on the wire, with the domain rules and the welcome job."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import MailUser
from tests.services_runtime import smtp_server
from tests.snapshot import snapshot
from tests.world import World

USER_FIELDS = ["id", "email", "firstname", "lastname", "status", "language", "creationDate", "domainId", "policy",
               "senderVerifyOn", "domainPolicyId", "domainStatus", "domainPlatformId", "platform", "mfaType",
               "lastConnectionDate"]


def test_create_user_as_the_seed_shows(app: Flask, client: FlaskClient, world: World) -> None:
    body = {"email": "tywin@a.example", "firstname": "Tywin", "lastname": "Lannister", "status": "ENABLED",
            "language": "EN", "password": "HearMeRoar!", "domainId": world.id("A"), "platformId": world.id("A"),
            "sendNotification": True}
    # the seed's platformId is the domain's platform: ours has another id
    with app.app_context():
        from portal import ids
        from portal.models import Domain

        body["platformId"] = ids.encode(db.session.get(Domain, world.pk["A"]).platforms[0].id)
    with smtp_server() as (sink, port):
        with app.app_context():
            db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = port
            db.session.commit()
        response = client.post("/api/users", json=body, headers=world.headers("domainA"))
    assert response.status_code == 201, response.json
    user = response.json
    assert list(user) == USER_FIELDS
    assert user["email"] == "tywin@a.example" and user["domainId"] == world.id("A")
    assert user["policy"]["id"] == world.id("policyA") == user["domainPolicyId"]
    assert user["platform"]["id"] == user["domainPlatformId"] and user["domainStatus"] == "ENABLED"
    assert user["mfaType"] is None and "password" not in user
    assert response.headers["Location"].endswith(f"/api/users/{user['id']}")
    # the welcome mail job ran after the commit (in-process runner) and went through the user's relay
    (welcome,) = [m for m in sink.messages if m[1] == ["tywin@a.example"]]
    assert b"Subject: Your Postern account" in welcome[2] and b"/me/login" in welcome[2]
    single = client.get(f"/api/users/{user['id']}", headers=world.headers("customer"))
    assert single.json == user


def test_user_list_filters_and_export(client: FlaskClient, world: World) -> None:
    h = world.headers("sysadmin")
    url = f"/api/domains/{world.id('A')}/users"
    assert [u["email"] for u in client.get(f"{url}?name=*a.example", headers=h).json] == [
        "other@a.example", "user@a.example"]
    assert [u["email"] for u in client.get(f"{url}?sort=-email&pageSize=1", headers=h).json] == ["user@a.example"]
    assert client.get(f"{url}?platformName=relay-A", headers=h).headers["X-Total-Count"] == "2"
    assert client.get("/api/users?email=*b.example", headers=h).headers["X-Total-Count"] == "1"
    assert client.get("/api/users", headers=world.headers("domainB")).headers["X-Total-Count"] == "1"
    sheet = client.get(url, headers={**h, "Accept": "application/vnd.ms-excel"})
    assert sheet.status_code == 200 and sheet.data[:2] == b"PK"


def test_the_listed_users_are_each_users_own_answer(client: FlaskClient, world: World) -> None:
    """The users list serializes dicts (the policy and platform users share, once a page): each item is what the
    user's own GET gives, valid against UserOut; a user's own policy or platform overrides the domain's."""
    from portal.schemas.users import UserOut

    h = world.headers("sysadmin")
    listed = client.get("/api/users?pageSize=100", headers=h).json
    assert len(listed) >= 3
    for item in listed:
        assert client.get(f"/api/users/{item['id']}", headers=h).json == item
        assert UserOut.model_validate(item).wire() == item
        assert item["policy"] is not None and item["platform"] is not None


def test_patch_user(app: Flask, client: FlaskClient, world: World) -> None:
    url = f"/api/users/{world.id('userA')}"
    h = world.headers("domainA")
    assert client.patch(url, json={"lastname": "Stark", "language": "DE"}, headers=h).status_code == 204
    user = client.get(url, headers=h).json
    assert user["lastname"] == "Stark" and user["language"] == "DE"
    assert client.patch(url, json={"policyId": world.id("spareA")}, headers=h).status_code == 204
    assert client.get(url, headers=h).json["policy"]["name"] == "spare"
    # disabling a user rejects their tokens
    assert client.patch(url, json={"status": "DISABLED"}, headers=h).status_code == 204
    from portal.errors import Unauthorized
    from portal.services import tokens

    with app.app_context(), pytest.raises(Unauthorized):
        tokens.authenticate(world.token["enduser"])


@pytest.mark.parametrize(("body", "field", "status"), [
    ({"email": "nobody@unknown.example"}, "email", 400),
    ({"email": "x@a.example", "domainId": "@B"}, "domainId", 400),
    ({"email": "user@a.example"}, "email", 409),
    ({"email": "not an email"}, "email", 400),
    ({"email": "x@a.example", "policyId": "@policyB"}, "policyId", 400),
    ({"email": "x@a.example", "status": "DELETED"}, "status", 400),
    ({"email": "x@a.example", "language": "KL"}, "language", 400),
    ({"email": "x@a.example", "firstname": "A\r\nB"}, "firstname", 400),
    ({"email": "x@a.example", "password": "short"}, "password", 400),
])
def test_create_user_bad_input(app: Flask, client: FlaskClient, world: World, body: dict, field: str,
                               status: int) -> None:
    payload = {k: world.id(v[1:]) if isinstance(v, str) and v.startswith("@") else v for k, v in body.items()}
    with app.app_context():
        before = snapshot()
    response = client.post("/api/users", json=payload, headers=world.headers("sysadmin"))
    assert response.status_code == status, response.json
    assert field in [e["field"] for e in response.json["errors"]]
    with app.app_context():
        assert snapshot() == before


def test_sign_is_sanitized(app: Flask, client: FlaskClient, world: World) -> None:
    client.patch(f"/api/users/{world.id('userA')}", json={"sign": '<b>Bye</b><script>alert(1)</script>'},
                 headers=world.headers("domainA"))
    with app.app_context():
        assert db.session.get(MailUser, world.pk["userA"]).sign == "<b>Bye</b>"


def test_delete_user(client: FlaskClient, world: World) -> None:
    url = f"/api/users/{world.id('otherA')}"
    assert client.delete(url, headers=world.headers("domainA")).status_code == 204
    assert client.get(url, headers=world.headers("domainA")).status_code == 404
