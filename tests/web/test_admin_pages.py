"""Admin pages: list with search/sort/paging (HTMX fragments), create, edit, grant, disable, delete, tokens."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import Admin, ApiToken
from tests.conftest import csrf_token, login
from tests.snapshot import snapshot
from tests.world import PASSWORD, World


def _as(client: FlaskClient, who: str) -> str:
    assert login(client, who, PASSWORD).status_code == 302
    return csrf_token(client.get("/").text)


def test_dashboard(client: FlaskClient, world: World) -> None:
    _as(client, "customer1")
    page = client.get("/")
    assert page.status_code == 200 and "Customer1" in page.text


def test_list_live_search_returns_a_fragment(client: FlaskClient, world: World) -> None:
    _as(client, "root")
    full = client.get("/admin/admins")
    assert "<html" in full.text and "reader-a" in full.text
    assert "HX-Request" in full.headers["Vary"]
    fragment = client.get("/admin/admins?search=*reader*", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text
    assert "reader-a" in fragment.text and "admin-b" not in fragment.text
    assert "1 administrator" in fragment.text
    assert '<span class="badge">Domain a.example</span>' in fragment.text  # its authorities, named
    boosted = client.get("/admin/admins", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.text


def test_list_sort_and_paging(client: FlaskClient, world: World) -> None:
    _as(client, "root")
    page = client.get("/admin/admins?sort=-login&pageSize=20")
    logins = [line for line in page.text.split("\n") if "/admin/admins/" in line and "<a href" in line]
    assert "root" in logins[0]
    bad = client.get("/admin/admins?sort=password")
    assert bad.status_code == 200 and "Sort by one of" in bad.text


def test_list_export(client: FlaskClient, world: World) -> None:
    _as(client, "broker1")
    response = client.get("/admin/admins?export=csv")
    assert response.mimetype == "text/csv" and "reader-a" in response.text and "admin-c" not in response.text


def test_domain_admin_without_grant_is_refused(client: FlaskClient, world: World) -> None:
    _as(client, "reader-a")
    assert client.get("/admin/admins").status_code == 403
    assert client.get("/admin/admins/new").status_code == 403


def test_create_admin(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-a")
    response = client.post("/admin/admins/new", data={
        "csrf_token": token, "login": "New.Person", "display_name": "New Person", "email": "new@a.example",
        "password": "a long enough password", "language": "FR", "enabled": "on",
        "object_type": "DOMAIN", "object_name": "a.example", "permissions": ["DOMAIN_READ", "USER_READ"],
    })
    assert response.status_code == 302
    with app.app_context():
        admin = db.session.query(Admin).filter_by(login="new.person").one()
        assert admin.language == "FR" and admin.authorities[0].permissions == ["DOMAIN_READ", "USER_READ"]
    assert "new.person" in client.get(response.headers["Location"]).text


def test_create_admin_errors_keep_input(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-a")
    base = {"csrf_token": token, "login": "someone", "display_name": "Some One", "email": "some@a.example",
            "password": "a long enough password", "language": "EN", "object_type": "DOMAIN", "object_name": "a.example",
            "permissions": ["DOMAIN_READ"]}
    with app.app_context():
        before = snapshot()
    cases = [
        ({"email": "nope"}, 400, "email"),
        ({"password": "short"}, 400, "least 10"),
        ({"login": "reader-a"}, 409, "already taken"),
        ({"object_name": "c.example"}, 403, "GRANT"),
        ({"object_name": "nowhere.example"}, 400, "No domain is named"),
        ({"permissions": ["DOMAIN_CREATE"]}, 400, "is not a permission that can be given here"),
        ({"object_name": ""}, 400, "at least one authority"),
    ]
    for change, status, message in cases:
        response = client.post("/admin/admins/new", data={**base, **change})
        assert response.status_code == status, change
        assert message in response.text, (change, response.text[-2000:])
        assert 'value="Some One"' in response.text
    with app.app_context():
        assert snapshot() == before


def test_only_sysadmin_creates_sysadmins(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "broker1")
    response = client.post("/admin/admins/new", data={
        "csrf_token": token, "login": "sneaky", "email": "s@a.example", "password": "a long enough password",
        "language": "EN", "sys_admin": "on", "object_type": "DOMAIN", "object_name": "a.example",
        "permissions": ["DOMAIN_READ"]})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.query(Admin).filter_by(login="sneaky").count() == 0


def test_grant_and_revoke_authority(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "customer1")
    target = world.id("readerA")
    response = client.post(f"/admin/admins/{target}/authorities", data={
        "csrf_token": token, "object_type": "DOMAIN", "object_name": "b.example", "permissions": ["USER_READ"]})
    assert response.status_code == 302
    page = client.get(f"/admin/admins/{target}")
    assert "b.example" in page.text
    # a permission the granter does not hold on the object is refused
    grant_c = client.post(f"/admin/admins/{target}/authorities", data={
        "csrf_token": token, "object_type": "DOMAIN", "object_name": "c.example", "permissions": ["USER_READ"]})
    assert grant_c.status_code == 403
    revoke = client.post(f"/admin/admins/{target}/authorities/DOMAIN/{world.id('B')}/delete",
                         data={"csrf_token": token})
    assert revoke.status_code == 302
    with app.app_context():
        admin = db.session.get(Admin, world.pk["readerA"])
        assert [(a.object_id, a.permissions) for a in admin.authorities] == [(world.pk["A"], ["DOMAIN_READ"])]


def test_cannot_grant_oneself(client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-a")
    response = client.post(f"/admin/admins/{world.id('domainA')}/authorities", data={
        "csrf_token": token, "object_type": "DOMAIN", "object_name": "a.example", "permissions": ["GRANT"]})
    assert response.status_code == 403


def test_disable_enable_and_delete(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "root")
    target = world.id("readerA")
    disable = client.post(f"/admin/admins/{target}/enabled", data={"csrf_token": token, "enabled": "false"})
    assert disable.status_code == 302
    with app.app_context():
        assert db.session.get(Admin, world.pk["readerA"]).enabled is False
    confirm = client.get(f"/admin/admins/{target}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    with app.app_context():
        assert db.session.get(Admin, world.pk["readerA"]) is not None  # GET changed nothing
    assert client.post(f"/admin/admins/{target}/delete", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.get(Admin, world.pk["readerA"]) is None
        assert db.session.query(ApiToken).filter_by(admin_id=world.pk["readerA"]).count() == 0


def test_foreign_admin_page_is_404(client: FlaskClient, world: World) -> None:
    _as(client, "broker1")
    assert client.get(f"/admin/admins/{world.id('adminC')}").status_code == 404
    assert client.get("/admin/admins/not-an-id").status_code == 404


def test_my_tokens_create_shows_value_once_and_revoke(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-b")
    created = client.post("/account/tokens", data={"csrf_token": token, "name": "ci", "expiration": "2099-12-31"})
    assert created.status_code == 200
    import re

    value = re.search(r'id="token-value">([0-9a-f]{32})<', created.text).group(1)
    assert app.test_client().get("/api/security/admins",
                                 headers={"Authorization": f"Bearer {value}"}).status_code == 200
    listing = client.get("/account/tokens")
    assert value not in listing.text and "2099-12-31" in listing.text
    with app.app_context():
        ci = db.session.query(ApiToken).filter_by(name="ci").one()
        from portal import ids

        public = ids.encode(ci.id)
    assert client.post(f"/account/tokens/{public}/revoke", data={"csrf_token": token}).status_code == 302
    assert app.test_client().get("/api/security/admins",
                                 headers={"Authorization": f"Bearer {value}"}).status_code == 401


def test_my_tokens_bad_input(client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-b")
    past = client.post("/account/tokens", data={"csrf_token": token, "name": "old", "expiration": "2001-01-01"})
    assert past.status_code == 400 and "must be in the future" in past.text and 'value="old"' in past.text
    nameless = client.post("/account/tokens", data={"csrf_token": token, "name": ""})
    assert nameless.status_code == 400


def test_profile_and_password_change(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-b")
    wrong = client.post("/account", data={"csrf_token": token, "email": "b@b.example", "language": "EN",
                                          "current_password": "nope", "new_password": "another long password"})
    assert wrong.status_code == 400 and "not your current password" in wrong.text
    ok = client.post("/account", data={"csrf_token": token, "email": "b@b.example", "language": "EN",
                                       "display_name": "Bee", "current_password": PASSWORD,
                                       "new_password": "another long password"})
    assert ok.status_code == 302
    assert client.get("/account").status_code == 200  # still logged in after the rotation
    assert login(app.test_client(), "admin-b", "another long password").status_code == 302
