"""Sessions end on the server: a session cookie copied before logout opens nothing afterwards."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.test import TestResponse as Response

from portal.clock import utcnow
from portal.crypto import encrypt
from portal.extensions import db
from portal.models import Admin, LoginThrottle, MailUser
from portal.services import login_throttle
from portal.services.passwords import hash_password
from tests.conftest import csrf_token, login
from tests.world import PASSWORD, World


def _replay(app: Flask, cookie: str, path: str) -> int:
    """GET `path` from a fresh browser that only holds the copied session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get(path).status_code


def _login_user(client: FlaskClient) -> None:
    page = client.get("/me/login")
    response = client.post("/me/login", data={"csrf_token": csrf_token(page.text), "email": "user@a.example",
                                               "password": PASSWORD})
    assert response.status_code == 302


def test_admin_cookie_copied_before_logout_is_refused(app: Flask, client: FlaskClient, world: World) -> None:
    assert login(client, "admin-a", PASSWORD).status_code == 302
    copied = client.get_cookie("session").value
    assert _replay(app, copied, "/admin/domains") == 200
    assert client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)}).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied)
    answer = thief.get("/admin/domains")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    assert login(client, "admin-a", PASSWORD).status_code == 302  # logging in again works
    assert client.get("/admin/domains").status_code == 200


def test_user_cookie_copied_before_logout_is_refused(app: Flask, client: FlaskClient, world: World) -> None:
    _login_user(client)
    copied = client.get_cookie("session").value
    assert _replay(app, copied, "/me/senders") == 200
    assert client.post("/logout", data={"csrf_token": csrf_token(client.get("/me/").text)}).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied)
    answer = thief.get("/me/senders")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/me/login")


def test_view_as_logout_ends_the_admins_session_too(app: Flask, client: FlaskClient, world: World) -> None:
    owner = app.test_client()  # the user's own session, opened before
    _login_user(owner)
    assert login(client, "admin-a", PASSWORD).status_code == 302
    admin_cookie = client.get_cookie("session").value
    page = client.get(f"/admin/users/{world.id('userA')}")
    opened = client.post(f"/admin/users/{world.id('userA')}/impersonate", data={"csrf_token": csrf_token(page.text)})
    assert opened.headers["Location"] == "/me/"
    view_as_cookie = client.get_cookie("session").value
    assert _replay(app, view_as_cookie, "/me/senders") == 200
    assert client.post("/logout", data={"csrf_token": csrf_token(client.get("/me/").text)}).status_code == 302
    assert _replay(app, view_as_cookie, "/me/senders") == 302
    assert _replay(app, admin_cookie, "/admin/domains") == 302
    assert owner.get("/me/senders").status_code == 200  # the viewed user is not logged out


# --- failed sign-ins are limited per account, whatever address they come from -----------------------------

