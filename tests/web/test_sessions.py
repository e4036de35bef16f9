"""Sessions end on the server: a session cookie copied before logout opens nothing afterwards."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

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
