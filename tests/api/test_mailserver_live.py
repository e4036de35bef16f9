"""/api/mailservers against real servers: an aiosmtpd with STARTTLS and a custom CA, AUTH and XOAUTH2 (a local
token endpoint), Dovecot's IMAP and POP3. What a program sees: the check's stage and transcript (no secret in
it, nor in the audit trail), the test mail at the sink with the server's sender and prefix, and the welcome
mail following the server in use."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.integrations import oauth2
from portal.models import AuditEvent
from tests.services_runtime import CertificateAuthority, dovecot, mail_smtp_server, token_endpoint
from tests.world import World

USER, PASSWORD = "postern@example.com", "Pa55-word/with+base64"


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority()


@pytest.fixture(autouse=True)
def _no_cached_tokens() -> Iterator[None]:
    oauth2.forget()
    yield
    oauth2.forget()


def _secret_forms(secret: str) -> list[str]:
    return [secret, base64.b64encode(secret.encode()).decode(),
            base64.b64encode(f"\0{USER}\0{secret}".encode()).decode()]


def _add(client: FlaskClient, world: World, **fields: Any) -> str:
    response = client.post("/api/mailservers", json={"name": "Live", "host": "127.0.0.1", **fields},
                           headers=world.headers("sysadmin"))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


def test_check_and_test_mail_through_starttls_with_a_custom_ca(app: Flask, client: FlaskClient, world: World,
                                                                ca: CertificateAuthority) -> None:
    headers = world.headers("sysadmin")
    with mail_smtp_server("STARTTLS", ca=ca, users={USER: PASSWORD}) as (sink, port):
        server = _add(client, world, port=port, security="STARTTLS", certificate="CUSTOM", certificatePem=ca.pem,
                      auth="USERNAME_PASSWORD", username=USER, password=PASSWORD, senderName="Postern Gateway",
                      senderAddress="postern@example.com", subjectPrefix="[Postern]")
        answer = client.post(f"/api/mailservers/{server}/check", headers=headers)
        assert answer.status_code == 200
        result = answer.get_json()
        assert result["ok"] is True and result["stage"] == "done", result
        transcript = "\n".join(result["transcript"])
        assert "STARTTLS" in transcript and "AUTH" in transcript
        for form in _secret_forms(PASSWORD):
            assert form not in answer.get_data(as_text=True)
        assert sink.logins and sink.logins[-1][1] == USER
        kept = client.get(f"/api/mailservers/{server}", headers=headers).get_json()["lastCheck"]
        assert kept == result

        sent = client.post(f"/api/mailservers/{server}/test-mail", json={"to": "admin@example.org"}, headers=headers)
        assert sent.status_code == 200 and sent.get_json()["ok"] is True, sent.get_json()
        (mail_from, rcpts, raw) = sink.messages[-1]
        message = message_from_bytes(raw, policy=policy.default)
        assert (mail_from, rcpts) == ("postern@example.com", ["admin@example.org"])
        assert str(message["From"]) == "Postern Gateway <postern@example.com>"
        assert str(message["Subject"]).startswith("[Postern] ")
        assert message["Auto-Submitted"] == "auto-generated" and message["Date"] and message["Message-ID"]
        assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    with app.app_context():
        events = db.session.query(AuditEvent).all()
        trail = " ".join(f"{e.target} {e.detail}" for e in events)
        assert any("mailservers" in e.route for e in events) and "username=" in trail.replace('"', "")
        for form in _secret_forms(PASSWORD):
            assert form not in trail


def test_a_wrong_password_and_a_wrong_anchor_fail_at_their_stage(client: FlaskClient, world: World,
                                                                 ca: CertificateAuthority) -> None:
    headers = world.headers("sysadmin")
    other = CertificateAuthority("Another CA")
    with mail_smtp_server("SSL_TLS", ca=ca, users={USER: PASSWORD}) as (_sink, port):
        wrong = _add(client, world, name="Wrong password", port=port, security="SSL_TLS", certificate="CUSTOM",
                     certificatePem=ca.pem, auth="USERNAME_PASSWORD", username=USER, password="not-" + PASSWORD)
        result = client.post(f"/api/mailservers/{wrong}/check", headers=headers).get_json()
        assert (result["ok"], result["stage"]) == (False, "auth")
        assert "not-" + PASSWORD not in str(result)
        stranger = _add(client, world, name="Wrong anchor", port=port, security="SSL_TLS", certificate="CUSTOM",
                        certificatePem=other.pem)
        result = client.post(f"/api/mailservers/{stranger}/check", headers=headers).get_json()
        assert (result["ok"], result["stage"]) == (False, "tls")
        sent = client.post(f"/api/mailservers/{wrong}/test-mail", json={"to": "a@example.org"}, headers=headers)
        assert sent.status_code == 200 and sent.get_json()["ok"] is False


def test_oauth2_client_credentials_and_xoauth2(client: FlaskClient, world: World, ca: CertificateAuthority) -> None:
    headers = world.headers("sysadmin")
    with token_endpoint() as tokens, \
            mail_smtp_server("STARTTLS", ca=ca, tokens={tokens.token: USER}) as (sink, port):
        server = _add(client, world, port=port, certificate="CUSTOM", certificatePem=ca.pem, auth="OAUTH2",
                      username=USER, oauth={"clientId": tokens.client_id, "clientSecret": tokens.client_secret,
                                            "tokenUrl": tokens.url, "scope": "https://mail.example/.default"})
        for _ in range(2):
            result = client.post(f"/api/mailservers/{server}/check", headers=headers).get_json()
            assert result["ok"] is True, result
            assert tokens.client_secret not in str(result) and tokens.token not in str(result)
        assert len(tokens.requests) == 1  # the token is cached until it expires
        assert sink.logins[-1] == ("XOAUTH2", USER)


def test_imap_and_pop3_checks_against_dovecot(client: FlaskClient, world: World) -> None:
    headers = world.headers("sysadmin")
    with dovecot({USER: PASSWORD}) as server:
        for protocol, port_key, security in (("IMAP", "tls_port", "SSL_TLS"), ("POP3", "pop3_port", "STARTTLS")):
            made = _add(client, world, name=f"{protocol} box", protocol=protocol, port=server[port_key],
                        security=security, certificate="CUSTOM", certificatePem=server["cert_pem"],
                        auth="USERNAME_PASSWORD", username=USER, password=PASSWORD)
            result = client.post(f"/api/mailservers/{made}/check", headers=headers).get_json()
            assert (result["ok"], result["stage"]) == (True, "done"), result
            assert PASSWORD not in str(result)
        wrong = client.patch(f"/api/mailservers/{made}", json={"password": "wrong-password"}, headers=headers)
        assert wrong.status_code == 200
        result = client.post(f"/api/mailservers/{made}/check", headers=headers).get_json()
        assert (result["ok"], result["stage"]) == (False, "auth")


def test_a_private_target_is_refused_unless_allowed(app: Flask, client: FlaskClient, world: World) -> None:
    headers = world.headers("sysadmin")
    server = world.id("server")  # 127.0.0.1:2525
    app.config["ALLOW_PRIVATE_TARGETS"] = False
    try:
        result = client.post(f"/api/mailservers/{server}/check", headers=headers).get_json()
        assert (result["ok"], result["stage"]) == (False, "target")
        refused = client.post("/api/mailservers", json={"name": "Inside", "host": "10.1.2.3"}, headers=headers)
        assert refused.status_code == 400 and refused.get_json()["errors"][0]["field"] == "host"
        ported = client.post("/api/mailservers", json={"name": "Odd", "host": "smtp.example.com", "port": 23},
                             headers=headers)
        assert ported.status_code == 400 and ported.get_json()["errors"][0]["field"] == "port"
        sent = client.post(f"/api/mailservers/{server}/test-mail", json={"to": "a@example.org"}, headers=headers)
        assert sent.status_code == 200 and (sent.get_json()["ok"], sent.get_json()["stage"]) == (False, "target")
    finally:
        app.config["ALLOW_PRIVATE_TARGETS"] = True
