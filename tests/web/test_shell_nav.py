"""The shell's sidebar (portal/web/shell.py) offers only what the account may open: every link it shows answers
200 for that account, a group without such a link is left out, the current page is marked."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import csrf_token, login
from tests.world import PASSWORD, World

ADMINS = ("root", "broker1", "customer1", "admin-a", "admin-b", "reader-a", "admin-c", "admin-ac")


def _sidebar(html: str) -> str:
    return html.split('id="sidebar"', 1)[1].split("</aside>", 1)[0]


def _links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)"', _sidebar(html))


def _groups(html: str) -> list[str]:
    return re.findall(r'<p class="nav-group"[^>]*>([^<]+)</p>', _sidebar(html))


@pytest.mark.parametrize("account", ADMINS)
def test_every_sidebar_link_opens_for_the_admin(client: FlaskClient, world: World, account: str) -> None:
    login(client, account, PASSWORD)
    for page in ("/", f"/admin/domains/{world.id('A')}/rules/senders"):
        answer = client.get(page)
        if answer.status_code != 200:  # A is not this admin's: the domain's filtering links are not offered
            continue
        links = _links(answer.text)
        assert links
        for href in links:
            # the mail queue answers 503 where Postfix is not installed or may not be run (its own tests' fixture)
            allowed = (200, 503) if href == "/admin/mailqueue" else (200,)
            assert client.get(href).status_code in allowed, (account, page, href)
        groups = _groups(answer.text)
        # sysadmins; a broker's operator (QUEUE_MANAGE) sees System with only the mail queue and the filter services
        assert ("System" in groups) == (account in ("root", "broker1"))
        if account == "broker1":
            assert "/admin/services" in links and "/admin/mailqueue" in links and "/admin/mailservers" not in links
        assert ("Filtering" in groups) == (page != "/")


def test_the_admins_list_is_offered_only_with_grant(client: FlaskClient, world: World) -> None:
    login(client, "reader-a", PASSWORD)
    assert client.get("/admin/admins").status_code == 403
    assert "/admin/admins" not in _links(client.get("/").text)


def test_the_current_page_and_its_section_are_marked(client: FlaskClient, world: World) -> None:
    login(client, "root", PASSWORD)
    sidebar = _sidebar(client.get("/admin/admins").text)
    assert re.findall(r'<a href="([^"]+)" aria-current="page">', sidebar) == ["/admin/admins"]
    sidebar = _sidebar(client.get(f"/admin/domains/{world.id('A')}/tab/settings").text)
    assert re.findall(r'<a href="([^"]+)" aria-current="true">', sidebar) == ["/admin/domains"]
    assert 'aria-current="page"' not in sidebar
    sidebar = _sidebar(client.get(f"/admin/domains/{world.id('A')}/rules/uris").text)
    assert re.findall(r'aria-current="[a-z]+"', sidebar) == ['aria-current="page"']  # not "Domains" as well
    assert re.search(r'href="[^"]+/rules/uris" aria-current="page"', sidebar)


def test_every_link_of_a_mailbox_users_nav_opens(app: Flask, client: FlaskClient, world: World) -> None:
    page = client.get("/me/login")
    client.post("/me/login", data={"csrf_token": csrf_token(page.text), "email": "user@a.example",
                                   "password": PASSWORD})
    home = client.get("/me/")
    assert home.status_code == 200
    links = _links(home.text)
    assert "/me/" in links and len(links) >= 2
    for href in links:
        assert client.get(href).status_code == 200, href
    assert _groups(home.text) == []


def test_every_page_has_one_breadcrumb_trail_and_one_h1(client: FlaskClient, world: World) -> None:
    login(client, "root", PASSWORD)
    domain = f"/admin/domains/{world.id('A')}"
    for page in ("/", "/admin/admins", f"{domain}/tab/settings", f"{domain}/users", "/account/tokens", "/admin/jobs"):
        html = client.get(page).text
        assert html.count('aria-label="Breadcrumb"') == 1, page
        trail = html.split('aria-label="Breadcrumb"', 1)[1].split("</nav>", 1)[0]
        assert trail.count('aria-current="page"') == 1 and trail.rstrip().endswith("</ol>"), page
        assert html.count("<h1") == 1, page
        assert all(re.search(r'aria-label="[^"]+"', nav) for nav in re.findall(r"<nav[^>]*>", html)), page
