"""/api/mailservers: the settings as a program keeps them (seeds 000, 002, 003) — secrets write-only and
encrypted, one SMTP server in use, bad input refused whole."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import MailServer
from tests.services_runtime import self_signed
from tests.world import World

SMTP = {"name": "Office 365", "protocol": "SMTP", "host": "smtp.example.com", "security": "STARTTLS",
        "auth": "USERNAME_PASSWORD", "username": "postern@example.com", "password": "s3cret-Pa55",
        "senderName": "Postern", "senderAddress": "postern@example.com", "subjectPrefix": "[Postern]"}


def _add(client: FlaskClient, world: World, **changes: Any) -> dict[str, Any]:
    response = client.post("/api/mailservers", json={**SMTP, **changes}, headers=world.headers("sysadmin"))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def _stored(app: Flask, public_id: str) -> MailServer:
    from portal import ids

    with app.app_context():
        server = db.session.get(MailServer, ids.decode(public_id))
        db.session.expunge(server)
        return server


def test_add_answers_every_setting_but_the_secrets(app: Flask, client: FlaskClient, world: World) -> None:
    response = client.post("/api/mailservers", json=SMTP, headers=world.headers("sysadmin"))
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"http://postern.test/api/mailservers/{body['id']}"
    assert body["port"] == 587  # STARTTLS's submission port, as none was given
    assert body["passwordSet"] is True and body["enabled"] is False and body["inUse"] is False
    assert body["lastCheck"] is None and body["oauth"] is None
    assert "s3cret-Pa55" not in response.get_data(as_text=True) and "password" not in body
    stored = _stored(app, body["id"])
    assert stored.password and "s3cret" not in stored.password  # encrypted at rest
    got = client.get(f"/api/mailservers/{body['id']}", headers=world.headers("sysadmin"))
    assert got.get_json() == body


def test_secrets_are_kept_when_omitted_and_asked_again_when_the_host_changes(
        app: Flask, client: FlaskClient, world: World) -> None:
    server = _add(client, world)
    before = _stored(app, server["id"]).password
    renamed = client.patch(f"/api/mailservers/{server['id']}", json={"name": "Renamed", "port": 2525},
                           headers=world.headers("sysadmin"))
    assert renamed.status_code == 200 and renamed.get_json()["passwordSet"] is True
    assert _stored(app, server["id"]).password == before
    replaced = client.put(f"/api/mailservers/{server['id']}", json={**SMTP, "password": None},
                          headers=world.headers("sysadmin"))
    assert replaced.status_code == 200 and _stored(app, server["id"]).password == before
    # the stored password would go to another host: it must be given again
    moved = client.patch(f"/api/mailservers/{server['id']}", json={"host": "evil.example.net"},
                         headers=world.headers("sysadmin"))
    assert moved.status_code == 400
    assert [e["field"] for e in moved.get_json()["errors"]] == ["password"]
    plain = client.patch(f"/api/mailservers/{server['id']}", json={"security": "NONE"},
                         headers=world.headers("sysadmin"))
    assert plain.status_code == 400 and plain.get_json()["errors"][0]["field"] == "password"
    assert _stored(app, server["id"]).host == "smtp.example.com"
    given = client.patch(f"/api/mailservers/{server['id']}", json={"host": "smtp2.example.com", "password": "new-one"},
                         headers=world.headers("sysadmin"))
    assert given.status_code == 200 and _stored(app, server["id"]).password != before
    # no authentication: the secrets go
    client.patch(f"/api/mailservers/{server['id']}", json={"auth": "NO_AUTH"}, headers=world.headers("sysadmin"))
    stored = _stored(app, server["id"])
    assert stored.password is None and stored.username is None


def test_oauth_client_secret_is_write_only(app: Flask, client: FlaskClient, world: World) -> None:
    server = _add(client, world, auth="OAUTH2", password=None,
                  oauth={"tenantId": "contoso", "clientId": "app-1", "clientSecret": "very-secret-value"})
    assert server["oauth"] == {"tenantId": "contoso", "clientId": "app-1", "clientSecretSet": True,
                               "tokenUrl": "https://login.microsoftonline.com/contoso/oauth2/v2.0/token",
                               "scope": "https://outlook.office365.com/.default"}
    assert server["passwordSet"] is False
    listed = client.get("/api/mailservers", headers=world.headers("sysadmin")).get_data(as_text=True)
    assert "very-secret-value" not in listed
    stored = _stored(app, server["id"])
    assert stored.oauth_client_secret and "very-secret" not in stored.oauth_client_secret
    moved = client.patch(f"/api/mailservers/{server['id']}",
                         json={"oauth": {"tokenUrl": "https://attacker.example/token"}},
                         headers=world.headers("sysadmin"))
    assert moved.status_code == 400 and moved.get_json()["errors"][0]["field"] == "oauth.clientSecret"


def test_one_smtp_server_in_use(client: FlaskClient, world: World) -> None:
    first = _add(client, world, name="First", enabled=True)
    second = _add(client, world, name="Second")
    imap = _add(client, world, name="Mailbox", protocol="IMAP", security="SSL_TLS", enabled=True)
    assert imap["port"] == 993 and imap["inUse"] is False
    in_use = client.get("/api/mailservers/in-use", headers=world.headers("sysadmin")).get_json()
    assert in_use["route"] == "MAIL_SERVER" and in_use["server"]["id"] == first["id"]
    enabled = client.post(f"/api/mailservers/{second['id']}/enable", headers=world.headers("sysadmin"))
    assert enabled.status_code == 200 and enabled.get_json()["inUse"] is True
    first_now = client.get(f"/api/mailservers/{first['id']}", headers=world.headers("sysadmin")).get_json()
    assert first_now["enabled"] is False
    assert client.get(f"/api/mailservers/{imap['id']}", headers=world.headers("sysadmin")).get_json()["enabled"]
    client.post(f"/api/mailservers/{second['id']}/disable", headers=world.headers("sysadmin"))
    in_use = client.get("/api/mailservers/in-use", headers=world.headers("sysadmin")).get_json()
    assert in_use["server"] is None and in_use["route"] in ("LOCAL", "PLATFORM_RELAY")


@pytest.mark.parametrize(("changes", "field"), [
    ({"port": 0}, "port"),
    ({"port": 65536}, "port"),
    ({"host": "not a host"}, "host"),
    ({"host": "smtp.example.com\r\nX: y"}, "host"),
    ({"senderName": "Postern\r\nBcc: victim@example.com"}, "senderName"),
    ({"senderName": "=?utf-8?q?Postern=0D=0ABcc:_victim@example.com?="}, "senderName"),
    ({"subjectPrefix": "=?utf-8?b?W1BdDQpCY2M6IHg=?="}, "subjectPrefix"),
    ({"subjectPrefix": "[P]\nX-Injected: 1"}, "subjectPrefix"),
    ({"senderAddress": "not-an-address"}, "senderAddress"),
    ({"protocol": "FTP"}, "protocol"),
    ({"security": "SSL"}, "security"),
    ({"auth": "USERNAME_PASSWORD", "username": None}, "username"),
    ({"auth": "USERNAME_PASSWORD", "password": None}, "password"),
    ({"password": "line\r\nbreak"}, "password"),
    ({"auth": "OAUTH2", "oauth": {"clientSecret": "x"}}, "oauth.clientId"),
    ({"auth": "OAUTH2", "oauth": {"tenantId": "t", "clientId": "c", "clientSecret": "x",
                                  "tokenUrl": "file:///etc/passwd"}}, "oauth.tokenUrl"),
    ({"certificate": "CUSTOM"}, "certificatePem"),
    ({"certificate": "CUSTOM", "certificatePem": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----"},
     "certificatePem"),
    ({"unknown": 1}, "unknown"),
])
def test_bad_input_is_refused_whole(app: Flask, client: FlaskClient, world: World, changes: dict[str, Any],
                                    field: str) -> None:
    response = client.post("/api/mailservers", json={**SMTP, **changes}, headers=world.headers("sysadmin"))
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    fields = [e["field"] for e in response.get_json()["errors"]]
    assert any(f == field or f.startswith(field) for f in fields), fields
    assert "s3cret-Pa55" not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(MailServer).where(MailServer.name == SMTP["name"])) is None


def test_a_private_key_is_not_a_certificate(client: FlaskClient, world: World) -> None:
    cert, key = self_signed()
    refused = client.post("/api/mailservers", json={**SMTP, "certificate": "CUSTOM", "certificatePem": cert + key},
                          headers=world.headers("sysadmin"))
    assert refused.status_code == 400 and "PRIVATE" not in refused.get_data(as_text=True)
    taken = _add(client, world, certificate="CUSTOM", certificatePem=cert)
    assert taken["certificatePem"].startswith("-----BEGIN CERTIFICATE-----")


def test_names_are_unique(client: FlaskClient, world: World) -> None:
    _add(client, world)
    again = client.post("/api/mailservers", json=SMTP, headers=world.headers("sysadmin"))
    assert again.status_code == 409 and again.get_json()["errors"][0]["field"] == "name"


def test_list_filters_sorts_and_pages(client: FlaskClient, world: World) -> None:
    for i in range(5):
        _add(client, world, name=f"smtp-{i}", enabled=i == 3)
    _add(client, world, name="imap-a", protocol="IMAP")
    headers = world.headers("sysadmin")
    page = client.get("/api/mailservers?sort=-name&offset=1&pageSize=2", headers=headers)
    assert page.headers["X-Total-Count"] == "7"  # the world's "Relay" too
    assert [s["name"] for s in page.get_json()] == ["smtp-3", "smtp-2"]
    assert [s["name"] for s in client.get("/api/mailservers?name=smtp*", headers=headers).get_json()] == \
        [f"smtp-{i}" for i in range(5)]
    assert [s["name"] for s in client.get("/api/mailservers?protocol=imap", headers=headers).get_json()] == ["imap-a"]
    assert [s["name"] for s in client.get("/api/mailservers?enabled=true", headers=headers).get_json()] == ["smtp-3"]
    assert client.get("/api/mailservers?enabled=maybe", headers=headers).status_code == 400
    assert client.get("/api/mailservers?sort=password", headers=headers).status_code == 400


def test_bulk_delete_is_all_or_nothing(app: Flask, client: FlaskClient, world: World) -> None:
    headers = world.headers("sysadmin")
    made = [_add(client, world, name=f"s{i}")["id"] for i in range(11)]
    too_many = client.delete(f"/api/mailservers?ids={','.join(made)}", headers=headers)
    assert too_many.status_code == 400
    unknown = client.delete(f"/api/mailservers?ids={made[0]},{world.id('A')}x", headers=headers)
    assert unknown.status_code in (400, 404)
    gone = client.delete(f"/api/mailservers?ids={made[0]},{made[1]}", headers=headers)
    assert gone.status_code == 204
    with app.app_context():
        assert db.session.query(MailServer).count() == 10  # 11 + the world's, less two
    assert client.delete("/api/mailservers", headers=headers).status_code == 400


def test_checks_are_rate_limited_across_requests(app: Flask, client: FlaskClient, world: World) -> None:
    app.config["MAILSERVER_CHECK_INTERVAL"] = 60
    try:
        url = f"/api/mailservers/{world.id('server')}/check"
        first = client.post(url, headers=world.headers("sysadmin"))
        assert first.status_code == 200 and first.get_json()["ok"] is False
        again = client.post(url, headers=world.headers("sysadmin"))
        assert again.status_code == 429 and again.headers["Retry-After"] == "60"
        assert again.mimetype == "application/problem+json"
    finally:
        app.config["MAILSERVER_CHECK_INTERVAL"] = 0


def test_the_last_check_is_kept(client: FlaskClient, world: World) -> None:
    url = f"/api/mailservers/{world.id('server')}"
    result = client.post(url + "/check", headers=world.headers("sysadmin")).get_json()
    assert result["ok"] is False and result["stage"] in ("connect", "target")
    kept = client.get(url, headers=world.headers("sysadmin")).get_json()["lastCheck"]
    assert kept == result
    assert json.dumps(kept)  # answered as JSON, no secret to hide: NO_AUTH


def test_a_stronger_security_keeps_the_secret_and_a_new_address_forgets_the_last_check(
        app: Flask, client: FlaskClient, world: World) -> None:
    server = _add(client, world)
    before = _stored(app, server["id"]).password
    stronger = client.patch(f"/api/mailservers/{server['id']}", json={"security": "SSL_TLS"},
                            headers=world.headers("sysadmin"))
    assert stronger.status_code == 200 and stronger.get_json()["port"] == 465  # the default port follows
    assert _stored(app, server["id"]).password == before
    url = f"/api/mailservers/{world.id('server')}"
    client.post(url + "/check", headers=world.headers("sysadmin"))
    assert client.get(url, headers=world.headers("sysadmin")).get_json()["lastCheck"] is not None
    client.patch(url, json={"port": 2526}, headers=world.headers("sysadmin"))
    assert client.get(url, headers=world.headers("sysadmin")).get_json()["lastCheck"] is None
