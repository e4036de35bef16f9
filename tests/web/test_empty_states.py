"""An empty list says whether nothing exists or nothing matches the search, with a link that clears it."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import SenderRule
from tests.conftest import csrf_token, login
from tests.world import PASSWORD, World


def _user(client: FlaskClient) -> None:
    page = client.get("/me/login")
    client.post("/me/login", data={"csrf_token": csrf_token(page.text), "email": "user@a.example",
                                   "password": PASSWORD})


def _empty_row(html: str) -> str:
    found = re.search(r'<tr class="empty"><td colspan="\d+">(.*?)</td></tr>', html, re.S)
    assert found, "no empty row"
    return found.group(1)


def test_quarantine_search_and_filter_that_match_nothing(client: FlaskClient, world: World) -> None:
    _user(client)
    assert 'class="empty"' not in client.get("/me/quarantine").text  # the world holds two messages
    row = _empty_row(client.get("/me/quarantine?q=<b>zzz</b>&pageSize=40").text)
    assert "No message matches “&lt;b&gt;zzz&lt;/b&gt;”." in row and "<b>" not in row
    assert 'href="/me/quarantine?pageSize=40"' in row and "Clear the search" in row
    fragment = client.get("/me/quarantine?q=zzz", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "No message matches “zzz”." in _empty_row(fragment.text)
    row = _empty_row(client.get("/me/quarantine?reason=VIRUS").text)
    assert "No message matches this filter." in row and 'href="/me/quarantine"' in row


def test_folder_search_that_matches_nothing(app: Flask, client: FlaskClient, world: World) -> None:
    _user(client)
    row = _empty_row(client.get("/me/folders?path=INBOX&q=zzz").text)
    assert "No message matches “zzz”." in row and 'href="/me/folders?path=INBOX"' in row


def test_senders_say_none_exist_or_none_match(app: Flask, client: FlaskClient, world: World) -> None:
    _user(client)
    row = _empty_row(client.get("/me/senders?value=nobody").text)
    assert "No sender rule matches “nobody”." in row and 'href="/me/senders"' in row
    with app.app_context():
        db.session.query(SenderRule).filter_by(user_id=world.pk["userA"]).delete()
        db.session.commit()
    row = _empty_row(client.get("/me/senders").text)
    assert row == "You have no sender rules yet." and "Clear the search" not in row


def test_admin_lists_name_the_search(client: FlaskClient, world: World) -> None:
    assert login(client, "root", PASSWORD).status_code == 302
    row = _empty_row(client.get("/admin/domains?name=zzz").text)
    assert "No domain matches “zzz”." in row and 'href="/admin/domains"' in row
    assert "No domain matches this filter." in _empty_row(client.get("/admin/domains?status=DELETED").text)
    assert "No administrator matches “zzz”." in _empty_row(client.get("/admin/admins?search=zzz").text)
    assert "No customer matches “zzz”." in _empty_row(client.get("/admin/customers?name=zzz").text)
    row = _empty_row(client.get(f"/admin/domains/{world.id('A')}/users?name=zzz").text)
    assert "No user matches “zzz”." in row


def test_every_actions_column_has_a_header(client: FlaskClient, world: World) -> None:
    """No empty <th> (screen readers announce nothing for its cells): the label is visually hidden."""
    _user(client)
    for path in ("/me/quarantine", "/me/senders"):
        assert "<th></th>" not in client.get(path).text, path
    client.delete_cookie("session")
    assert login(client, "root", PASSWORD).status_code == 302
    for path in ("/admin/jobs", "/admin/providers", "/admin/mailservers", "/account/tokens",
                 f"/admin/domains/{world.id('A')}/tab/aliases", f"/admin/domains/{world.id('A')}/tab/platforms",
                 f"/admin/domains/{world.id('A')}/tab/admins", f"/admin/domains/{world.id('A')}/rules/senders"):
        page = client.get(path)
        assert page.status_code == 200 and "<th></th>" not in page.text and "<th>" in page.text, path


def test_audit_filtered_by_administrator(client: FlaskClient, world: World) -> None:
    assert login(client, "root", PASSWORD).status_code == 302
    row = _empty_row(client.get("/admin/audit?actor=nobody").text)
    assert "No event matches “nobody”." in row and 'href="/admin/audit"' in row
