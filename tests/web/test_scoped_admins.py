"""Scoped administrators find what they may see: the Domains list (and the dashboard's count) shows every domain
where they hold any authority (through its broker, customer or the domain), and a domain's page only the tabs
their permissions open. The API's list keeps DOMAIN_READ: its items are whole domains."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.permissions import ObjectType, Permission
from tests.conftest import login
from tests.world import PASSWORD, World, _admin, add_page_roles

TAB_LABELS = {"settings": "Settings", "aliases": "Aliases", "platforms": "Platforms", "policies": "Policies",
              "options": "Options", "admins": "Administrators", "access": "End-user access", "dkim": "DKIM",
              "health": "Health"}
DOMAIN_TABS = ["settings", "aliases", "platforms", "policies", "options", "access", "dkim", "health"]


@pytest.fixture
def scoped(app: Flask, world: World) -> World:
    """The page roles, and admins without DOMAIN_READ: users and quarantine of A (desk-a), quarantine of A only
    (mail-a), GRANT on customer C1 only (granter-c1), users of B through customer C1 (users-c1)."""
    with app.app_context():
        add_page_roles(world)
        a, c1 = world.pk["A"], world.pk["C1"]
        _admin("desk-a", grants=((ObjectType.DOMAIN, a, [Permission.USER_READ, Permission.QUARANTINE_READ]),))
        _admin("mail-a", grants=((ObjectType.DOMAIN, a, [Permission.QUARANTINE_READ]),))
        _admin("granter-c1", grants=((ObjectType.CUSTOMER, c1, [Permission.GRANT]),))
        _admin("users-c1", grants=((ObjectType.CUSTOMER, c1, [Permission.USER_READ]),))
        _admin("nothing", grants=((ObjectType.DOMAIN, a, []),))  # an authority with no permission left
        db.session.commit()
    return world


def _as(client: FlaskClient, who: str) -> None:
    client.delete_cookie("session")
    assert login(client, who, PASSWORD).status_code == 302


def _listed(client: FlaskClient) -> list[str]:
    page = client.get("/admin/domains")
    assert page.status_code == 200
    return re.findall(r'<a href="/admin/domains/[^"/]+">([^<]+)</a>', page.text)


def _dashboard_count(client: FlaskClient) -> int:
    page = client.get("/").text
    found = re.search(r"<header>Domains</header><p class=\"stat\">(?:<a [^>]*>)?(\d+)", page)
    assert found, page
    return int(found.group(1))


def _nav(html: str) -> list[str]:
    nav = re.search(r'<nav class="tabs"[^>]*>(.*?)</nav>', html, re.S)
    assert nav, html
    return [label.strip() for label in re.findall(r"<a [^>]*>([^<]+)</a>", nav.group(1))]


@pytest.mark.parametrize(("who", "listed"), [
    ("root", ["a.example", "b.example", "c.example", "gone.example"]),
    ("broker1", ["a.example", "b.example", "gone.example"]),
    ("admin-a", ["a.example"]), ("operator-a", ["a.example"]), ("helpdesk-a", ["a.example"]),
    ("reader-a", ["a.example"]), ("admin-c", ["c.example"]),
    ("desk-a", ["a.example"]), ("mail-a", ["a.example"]),
    ("granter-c1", ["a.example", "b.example", "gone.example"]),
    ("users-c1", ["a.example", "b.example", "gone.example"]),
    ("nothing", []),
])
def test_the_domains_list_shows_every_domain_in_sight(client: FlaskClient, scoped: World, who: str,
                                                      listed: list[str]) -> None:
    _as(client, who)
    assert _listed(client) == listed
    assert _dashboard_count(client) == len(listed)


@pytest.mark.parametrize(("who", "tabs", "links", "lands_on"), [
    ("admin-a", [*DOMAIN_TABS[:5], "admins", "access", "dkim", "health"], ["Users", "Filter rules", "Email aliases"],
     "tab/settings"),
    ("operator-a", DOMAIN_TABS, ["Users", "Filter rules", "Email aliases"], "tab/settings"),
    ("helpdesk-a", DOMAIN_TABS, ["Users", "Filter rules", "Email aliases"], "tab/settings"),
    ("reader-a", DOMAIN_TABS, ["Filter rules", "Email aliases"], "tab/settings"),
    ("granter-c1", ["admins"], [], "tab/admins"),
])
def test_a_domain_page_shows_the_tabs_one_may_open(client: FlaskClient, scoped: World, who: str, tabs: list[str],
                                                   links: list[str], lands_on: str) -> None:
    _as(client, who)
    domain = scoped.id("A")
    first = client.get(f"/admin/domains/{domain}")
    assert first.status_code == 302 and first.headers["Location"].endswith(f"/admin/domains/{domain}/{lands_on}")
    page = client.get(first.headers["Location"])
    assert page.status_code == 200
    assert _nav(page.text) == [TAB_LABELS[t] for t in tabs] + links
    for tab in TAB_LABELS:  # a tab not offered is refused (403: the domain is in sight), not hidden behind a 404
        assert client.get(f"/admin/domains/{domain}/tab/{tab}").status_code == (200 if tab in tabs else 403), tab
    for link in re.findall(r'<nav class="tabs".*?</nav>', page.text, re.S)[0].split('href="')[1:]:
        assert client.get(link.split('"')[0]).status_code == 200, link


def test_an_admin_of_users_only_lands_on_the_users(client: FlaskClient, scoped: World) -> None:
    _as(client, "desk-a")
    domain = scoped.id("A")
    first = client.get(f"/admin/domains/{domain}")
    assert first.status_code == 302 and first.headers["Location"].endswith(f"/admin/domains/{domain}/users")
    users = client.get(first.headers["Location"])
    assert users.status_code == 200 and "user@a.example" in users.text
    assert f'href="/admin/domains/{domain}"' in users.text  # the breadcrumb leads back to what it may open
    assert client.get(f"/admin/domains/{domain}/tab/settings").status_code == 403
    assert client.get(f"/admin/domains/{scoped.id('B')}").status_code == 404  # out of sight


def test_an_admin_whose_permissions_open_no_page_sees_the_domain_and_says_so(client: FlaskClient,
                                                                               scoped: World) -> None:
    _as(client, "mail-a")
    page = client.get(f"/admin/domains/{scoped.id('A')}")
    assert page.status_code == 200 and "a.example" in page.text and 'id="no-section"' in page.text
    assert _nav(page.text) == []


def test_the_api_list_keeps_domain_read(client: FlaskClient, scoped: World) -> None:
    """An API item is the whole domain (platforms, policies, subnets): DOMAIN_READ, as Cleanmail's "missing
    security role"; a domain only in sight is a 403 there, not a 404."""
    from portal.models import Admin
    from portal.services import tokens

    with client.application.app_context():
        desk = db.session.query(Admin).filter_by(login="desk-a").one()
        _, value = tokens.issue(desk, "desk")
        db.session.commit()
    headers = {"Authorization": f"Bearer {value}"}
    assert client.get("/api/domains", headers=headers).status_code == 403  # DOMAIN_READ held nowhere
    assert client.get(f"/api/domains/{scoped.id('A')}", headers=headers).status_code == 403
    assert client.get(f"/api/domains/{scoped.id('C')}", headers=headers).status_code == 404
    assert client.get(f"/api/domains/{scoped.id('A')}/users", headers=headers).status_code == 200
