"""Seed 5.8 / 5.9 / 5.10 / 5.15 replayed on the wire, with the bad inputs the issue lists."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.snapshot import snapshot
from tests.world import World

LATER = int(time.time() * 1000) + 30 * 24 * 3600 * 1000
SENDER_FIELDS = ["id", "value", "owner", "type", "createdDate", "expireAt", "description", "spfOn"]


def test_add_entries_as_the_seed_shows(client: FlaskClient, world: World) -> None:
    body = [{"value": "daenerys@goodguys.fr", "owner": "a.example", "type": "ALLOW", "spfOn": True},
            {"value": "baelish@badguys.fr", "owner": "user@a.example", "type": "BLOCK", "expireAt": LATER,
             "description": "he's a traitor"}]
    response = client.post("/api/wblist", json=body, headers=world.headers("domainA"))
    assert response.status_code == 201, response.json
    first, second = response.json
    assert list(first) == SENDER_FIELDS
    assert (first["owner"], first["type"], first["spfOn"], first["expireAt"]) == ("a.example", "ALLOW", True, None)
    assert (second["owner"], second["expireAt"], second["spfOn"]) == ("user@a.example", LATER, None)


def test_domain_rules_as_the_seed_shows(client: FlaskClient, world: World) -> None:
    url = f"/api/domains/{world.id('A')}/wblist"
    h = world.headers("domainA")
    body = [{"value": "daenerys@goodguys.fr", "type": "ALLOW", "spfOn": True},
            {"value": "baelish@badguys.fr", "type": "BLOCK", "expireAt": LATER, "description": "he's a traitor"}]
    added = client.post(url, json=body, headers=h)
    assert added.status_code == 201 and added.headers["Location"].endswith(f"/api/domains/{world.id('A')}/wblist")
    assert [r["owner"] for r in added.json] == ["a.example", "a.example"]
    listed = client.get(f"{url}?type=block", headers=h)
    assert listed.headers["X-Total-Count"] == "2"
    assert {r["value"] for r in listed.json} == {"spammer@bad.example", "baelish@badguys.fr"}
    assert client.get(f"{url}?value=*goodguys*", headers=h).headers["X-Total-Count"] == "1"
    one = added.json[0]["id"]
    replaced = client.put(f"{url}/{one}", json={"value": "rickon@stark.net", "type": "BLOCK"}, headers=h)
    assert replaced.status_code == 200 and replaced.json["value"] == "rickon@stark.net"
    assert replaced.json["spfOn"] is None
    whole = client.put(url, json=[{"value": "rickon@stark.net", "type": "ALLOW", "spfOn": True},
                                  {"value": "tywin.net", "type": "BLOCK", "expireAt": LATER}], headers=h)
    assert whole.status_code == 200 and [r["value"] for r in whole.json] == ["rickon@stark.net", "tywin.net"]
    assert client.get(url, headers=h).headers["X-Total-Count"] == "2"
    assert client.delete(f"{url}/{whole.json[1]['id']}", headers=h).status_code == 204
    export = client.get(url, headers={**h, "Accept": "text/csv"})
    assert export.mimetype == "text/csv" and "rickon@stark.net" in export.text


def test_end_user_manages_own_rules(client: FlaskClient, world: World) -> None:
    url = f"/api/users/{world.id('userA')}/wblist"
    h = world.headers("enduser")
    assert client.post(url, json=[{"value": "mum@family.example", "type": "ALLOW", "spfOn": False}],
                       headers=h).status_code == 201
    assert {r["value"] for r in client.get(url, headers=h).json} == {"friend.example", "mum@family.example"}
    assert client.get(f"/api/users/{world.id('otherA')}/wblist", headers=h).status_code == 404
    assert client.get(f"/api/domains/{world.id('A')}/wblist", headers=h).status_code == 403


@pytest.mark.parametrize(("body", "field", "status"), [
    ([{"value": "not an address!", "type": "BLOCK"}], "[0].value", 400),
    ([{"value": "a@b.example\r\nX: y", "type": "BLOCK"}], "[0].value", 400),
    ([{"value": "x@y.example", "type": "MAYBE"}], "[0].type", 400),
    ([{"value": "x@y.example", "type": "ALLOW"}], "[0].spfOn", 400),
    ([{"value": "x@y.example", "type": "BLOCK", "expireAt": 1000}], "[0].expireAt", 400),
    ([{"value": "ok@y.example", "type": "BLOCK"}, {"value": "OK@y.example", "type": "ALLOW", "spfOn": True}],
     "[1].value", 409),
    ([{"value": "spammer@bad.example", "type": "BLOCK"}], "[0].value", 409),
    ([{"value": "fine@y.example", "type": "BLOCK"}, {"value": "", "type": "BLOCK"}], "[1].value", 400),
])
def test_bad_domain_rules_change_nothing(app: Flask, client: FlaskClient, world: World, body: list, field: str,
                                        status: int) -> None:
    with app.app_context():
        before = snapshot()
    response = client.post(f"/api/domains/{world.id('A')}/wblist", json=body, headers=world.headers("sysadmin"))
    assert response.status_code == status, response.json
    assert field in [e["field"] for e in response.json["errors"]]
    with app.app_context():
        assert snapshot() == before


def test_owner_errors_in_add_entries(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        before = snapshot()
    h = world.headers("domainA")
    ok_item = {"value": "fine@y.example", "owner": "a.example", "type": "BLOCK"}
    for owner, status in (("c.example", 403), ("nowhere.example", 400), ("ghost@a.example", 400),
                          ("user@b.example", 403)):
        response = client.post("/api/wblist", json=[ok_item, {**ok_item, "owner": owner}], headers=h)
        assert response.status_code == status, owner
        assert response.json["errors"][0]["field"] == "[1].owner"
    with app.app_context():
        assert snapshot() == before


def test_replace_all_is_all_or_nothing(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        before = snapshot()
    response = client.put(f"/api/users/{world.id('userA')}/wblist", headers=world.headers("enduser"),
                          json=[{"value": "good@x.example", "type": "BLOCK"}, {"value": "bad value", "type": "BLOCK"}])
    assert response.status_code == 400
    with app.app_context():
        assert snapshot() == before


def test_attachment_rules_as_the_seed_shows(client: FlaskClient, world: World) -> None:
    url = f"/api/domains/{world.id('A')}/filters/attachments"
    h = world.headers("domainA")
    body = {"action": "ALLOW", "checkType": "CONTENTTYPE", "filter": ".xlsx", "description": "Allow xslx files"}
    added = client.post(url, json=body, headers=h)
    assert added.status_code == 201
    assert list(added.json) == ["id", "action", "checkType", "filter", "scope", "priority", "description",
                                "createdDate"]
    assert (added.json["scope"], added.json["priority"], added.json["action"]) == ("a.example", 1, "ALLOW")
    assert client.post(url, json=body, headers=h).status_code == 409
    rule = added.json["id"]
    assert client.patch(f"/api/filters/attachments/{rule}", json={"action": "DENY", "filter": ".xls",
                                                                  "description": "Deny xls files"},
                        headers=h).status_code == 204
    listed = client.get(f"{url}?action=deny", headers=h)
    assert {r["filter"] for r in listed.json} == {".xls", "\\.scr$"}
    assert [r["action"] for r in client.get(f"{url}?sort=-action", headers=h).json] == ["DENY", "DENY"]
    assert client.delete(f"/api/filters/attachments/{rule}", headers=h).status_code == 204


@pytest.mark.parametrize(("body", "field"), [
    ({"action": "DENY", "checkType": "FILENAME", "filter": "(a+)+$"}, "filter"),
    ({"action": "DENY", "checkType": "FILENAME", "filter": "["}, "filter"),
    ({"action": "DENY", "checkType": "FILENAME", "filter": "x" * 300}, "filter"),
    ({"action": "DROP", "checkType": "FILENAME", "filter": "x"}, "action"),
    ({"action": "DENY", "checkType": "SIZE", "filter": "x"}, "checkType"),
    ({"action": "DENY", "filter": "x"}, "checkType"),
])
def test_bad_attachment_rules(client: FlaskClient, world: World, body: dict, field: str) -> None:
    response = client.post(f"/api/domains/{world.id('A')}/filters/attachments", json=body,
                           headers=world.headers("domainA"))
    assert response.status_code == 400 and response.json["errors"][0]["field"] == field


def test_uri_rules_as_the_seed_shows(client: FlaskClient, world: World) -> None:
    url = f"/api/domains/{world.id('A')}/filters/uris"
    h = world.headers("domainA")
    added = client.post(url, json={"action": "URIDNSBL_SKIP_DOMAIN", "filter": "bulist.com",
                                   "description": "Rule bulist.com"}, headers=h)
    assert added.status_code == 201
    assert list(added.json) == ["id", "scope", "action", "filter", "priority", "description", "createdDate"]
    rule = added.json["id"]
    edit = client.patch(f"/api/filters/uris/{rule}", json={"action": "WHITELIST_URI_HOST"}, headers=h)
    assert edit.status_code == 204
    assert client.get(f"{url}?action=WHITELIST_URI_HOST", headers=h).json[0]["filter"] == "bulist.com"
    bad = client.post(url, json={"action": "BLACKLIST_URI_HOST", "filter": "not a host"}, headers=h)
    assert bad.status_code == 400 and bad.json["errors"][0]["field"] == "filter"
    assert client.post(url, json={"action": "NUKE", "filter": "x.example"}, headers=h).status_code == 400
    assert client.delete(f"/api/filters/uris/{rule}", headers=h).status_code == 204


def test_email_aliases_as_the_seed_shows(client: FlaskClient, world: World) -> None:
    base = f"/api/domains/{world.id('A')}/groups"
    h = world.headers("domainA")
    created = client.post(base, json={"email": "children@a.example"}, headers=h)
    assert created.status_code == 201 and created.json["recipients"] == []
    assert created.headers["Location"].endswith(f"/groups/{created.json['id']}")
    group = created.json["id"]
    added = client.post(f"{base}/{group}/addresses", json=["user@a.example", "ext@elsewhere.example",
                                                           "group@a.example"], headers=h)
    assert added.status_code == 201
    kinds = {r["email"]: r["type"] for r in added.json["recipients"]}
    assert kinds == {"user@a.example": "USER", "ext@elsewhere.example": "EXTERNAL_ADDRESS",
                     "group@a.example": "ALIAS"}
    listed = client.get(f"{base}?recipient=ext@elsewhere.example", headers=h)
    assert listed.headers["X-Total-Count"] == "1" and listed.json[0]["email"] == "children@a.example"
    assert client.get(f"{base}?email=group@a.example", headers=h).headers["X-Total-Count"] == "1"
    recipient = added.json["recipients"][1]["id"]
    assert client.delete(f"{base}/{group}/addresses/{recipient}", headers=h).status_code == 204
    assert client.patch(f"{base}/{group}", json={"email": "kids@a.example", "recipients": ["other@a.example"]},
                        headers=h).status_code == 204
    assert client.get(f"{base}/{group}", headers=h).json["recipients"][0]["email"] == "other@a.example"
    assert client.delete(f"/api/groups/{group}", headers=h).status_code == 204


def test_email_alias_rules(app: Flask, client: FlaskClient, world: World) -> None:
    base = f"/api/domains/{world.id('A')}/groups"
    h = world.headers("domainA")
    with app.app_context():
        before = snapshot()
    elsewhere = client.post(base, json={"email": "team@b.example"}, headers=h)
    assert elsewhere.status_code == 400 and elsewhere.json["errors"][0]["field"] == "email"
    assert client.post(base, json={"email": "user@a.example"}, headers=h).status_code == 409
    assert client.post(base, json={"email": "not an address"}, headers=h).status_code == 400
    with app.app_context():
        assert snapshot() == before
    assert client.post(base, json={"email": "x@alias-of-a.example"}, headers=h).status_code == 201
    loop_a = client.post(base, json={"email": "loop-a@a.example", "recipients": ["group@a.example"]}, headers=h)
    assert loop_a.status_code == 201
    # group -> loop-a -> group would loop
    group = world.id("groupA")
    cycle = client.post(f"{base}/{group}/addresses", json=["loop-a@a.example"], headers=h)
    assert cycle.status_code == 400 and "loop" in cycle.json["errors"][0]["message"]
    assert client.post(f"{base}/{group}/addresses", json=["bad address"], headers=h).status_code == 400
