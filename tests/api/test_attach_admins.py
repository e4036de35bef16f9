"""Issue 10 item 4: attaching an existing account to a domain needs to manage it already (never a sysadmin)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import Admin, Authority
from portal.permissions import ObjectType
from tests.conftest import csrf_token, login
from tests.snapshot import snapshot
from tests.world import PASSWORD, World


def _attach(client: FlaskClient, world: World, role: str, target: str, domain: str = "A") -> object:
    return client.post(f"/api/domains/{world.id(domain)}/admins",
                       json={"id": world.id(target) if target in world.public else target,
                             "permissions": ["DOMAIN_READ"]}, headers=world.headers(role))


def test_an_account_one_does_not_manage_reads_as_nonexistent(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        before = snapshot()
    nonexistent = _attach(client, world, "domainA", "zzzzzzzz")
    assert nonexistent.status_code == 404
    for role, target in (("domainA", "adminC"), ("domainA", "sysadmin"), ("domainA", "adminAC"),
                         ("domainA", "broker"), ("customer", "adminAC"), ("broker", "adminC"),
                         ("customer", "sysadmin")):
        refused = _attach(client, world, role, target)
        assert refused.status_code == 404, (role, target, refused.json)
        assert refused.json == nonexistent.json, (role, target)
        text = refused.get_data(as_text=True)
        assert "admin-c" not in text and "root" not in text and "sysAdmin" not in text
    with app.app_context():
        assert snapshot() == before, "a refused attachment wrote something"


def test_an_account_one_manages_may_be_attached(app: Flask, client: FlaskClient, world: World) -> None:
    attached = _attach(client, world, "customer", "domainB")  # admin-b: only on b.example, in C1
    assert attached.status_code == 201, attached.json
    assert attached.json["login"] == "admin-b" and attached.json["authoritiesCount"] == 2
    again = _attach(client, world, "domainA", "readerA")  # already on a.example: its permissions are replaced
    assert again.status_code == 201 and again.json["authoritiesCount"] == 1
    assert _attach(client, world, "sysadmin", "adminC").status_code == 201


def test_a_sysadmin_account_is_never_attached(app: Flask, client: FlaskClient, world: World) -> None:
    refused = _attach(client, world, "sysadmin", "disabled")  # another sysadmin account: pointless, refused
    assert refused.status_code == 400 and refused.json["errors"][0]["field"] == "id"
    assert _attach(client, world, "sysadmin", "sysadmin").status_code == 403  # one's own account
    with app.app_context():
        assert db.session.get(Admin, world.pk["disabled"]).authorities == []


def test_giving_a_new_authority_needs_to_manage_the_account(app: Flask, client: FlaskClient, world: World) -> None:
    """The admin page's form gives an authority to an account seen through another one: the same rule."""
    assert login(client, "customer1", PASSWORD).status_code == 302
    token = csrf_token(client.get("/account").text)
    url = f"/admin/admins/{world.id('adminAC')}/authorities"  # admin-ac works on a.example and on c.example
    form = {"csrf_token": token, "object_type": "DOMAIN", "object_name": "b.example", "permissions": "DOMAIN_READ"}
    assert client.post(url, data=form).status_code == 403
    changed = client.post(url, data={**form, "object_name": "a.example", "permissions": ["DOMAIN_READ", "USER_READ"]})
    assert changed.status_code == 302  # its authority on a.example is the customer's to change
    with app.app_context():
        target = db.session.get(Admin, world.pk["adminAC"])
        assert sorted((a.object_id, tuple(a.permissions)) for a in target.authorities) == sorted([
            (world.pk["A"], ("DOMAIN_READ", "USER_READ")), (world.pk["C"], ("DOMAIN_READ",))])


def _same_page(html: str) -> str:
    """The page without its CSRF tokens, which carry the second they were signed in."""
    return re.sub(r"[\w-]+\.[\w-]{6}\.[\w-]{27}", "CSRF", html)


def test_the_page_form_answers_as_for_an_unknown_login(app: Flask, client: FlaskClient, world: World) -> None:
    assert login(client, "admin-a", PASSWORD).status_code == 302
    token = csrf_token(client.get("/account").text)
    url = f"/admin/domains/{world.id('A')}/admins"
    with app.app_context():
        before = snapshot()
    unknown = client.post(url, data={"csrf_token": token, "login": "nobody", "permissions": "DOMAIN_READ"})
    assert unknown.status_code == 400
    for other in ("admin-c", "root", "admin-ac", "admin-b"):
        refused = client.post(url, data={"csrf_token": token, "login": other, "permissions": "DOMAIN_READ"})
        assert refused.status_code == 400, other
        assert _same_page(refused.text.replace(f'value="{other}"', 'value="nobody"')) == _same_page(unknown.text), other
    with app.app_context():
        assert snapshot() == before


def test_a_sysadmin_removes_any_authority(app: Flask, client: FlaskClient, world: World) -> None:
    """An authority a sysadmin account got on a domain (attached before this rule) is removable by a sysadmin,
    even its own; the domain's other admins do not see that account."""
    with app.app_context():
        for key in ("sysadmin", "expired"):
            db.session.add(Authority(admin_id=world.pk[key], object_type=str(ObjectType.DOMAIN),
                                     object_id=world.pk["A"], permissions=["DOMAIN_READ"]))
        db.session.commit()
    url = f"/api/domains/{world.id('A')}/admins"
    listed = client.get(url, headers=world.headers("domainA")).json
    assert {a["login"] for a in listed} == {"admin-a", "reader-a", "admin-ac"}
    assert client.get(f"{url}/{world.id('sysadmin')}", headers=world.headers("domainA")).status_code == 404
    assert client.delete(f"{url}/{world.id('sysadmin')}", headers=world.headers("domainA")).status_code == 404
    assert client.delete(f"{url}/{world.id('sysadmin')}", headers=world.headers("sysadmin")).status_code == 204
    assert login(client, "root", PASSWORD).status_code == 302
    token = csrf_token(client.get("/account").text)
    removed = client.post(f"/admin/admins/{world.id('expired')}/authorities/DOMAIN/{world.id('A')}/delete",
                          data={"csrf_token": token})
    assert removed.status_code == 302
    with app.app_context():
        for key in ("sysadmin", "expired"):
            admin = db.session.get(Admin, world.pk[key])
            assert admin is not None and admin.sys_admin and admin.authorities == []