def _post_login(client: FlaskClient, name: str, password: str, address: str, *, user: bool = False) -> Response:
    """A sign-in from `address` (REMOTE_ADDR: X-Forwarded-For is not trusted)."""
    path, field = ("/me/login", "email") if user else ("/login", "login")
    page = client.get(path, environ_base={"REMOTE_ADDR": address})
    return client.post(path, data={"csrf_token": csrf_token(page.text), field: name, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _window_passes(app: Flask) -> None:
    """What the refusal window's end looks like: its end is now in the past."""
    with app.app_context():
        db.session.execute(update(LoginThrottle).values(blocked_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def test_guessing_one_admin_from_many_addresses_is_refused(app: Flask, world: World) -> None:
    free = app.config["LOGIN_ACCOUNT_FAILURES"]
    for i in range(free):
        assert _post_login(app.test_client(), "admin-a", f"guess {i}", f"198.51.100.{i}").status_code == 400
    refused = _post_login(app.test_client(), "admin-a", PASSWORD, "203.0.113.7")  # even the right password
    assert refused.status_code == 429
    assert "Too many failed sign-ins for this account" in refused.text
    assert 'aria-invalid="true"' in refused.text  # next to the form's field
    assert 0 < _seconds(refused.text) <= 15 and "Retry-After" in refused.headers
    assert _post_login(app.test_client(), "admin-b", PASSWORD, "198.51.100.1").status_code == 302  # others log in
    _window_passes(app)
    client = app.test_client()
    assert _post_login(client, "admin-a", PASSWORD, "198.51.100.1").status_code == 302
    assert client.get("/admin/domains").status_code == 200
    # the success cleared the count: one more failure is free again
    assert _post_login(app.test_client(), "admin-a", "guess", "198.51.100.9").status_code == 400


def test_the_window_grows_with_each_failure_and_is_capped(app: Flask) -> None:
    with app.test_request_context():
        free = app.config["LOGIN_ACCOUNT_FAILURES"]
        windows = [login_throttle.window(n) for n in range(1, free + 12)]
    assert windows[:free - 1] == [0] * (free - 1)
    grown = windows[free - 1:]
    assert grown[0] > 0 and all(b >= a for a, b in itertools.pairwise(grown)) and grown[1] == 2 * grown[0]
    assert max(grown) == app.config["LOGIN_ACCOUNT_MAX_DELAY"] <= 300


def test_refused_again_after_a_failure_past_the_window(app: Flask, world: World) -> None:
    for i in range(app.config["LOGIN_ACCOUNT_FAILURES"]):
        _post_login(app.test_client(), "admin-a", f"guess {i}", f"198.51.100.{i}")
    _window_passes(app)
    assert _post_login(app.test_client(), "admin-a", "one more guess", "198.51.100.50").status_code == 400
    again = _post_login(app.test_client(), "admin-a", PASSWORD, "198.51.100.51")
    assert again.status_code == 429 and _seconds(again.text) > 15  # a longer window


def test_unknown_logins_are_answered_like_real_ones(app: Flask, world: World) -> None:
    answers = {}
    for name in ("admin-a", "nobody-at-all"):
        for i in range(app.config["LOGIN_ACCOUNT_FAILURES"]):
            first = _post_login(app.test_client(), name, f"guess {i}", f"198.51.100.{i}")
            assert first.status_code == 400
        last = _post_login(app.test_client(), name, "guess", "198.51.100.99")
        answers[name] = (first.status_code, _message(first.text), last.status_code, _message(last.text))
    assert answers["admin-a"] == answers["nobody-at-all"]
    assert answers["admin-a"][2] == 429


def _seconds(html: str) -> int:
    """The wait the refusal names (English)."""
    found = re.search(r"Try again in (\d+) (second|minute)", _message(html))
    assert found, _message(html)
    return int(found.group(1)) * (60 if found.group(2) == "minute" else 1)


def _message(html: str) -> str:
    found = re.search(r'class="field-error">([^<]*)<', html)
    assert found, "no message next to a field"
    return found.group(1)


def test_guessing_a_mailbox_password_is_refused(app: Flask, world: World) -> None:
    with app.app_context():
        db.session.get(MailUser, world.pk["userB"]).password_hash = hash_password(PASSWORD)
        db.session.commit()
    for i in range(app.config["LOGIN_ACCOUNT_FAILURES"]):
        assert _post_login(app.test_client(), "user@a.example", f"guess {i}", f"198.51.100.{i}",
                           user=True).status_code == 400
    refused = _post_login(app.test_client(), "USER@a.example", PASSWORD, "203.0.113.7", user=True)
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text
    assert _post_login(app.test_client(), "user@b.example", PASSWORD, "203.0.113.7", user=True).status_code == 302
    _window_passes(app)
    assert _post_login(app.test_client(), "user@a.example", PASSWORD, "203.0.113.7", user=True).status_code == 302


def test_guessing_totp_codes_is_refused(app: Flask, client: FlaskClient, world: World) -> None:
    secret = pyotp.random_base32()
    with app.app_context():
        admin = db.session.get(Admin, world.pk["domainA"])
        admin.totp_secret = encrypt(secret)
        db.session.commit()
    assert _post_login(client, "admin-a", PASSWORD, "198.51.100.1").headers["Location"] == "/login/totp"
    token = csrf_token(client.get("/login/totp").text)
    good = pyotp.TOTP(secret).now()
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(app.config["LOGIN_ACCOUNT_FAILURES"]):
        assert client.post("/login/totp", data={"csrf_token": token, "code": wrong}).status_code == 400
    refused = client.post("/login/totp", data={"csrf_token": token, "code": good})
    assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text
    _window_passes(app)
    assert client.post("/login/totp", data={"csrf_token": token, "code": good}).status_code == 302
    assert client.get("/admin/domains").status_code == 200


def test_refusals_are_translated(app: Flask, world: World) -> None:
    client = app.test_client()
    client.post("/language", data={"csrf_token": csrf_token(client.get("/login").text), "lang": "FR"})
    for i in range(app.config["LOGIN_ACCOUNT_FAILURES"]):
        _post_login(client, "admin-a", f"guess {i}", f"198.51.100.{i}")
    refused = _post_login(client, "admin-a", PASSWORD, "198.51.100.1")
    assert refused.status_code == 429 and "Trop de connexions" in refused.text
