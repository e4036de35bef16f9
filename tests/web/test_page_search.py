"""A word typed in a page's search box means "contains" (`web.listing.search_pattern`); wildcards keep
working; the API keeps its exact-unless-`*` filters; `%`, `_` and `\\` are literal on every database."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import Admin
from portal.web.listing import mail_search, search_pattern
from tests.conftest import csrf_token, login
from tests.world import PASSWORD, World

FRAGMENT = {"HX-Request": "true"}


@pytest.mark.parametrize(("typed", "pattern"), [
    ("spam", "*spam*"), (" spam ", "*spam*"), ("spam*", "spam*"), ("*spam", "*spam"), ("*spam*", "*spam*"),
    ("", ""), ("*", "*"), ("sp*m", "*sp*m*"), ("100%", "*100%*"),
])
def test_a_typed_word_becomes_a_pattern(typed: str, pattern: str) -> None:
    assert search_pattern(typed) == pattern


def test_a_mail_search_is_a_substring() -> None:
    assert [mail_search(w) for w in ("spam", "spam*", "*spam", "*", "")] == ["spam", "spam", "spam", "", ""]


def test_sender_rules_page_finds_what_contains_the_word_the_api_does_not(client: FlaskClient, world: World) -> None:
    url = f"/admin/domains/{world.id('A')}/rules/senders"
    login(client, "root", PASSWORD)
    assert "spammer@bad.example" in client.get(f"{url}?value=spam", headers=FRAGMENT).text
    assert "spammer@bad.example" in client.get(f"{url}?value=spam*", headers=FRAGMENT).text  # starts with
    assert "spammer@bad.example" in client.get(f"{url}?value=*example", headers=FRAGMENT).text  # ends with
    assert "spammer@bad.example" not in client.get(f"{url}?value=bad*", headers=FRAGMENT).text
    assert "spammer@bad.example" not in client.get(f"{url}?value=*spam", headers=FRAGMENT).text
    page = client.get(f"{url}?value=spam")
    assert 'value="spam"' in page.text and "*spam*" not in page.text  # the box shows what was typed
    api = f"/api/domains/{world.id('A')}/wblist"
    headers = world.headers("sysadmin")
    assert client.get(f"{api}?value=spam", headers=headers).headers["X-Total-Count"] == "0"
    assert client.get(f"{api}?value=spam*", headers=headers).headers["X-Total-Count"] == "1"
    assert client.get(f"{api}?value=spammer@bad.example", headers=headers).headers["X-Total-Count"] == "1"


def test_a_users_own_sender_list_finds_what_contains_the_word(client: FlaskClient, world: World) -> None:
    page = client.get("/me/login")
    client.post("/me/login", data={"csrf_token": csrf_token(page.text), "email": "user@a.example",
                                   "password": PASSWORD})
    assert "friend.example" in client.get("/me/senders?value=friend", headers=FRAGMENT).text
    assert "friend.example" not in client.get("/me/senders?value=example*", headers=FRAGMENT).text


@pytest.mark.parametrize(("url", "typed", "found"), [
    ("/admin/domains", "a.exam", "a.example"),
    ("/admin/customers", "one", "Customer One"),
    ("/admin/admins", "oker", "broker1"),
    ("/admin/mailservers", "back", "Loopback relay"),
])
def test_every_list_page_searches_by_contains(client: FlaskClient, world: World, url: str, typed: str,
                                              found: str) -> None:
    login(client, "root", PASSWORD)
    field = "search" if url == "/admin/admins" else "name"
    assert found in client.get(f"{url}?{field}={typed}", headers=FRAGMENT).text


def test_users_and_aliases_pages_search_by_contains(client: FlaskClient, world: World) -> None:
    login(client, "root", PASSWORD)
    domain = world.id("A")
    assert "other@a.example" in client.get(f"/admin/domains/{domain}/users?name=ther@", headers=FRAGMENT).text
    assert "other@a.example" not in client.get(f"/admin/domains/{domain}/users?name=ther*",
                                               headers=FRAGMENT).text
    aliases = f"/admin/domains/{domain}/rules/groups"
    assert "group@a.example" in client.get(f"{aliases}?email=roup", headers=FRAGMENT).text
    assert "group@a.example" not in client.get(f"{aliases}?email=roup*", headers=FRAGMENT).text
    attachments = f"/admin/domains/{domain}/rules/attachments"
    assert "\\.scr$" in client.get(f"{attachments}?action=DENY", headers=FRAGMENT).text
    assert "\\.scr$" not in client.get(f"{attachments}?action=EN", headers=FRAGMENT).text  # an exact filter stays


@pytest.mark.parametrize(("typed", "hit", "miss"), [
    ("100%", "pct-hit", "pct-miss"),  # % is not "anything"
    ("a_b", "us-hit", "us-miss"),  # _ is not "any one character"
    ("c\\d", "bs-hit", "bs-miss"),  # a backslash is not LIKE's escape
])
def test_like_characters_are_literal(app: Flask, client: FlaskClient, world: World, typed: str, hit: str,
                                     miss: str) -> None:
    names = {"pct-hit": "100% sure", "pct-miss": "1000 sure", "us-hit": "xa_bx", "us-miss": "xaxbx",
             "bs-hit": "xc\\dx", "bs-miss": "xcdx"}
    with app.app_context():
        for name in (hit, miss):
            db.session.add(Admin(login=name, email=f"{name}@example.org", display_name=names[name], enabled=True,
                                 session_nonce="n"))
        db.session.commit()
    login(client, "root", PASSWORD)
    for query in (typed, "*" + typed + "*"):
        text = client.get("/admin/admins", query_string={"search": query}, headers=FRAGMENT).text
        assert hit in text and miss not in text, query
