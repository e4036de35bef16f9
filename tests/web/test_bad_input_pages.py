"""Hostile input to the pages is a 4xx with a message, never a 500, and is not echoed raw: folder paths
with NUL and other control characters, ids past any key (issue 10, item 7)."""

from __future__ import annotations

import mailbox
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.integrations.mailstore import maildir_root
from tests.conftest import login
from tests.web.test_user_mail_pages import _login
from tests.world import PASSWORD, World

FIXTURES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BIG = "99999999999999999999999999"


@pytest.fixture
def user_client(app: Flask, world: World) -> FlaskClient:
    mailbox.Maildir(str(maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example"))).add_folder("Archive")
    client = app.test_client()
    _login(client)
    return client


@pytest.fixture
def root_client(app: Flask, world: World) -> FlaskClient:
    client = app.test_client()
    login(client, "root", PASSWORD)
    return client


def test_a_nul_in_a_folder_path_is_a_400_not_echoed(user_client: FlaskClient) -> None:
    page = user_client.get("/me/folders?path=Secret%00%3Cb%3Ex")
    assert page.status_code == 400
    assert "\x00" not in page.text and "Secret&lt;" not in page.text  # only in the percent-encoded next=
    assert "This is not a folder name." in page.text


@pytest.mark.parametrize("url", ["/me/quarantine?q=a%00b%1b", "/me/folders?path=Archive&q=a%00b%1b"])
def test_a_search_with_a_control_character_is_a_400_not_echoed(user_client: FlaskClient, url: str) -> None:
    for headers in ({}, {"HX-Request": "true"}):
        page = user_client.get(url, headers=headers)
        assert page.status_code == 400 and "\x00" not in page.text and "\x1b" not in page.text
        assert "printable characters" in page.text
    assert 'value="ab"' in user_client.get(url).text  # the search box shows what may be shown


@pytest.mark.parametrize("url", [
    "/me/quarantine/message?folder=a%00b&id=x", "/me/quarantine/attachment?folder=a%00b&id=x&part=1",
    "/me/quarantine/source?folder=a%00b&id=x", "/me/compose?reply=x&folder=a%00b",
    "/me/quarantine/attachment?id=x&part=%C2%B2",  # a digit to str.isdigit, not to int()
])
def test_bad_folders_and_parts_are_4xx(user_client: FlaskClient, url: str) -> None:
    page = user_client.get(url)
    assert 400 <= page.status_code < 500 and "\x00" not in page.text


FOLDER_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)


@FIXTURES
@given(path=st.one_of(FOLDER_TEXT, st.builds(lambda a, c, b: a + c + b, FOLDER_TEXT,
                                             st.sampled_from(["\x00", "\r", "\n", "\x7f", "/../", "//", "\x1b"]),
                                             FOLDER_TEXT)))
def test_any_folder_path_is_an_answer(user_client: FlaskClient, path: str) -> None:
    """Any path on the folder pages and the message page: an answer (a 4xx for a bad name), no control
    character echoed."""
    for url in (f"/me/folders?path={quote(path)}", f"/me/quarantine/message?folder={quote(path)}&id=x"):
        page = user_client.get(url)
        assert page.status_code < 500, (url, page.status_code)
        assert page.status_code != 302 or path.strip("/") == "Quarantine", (url, page.status_code)
        assert not any(c in page.text for c in "\x00\x1b\x7f"), url


@pytest.mark.parametrize("url", [
    "/admin/domains/{id}", "/admin/users/{id}", "/admin/admins/{id}", "/admin/customers/{id}",
    "/admin/users/{id}/quarantine", "/admin/policies/{id}", "/admin/domains/{id}/rules/attachments",
    "/admin/domains/{id}/users",
])
def test_an_id_past_any_key_is_not_found_on_pages(root_client: FlaskClient, url: str) -> None:
    page = root_client.get(url.format(id=BIG))
    assert page.status_code in (302, 404), page.status_code
    if page.status_code == 302:  # a page that sends the missing object back to its list says so
        assert "/login" not in page.headers["Location"]


@FIXTURES
@given(public_id=st.one_of(st.from_regex(r"\A[0-9]{6,40}\Z"), st.text(min_size=1, max_size=40)))
def test_any_id_on_a_page_is_an_answer(root_client: FlaskClient, public_id: str) -> None:
    for url in (f"/admin/users/{quote(public_id, safe='')}", f"/admin/admins/{quote(public_id, safe='')}"):
        page = root_client.get(url)
        assert page.status_code in (200, 302, 308, 404), (url, page.status_code)  # 308: a "/" merged away
