"""The Mail servers pages (issue 12): system administrators only; add / edit with errors next to the fields in
the reader's language; secrets never sent back to the browser; enable / disable / delete; check and test mail
against a real aiosmtpd peer."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import crypto, ids
from portal.extensions import db
from portal.models import MailServer
from tests.conftest import csrf_token, login
from tests.services_runtime import self_signed, smtp_server
from tests.world import PASSWORD, World

SECRET = "s3cret-Pa55-never-shown"
FORM = {"name": "Office relay", "protocol": "SMTP", "host": "smtp.example.com", "port": "", "security": "STARTTLS",
        "certificate": "DEFAULT", "auth": "USERNAME_PASSWORD", "username": "postern@example.com",
        "password": SECRET, "sender_name": "Postern", "sender_address": "postern@example.com",
        "subject_prefix": "[Postern]"}


def _signed_in(app: Flask, who: str = "root", lang: str | None = None) -> FlaskClient:
    client = app.test_client()
    assert login(client, who, PASSWORD).status_code == 302
    if lang:
        with client.session_transaction() as session:
            session["lang"] = lang.upper()
    return client


def _post(client: FlaskClient, url: str, data: dict[str, Any], **kwargs: Any) -> Any:
    token = csrf_token(client.get("/account").text)
    return client.post(url, data={"csrf_token": token, **data}, **kwargs)


def _stored(app: Flask, name: str) -> MailServer | None:
    with app.app_context():
        server = db.session.scalar(select(MailServer).where(MailServer.name == name))
        if server is not None:
            db.session.expunge(server)
        return server


@pytest.mark.parametrize("who", ["broker1", "customer1", "admin-a", "reader-a"])
def test_only_system_administrators_see_or_change_mail_servers(app: Flask, world: World, who: str) -> None:
    client = _signed_in(app, who)
    server = world.id("server")
    for url in ("/admin/mailservers", "/admin/mailservers/new", f"/admin/mailservers/{server}",
                f"/admin/mailservers/{server}/delete"):
        assert client.get(url).status_code == 403, url
    for url, data in (("/admin/mailservers/new", FORM), (f"/admin/mailservers/{server}", FORM),
                      (f"/admin/mailservers/{server}/enabled", {"enabled": "true"}),
                      (f"/admin/mailservers/{server}/delete", {}), (f"/admin/mailservers/{server}/check", {}),
                      (f"/admin/mailservers/{server}/test-mail", {"to": "someone@example.org"})):
        assert _post(client, url, data).status_code == 403, url
    assert "Mail servers" not in client.get("/").text  # not in the sidebar either
    relay = _stored(app, "Loopback relay")
    assert relay is not None and relay.enabled is False and relay.checked_at is None
    assert _stored(app, "Office relay") is None


def test_the_list_shows_each_server_searches_and_says_when_nothing_matches(app: Flask, world: World) -> None:
    client = _signed_in(app)
    page = client.get("/admin/mailservers")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Loopback relay" in text and "127.0.0.1:2525" in text and "never checked" in text
    assert 'href="/admin/mailservers"' in text and 'aria-current="page"' in text  # the sidebar's link
    found = client.get("/admin/mailservers?name=pback", headers={"HX-Request": "true"})
    assert "Loopback relay" in found.text and "<html" not in found.text  # contains, and only the table for HTMX
    none = html.unescape(client.get("/admin/mailservers?name=nothing").text)
    assert "No mail server matches “nothing”." in none and 'id="clear-search"' in none


def test_add_then_edit_keeps_the_password_and_never_shows_it(app: Flask, world: World) -> None:
    client = _signed_in(app)
    added = _post(client, "/admin/mailservers/new", FORM)
    assert added.status_code == 302, added.text
    stored = _stored(app, "Office relay")
    assert stored is not None and stored.port == 587 and stored.password and SECRET not in stored.password
    with app.app_context():
        assert crypto.decrypt(stored.password) == SECRET
    page = client.get(added.headers["Location"])
    assert page.status_code == 200
    assert SECRET not in page.text and stored.password not in page.text
    assert "A password is stored: leave blank to keep it." in html.unescape(page.text)
    assert not re.search(r'name="password"[^>]*value=', page.text)
    # saved again without a password (and a new port): the stored one is kept
    edited = _post(client, added.headers["Location"], {**FORM, "password": "", "port": "2525"})
    assert edited.status_code == 302, edited.text
    again = _stored(app, "Office relay")
    assert again is not None and again.port == 2525 and again.password == stored.password
    # another host: the password is asked again, next to its field, and nothing is saved
    moved = _post(client, added.headers["Location"], {**FORM, "password": "", "host": "evil.example.net"})
    assert moved.status_code == 400
    text = html.unescape(moved.text)
    assert "Give the password again: where it goes has changed." in text
    assert 'value="evil.example.net"' in text and SECRET not in text
    assert _stored(app, "Office relay").host == "smtp.example.com"  # type: ignore[union-attr]


def test_an_oauth_secret_is_write_only_too(app: Flask, world: World) -> None:
    client = _signed_in(app)
    data = {**FORM, "auth": "OAUTH2", "password": "", "oauth_tenant_id": "contoso", "oauth_client_id": "app-1",
            "oauth_client_secret": SECRET}
    added = _post(client, "/admin/mailservers/new", data)
    assert added.status_code == 302, added.text
    page = client.get(added.headers["Location"]).text
    assert SECRET not in page and "A client secret is stored: leave blank to keep it." in html.unescape(page)
    assert 'value="contoso"' in page and 'value="app-1"' in page


@pytest.mark.parametrize(("lang", "words"), [
    ("fr", ("Indiquez le mot de passe.", "Le port doit valoir au plus 65535.")),
    ("ru", ("Укажите пароль.", "Порт: не больше 65535.")),
])
def test_field_errors_stand_next_to_their_fields_in_the_readers_language(
        app: Flask, world: World, lang: str, words: tuple[str, str]) -> None:
    client = _signed_in(app, lang=lang)
    refused = _post(client, "/admin/mailservers/new", {**FORM, "password": "", "port": "70000"})
    assert refused.status_code == 400
    text = html.unescape(refused.text)
    assert 'value="Office relay"' in text and 'value="70000"' in text  # what was typed is kept
    port_error = re.search(r'id="e-port"[^>]*>([^<]+)<', text)
    assert port_error and port_error.group(1) == words[1], port_error
    missing = _post(client, "/admin/mailservers/new", {**FORM, "password": ""})
    password_error = re.search(r'id="e-password"[^>]*>([^<]+)<', html.unescape(missing.text))
    assert password_error and password_error.group(1) == words[0]
    assert _stored(app, "Office relay") is None


def test_a_custom_certificate_needs_a_certificate(app: Flask, world: World) -> None:
    client = _signed_in(app)
    data = {**FORM, "auth": "NO_AUTH", "password": "", "certificate": "CUSTOM", "certificate_pem": "not a pem"}
    refused = _post(client, "/admin/mailservers/new", data)
    assert refused.status_code == 400
    assert re.search(r'id="e-certificate_pem"', refused.text) and ">not a pem</textarea>" in refused.text
    pem, _key = self_signed()
    assert _post(client, "/admin/mailservers/new", {**data, "certificate_pem": pem}).status_code == 302
    assert _stored(app, "Office relay").certificate_pem.startswith("-----BEGIN CERTIFICATE-----")  # type: ignore[union-attr]


def test_enable_disable_and_delete_after_a_confirm_page(app: Flask, world: World) -> None:
    client = _signed_in(app)
    server = world.id("server")
    enabled = _post(client, f"/admin/mailservers/{server}/enabled", {"enabled": "true"}, follow_redirects=True)
    assert "Postern&#39;s own mail now leaves through it" in enabled.text or "own mail now leaves" in enabled.text
    assert _stored(app, "Loopback relay").enabled is True  # type: ignore[union-attr]
    assert "in use" in client.get("/admin/mailservers").text
    _post(client, f"/admin/mailservers/{server}/enabled", {"enabled": "false", "back": "list"})
    assert _stored(app, "Loopback relay").enabled is False  # type: ignore[union-attr]
    confirm = client.get(f"/admin/mailservers/{server}/delete")
    assert confirm.status_code == 200 and "Delete Loopback relay?" in confirm.text
    assert _stored(app, "Loopback relay") is not None  # the page asks, it does not delete
    deleted = _post(client, f"/admin/mailservers/{server}/delete", {})
    assert deleted.status_code == 302 and deleted.headers["Location"].endswith("/admin/mailservers")
    assert _stored(app, "Loopback relay") is None
    assert client.get(f"/admin/mailservers/{server}").status_code == 404


def test_a_check_shows_its_result_and_transcript_and_is_kept(app: Flask, world: World) -> None:
    """Against a real aiosmtpd peer."""
    client = _signed_in(app)
    with smtp_server() as (_sink, port):
        with app.app_context():
            server = db.session.get(MailServer, ids.decode(world.id("server")))
            server.port = port
            db.session.commit()
        answer = _post(client, f"/admin/mailservers/{world.id('server')}/check", {}, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert "<html" not in answer.text and 'id="check-message"' in answer.text  # the fragment only
    assert "badge-enabled" in answer.text and 'id="check-transcript"' in answer.text and "220" in answer.text
    stored = _stored(app, "Loopback relay")
    assert stored is not None and stored.check_ok is True and stored.checked_at is not None
    page = client.get(f"/admin/mailservers/{world.id('server')}")  # the server's page shows the last check
    assert "Last check" in page.text and "badge-enabled" in page.text and 'id="check-transcript"' in page.text
    listed = client.get("/admin/mailservers").text
    assert "never checked" not in listed and "badge-enabled" in listed


def test_a_failed_check_says_where_it_stopped_in_the_readers_language(app: Flask, world: World) -> None:
    client = _signed_in(app, lang="fr")
    answer = _post(client, f"/admin/mailservers/{world.id('server')}/check", {})  # port 2525: nothing listens
    assert answer.status_code == 200 and "<html" in answer.text  # without HTMX: the whole page
    assert "badge-off" in answer.text and 'id="check-message"' in answer.text
    assert _stored(app, "Loopback relay").check_ok is False  # type: ignore[union-attr]


def test_a_check_asked_again_at_once_is_refused_in_words(app: Flask, world: World,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "MAILSERVER_CHECK_INTERVAL", 60)
    client = _signed_in(app, lang="fr")
    url = f"/admin/mailservers/{world.id('server')}/check"
    _post(client, url, {}, headers={"HX-Request": "true"})
    again = _post(client, url, {}, headers={"HX-Request": "true"})
    assert again.status_code == 429 and again.headers["Retry-After"] == "60"
    assert "role=\"alert\"" in again.text and "This server was checked a moment ago" not in again.text
    full = _post(client, url, {})  # without HTMX: the server's page, with the refusal
    assert full.status_code == 429 and "<html" in full.text and 'id="check-result"' in full.text


def test_a_test_mail_reaches_the_sink(app: Flask, world: World) -> None:
    client = _signed_in(app)
    with smtp_server() as (sink, port):
        with app.app_context():
            server = db.session.get(MailServer, ids.decode(world.id("server")))
            server.port = port
            db.session.commit()
        url = f"/admin/mailservers/{world.id('server')}/test-mail"
        bad = _post(client, url, {"to": "foo@"}, headers={"HX-Request": "true"})
        assert bad.status_code == 400 and 'id="e-to"' in bad.text and 'value="foo@"' in bad.text
        assert sink.messages == []
        sent = _post(client, url, {"to": "someone@example.org"}, headers={"HX-Request": "true"})
    assert sent.status_code == 200 and 'id="test-mail-result"' in sent.text and "badge-enabled" in sent.text
    assert [rcpt for _from, rcpt, _data in sink.messages] == [["someone@example.org"]]


def test_a_typed_secret_never_comes_back_and_hostile_input_stays_text(app: Flask, world: World) -> None:
    client = _signed_in(app)
    refused = _post(client, "/admin/mailservers/new", {
        **FORM, "name": "<script>alert(1)</script>", "port": "70000", "sender_name": "Evil\r\nBcc: all@example.org"})
    assert refused.status_code == 400
    assert SECRET not in refused.text  # the password typed with a refused form is not sent back
    assert "<script>alert(1)</script>" not in refused.text and "&lt;script&gt;" in refused.text
    assert re.search(r'id="e-sender_name"', refused.text)  # CR/LF in a header value is refused next to it
    assert _stored(app, "<script>alert(1)</script>") is None
