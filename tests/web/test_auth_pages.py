"""Login, TOTP, logout, sessions, rate limits, next=, CSRF, security headers, languages."""

from __future__ import annotations

import time

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.crypto import decrypt
from portal.extensions import db
from portal.models import Admin
from tests.conftest import csrf_token, login
from tests.world import PASSWORD, World


def test_login_page_security_headers(client: FlaskClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "<script>" not in response.text  # no inline script anywhere in the shell


def test_login_and_logout(client: FlaskClient, world: World) -> None:
    assert client.get("/").status_code == 302
    response = login(client, "ROOT", PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get_cookie("session") is not None
    page = client.get("/")
    assert client.post("/logout", data={"csrf_token": csrf_token(page.text)}).status_code == 302
    assert client.get("/").status_code == 302


def test_session_cookie_flags(client: FlaskClient, world: World) -> None:
    response = login(client, "root", PASSWORD)
    header = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    assert "HttpOnly" in header and "SameSite=Lax" in header


def test_wrong_password_keeps_login_and_says_why(client: FlaskClient, world: World) -> None:
    response = login(client, "root", "wrong password!")
    assert response.status_code == 400
    assert 'value="root"' in response.text
    assert "Wrong login or password" in response.text
    assert 'aria-invalid="true"' in response.text


def test_disabled_account_cannot_log_in(client: FlaskClient, world: World) -> None:
    assert login(client, "gone", PASSWORD).status_code == 400


def test_session_is_rotated_at_login(client: FlaskClient, world: World) -> None:
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    login(client, "root", PASSWORD)
    with client.session_transaction() as sess:
        assert "planted" not in sess


def test_disabling_an_account_ends_its_sessions(app: Flask, client: FlaskClient, world: World) -> None:
    login(client, "admin-a", PASSWORD)
    assert client.get("/").status_code == 200
    with app.app_context():
        from portal.schemas.accounts import AdminUpdate
        from portal.services import admins
        from portal.services.principal import principal_for_admin

        root = db.session.get(Admin, world.pk["sysadmin"])
        admins.update(principal_for_admin(root), world.pk["domainA"], AdminUpdate(enabled=False))
        db.session.commit()
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(("target", "expected"), [
    ("/admin/admins", "/admin/admins"),
    ("/admin/admins?search=a", "/admin/admins?search=a"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("", "/"),
])
def test_next_is_only_a_local_path(client: FlaskClient, world: World, target: str, expected: str) -> None:
    response = login(client, "root", PASSWORD, next=target)
    assert response.headers["Location"] == expected


def test_login_is_rate_limited(app: Flask, client: FlaskClient, world: World) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        codes = [login(client, "root", "wrong password!").status_code for _ in range(4)]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    assert codes == [400, 400, 400, 429]


def test_forms_need_csrf(client: FlaskClient, world: World) -> None:
    client.get("/login")
    response = client.post("/login", data={"login": "root", "password": PASSWORD})
    assert response.status_code == 400
    assert "expired" in response.text


def _enable_totp(client: FlaskClient) -> str:
    page = client.get("/account/security")
    assert "data:image/svg+xml" in page.text
    with client.session_transaction() as sess:
        secret = sess["totp_enrol"]
    bad = client.post("/account/security/totp", data={"csrf_token": csrf_token(page.text), "code": "000000"})
    assert bad.status_code == 400
    code = pyotp.TOTP(secret).now()
    ok = client.post("/account/security/totp", data={"csrf_token": csrf_token(page.text), "code": code})
    assert ok.status_code == 302
    return secret


def test_totp_enrolment_and_login(app: Flask, client: FlaskClient, world: World) -> None:
    login(client, "admin-a", PASSWORD)
    secret = _enable_totp(client)
    with app.app_context():
        stored = db.session.get(Admin, world.pk["domainA"]).totp_secret
        assert stored != secret and decrypt(stored) == secret  # encrypted at rest
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})

    second = app.test_client()
    response = login(second, "admin-a", PASSWORD)
    assert response.headers["Location"] == "/login/totp"
    assert second.get("/").status_code == 302  # not logged in before the code
    page = second.get("/login/totp")
    # a code just used at enrolment is single-use: the next step's code is needed
    totp = pyotp.TOTP(secret)
    next_code = totp.at(time.time() + totp.interval)
    used = second.post("/login/totp", data={"csrf_token": csrf_token(page.text), "code": totp.now()})
    assert used.status_code == 400
    ok = second.post("/login/totp", data={"csrf_token": csrf_token(page.text), "code": next_code})
    assert ok.status_code == 302 and second.get("/").status_code == 200
    third = app.test_client()
    login(third, "admin-a", PASSWORD)
    form_token = csrf_token(third.get("/login/totp").text)
    replay = third.post("/login/totp", data={"csrf_token": form_token, "code": next_code})
    assert replay.status_code == 400


def test_api_can_only_disable_totp(app: Flask, client: FlaskClient, world: World) -> None:
    login(client, "admin-a", PASSWORD)
    _enable_totp(client)
    response = app.test_client().patch(f"/api/security/admins/{world.id('domainA')}", json={"totp": False},
                                       headers=world.headers("domainA"))
    assert response.status_code == 200 and response.json["totp"] is False


def test_language_switch(client: FlaskClient, world: World) -> None:
    login(client, "root", PASSWORD)
    page = client.get("/")
    assert "Dashboard" in page.text
    client.post("/language", data={"csrf_token": csrf_token(page.text), "lang": "FR", "next": "/"})
    assert "Tableau de bord" in client.get("/").text
    assert client.get("/account").status_code == 200
    anonymous = client.application.test_client()
    assert "Se connecter" in anonymous.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).text
    assert "Anmelden" in anonymous.get("/login", headers={"Accept-Language": "de"}).text
    assert "Войти" in anonymous.get("/login", headers={"Accept-Language": "ru"}).text
    assert "Log in" in anonymous.get("/login", headers={"Accept-Language": "it"}).text  # Italian falls back


def test_unknown_page_is_a_page(client: FlaskClient) -> None:
    response = client.get("/nothing-here")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_htmx_requests_send_csrf_in_a_header(client: FlaskClient, world: World) -> None:
    login(client, "root", PASSWORD)
    page = client.get("/")
    assert 'hx-headers=\'{"X-CSRFToken":' in page.text
    token = csrf_token(page.text)
    response = client.post("/language", data={"lang": "FR", "next": "/"},
                           headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 302
    assert client.post("/language", data={"lang": "EN"}, headers={"HX-Request": "true"}).status_code == 400
