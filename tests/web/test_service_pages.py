"""The Filter services page (issue 17): a card per service with its status and version, the self-test button
(HTMX swaps the card) against a real clamd, start / stop for sysadmins with the command's error shown, the
sidebar link for whoever may see the page."""

from __future__ import annotations

import html
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_filter_services_api import clamd_address, settings  # noqa: F401 (a fixture)
from tests.conftest import csrf_token, login
from tests.services_runtime import free_port
from tests.world import PASSWORD, World


def _signed_in(app: Flask, who: str = "root", lang: str | None = None) -> FlaskClient:
    client = app.test_client()
    assert login(client, who, PASSWORD).status_code == 302
    if lang:
        with client.session_transaction() as session:
            session["lang"] = lang.upper()
    return client


def _post(client: FlaskClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    token = csrf_token(client.get("/account").text)
    return client.post(url, data={"csrf_token": token, **(data or {})}, **kwargs)


def test_the_page_shows_both_services_and_says_what_is_not_set(app: Flask, world: World) -> None:
    client = _signed_in(app)
    with settings(app):
        page = client.get("/admin/services")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "ClamAV antivirus" in text and "SpamAssassin spam filter" in text
    assert "POSTERN_CLAMD is not set" in text and "POSTERN_SPAMD is not set" in text
    assert 'href="/admin/services"' in text  # the sidebar's link
    assert "POSTERN_CLAMAV_START" in text  # start / stop need command lines: said where they come from


def test_the_self_test_button_swaps_the_card_with_the_eicar_result(app: Flask, world: World,
                                                                   clamd_address: str) -> None:  # noqa: F811
    client = _signed_in(app, "broker1")  # QUEUE_MANAGE on its broker
    with settings(app, CLAMD=clamd_address):
        first = client.get("/admin/services")
        assert "Not run yet." in first.text and "running" in first.text
        card = _post(client, "/admin/services/clamav/self-test", headers={"HX-Request": "true"})
        whole = _post(client, "/admin/services/clamav/self-test")
    assert card.status_code == 200 and card.text.lstrip().startswith("<article id=\"service-clamav\"")
    assert "passed" in card.text and "Eicar" in card.text and "ClamAV " in card.text
    assert "<html" in whole.text and "Eicar" in whole.text
    assert "Start" not in card.text  # the switch is for sysadmins


def test_a_service_that_is_down_shows_not_running(app: Flask, world: World) -> None:
    client = _signed_in(app)
    with settings(app, SPAMD=f"127.0.0.1:{free_port()}"):
        card = _post(client, "/admin/services/spamassassin/self-test", headers={"HX-Request": "true"})
    assert "not running" in card.text and "cannot be reached" in html.unescape(card.text)


def test_start_and_stop_flash_the_outcome_and_a_failing_command_its_exit_code(app: Flask, world: World) -> None:
    client = _signed_in(app)
    with settings(app, CLAMAV_START="echo clamd started", CLAMAV_STOP="sh -c 'echo boom >&2; exit 3'"):
        started = _post(client, "/admin/services/clamav/enabled", {"enabled": "true"}, follow_redirects=True)
        assert "the start command ran" in html.unescape(started.text) and "clamd started" in started.text
        stopped = _post(client, "/admin/services/clamav/enabled", {"enabled": "false"}, follow_redirects=True)
    text = html.unescape(stopped.text)
    assert "exit code 3" in text and "boom" in text
    assert "Stop ClamAV antivirus? Mail is no longer checked" in text  # the stop button asks first


def test_no_command_configured_is_flashed_in_the_readers_language(app: Flask, world: World) -> None:
    client = _signed_in(app, lang="ru")
    with settings(app):
        page = _post(client, "/admin/services/spamassassin/enabled", {"enabled": "true"}, follow_redirects=True)
    assert page.status_code == 200 and "POSTERN_SPAMASSASSIN_START" in page.text


def test_who_sees_the_page(app: Flask, world: World) -> None:
    assert _signed_in(app, "customer1").get("/admin/services").status_code == 403
    assert 'href="/admin/services"' not in _signed_in(app, "customer1").get("/admin/domains").text
    assert _signed_in(app, "broker1").get("/admin/services").status_code == 200
    client = _signed_in(app, "broker1")
    assert _post(client, "/admin/services/clamav/enabled", {"enabled": "true"}).status_code == 403
    assert _signed_in(app).get("/admin/services/nothing/self-test").status_code == 405
    assert _post(_signed_in(app), "/admin/services/nothing/self-test").status_code == 404
