"""Relay checks on the Platforms tab: the last result with its fix in plain words, *Check relay* (a job; the card
shows progress, then the result), *Try these settings* (nothing saved), the buttons only for HEALTH_RUN."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from portal.clock import utcnow
from portal.extensions import db
from portal.models import HealthReport, Platform
from portal.services import health
from tests.conftest import csrf_token, login
from tests.services_runtime import smtp_server
from tests.world import PASSWORD, World

HTMX = {"HX-Request": "true"}


def _as(client: FlaskClient, who: str) -> str:
    client.delete_cookie("session")
    assert login(client, who, PASSWORD).status_code == 302
    return csrf_token(client.get("/").text)


def _point(app: Flask, world: World, port: int) -> None:
    with app.app_context():
        platform = db.session.get(Platform, world.pk["platformA"])
        platform.transport_port = port
        db.session.commit()


def test_the_tab_shows_the_last_result_and_its_fix(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        health.record(health.PLATFORM, world.pk["platformA"], {"status": False, "entries": [
            {"type": "RELAY", "result": "ERROR_RELAY_UNREACHABLE",
             "output": ["Connection to 127.0.0.1 port 9 (SMTP)", "Fail: Could not connect to the server."]}]})
        db.session.commit()
    _as(client, "admin-a")
    page = client.get(f"/admin/domains/{world.id('A')}/tab/platforms")
    assert page.status_code == 200
    card = page.text[page.text.index(f'id="relay-health-{world.id("platformA")}"'):]
    assert "Failing" in card and "Unreachable" in card
    assert "Nothing answers on this host and port." in card  # the fix, in plain words
    assert "Connection to 127.0.0.1 port 9 (SMTP)" in card  # what was tried
    assert ">Check relay</button>" in card and "Try these settings" in page.text


def test_a_check_that_never_ended_stops_showing_progress(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        row = health.mark_running(health.PLATFORM, world.pk["platformA"])
        row.requested_at = utcnow() - timedelta(hours=1)  # its job died
        db.session.commit()
    _as(client, "admin-a")
    card = client.get(f"/admin/domains/{world.id('A')}/platforms/{world.id('platformA')}/health", headers=HTMX)
    assert "hx-trigger" not in card.text and "Working" in card.text  # the last report, no endless polling
    other = client.get(f"/admin/domains/{world.id('B')}/tab/platforms")
    assert other.status_code == 404  # not admin-a's domain
    _as(client, "root")
    assert "This relay was never checked." in client.get(f"/admin/domains/{world.id('B')}/tab/platforms").text


def test_check_relay_shows_progress_then_the_result(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-a")
    url = f"/admin/domains/{world.id('A')}/platforms/{world.id('platformA')}/health"
    with smtp_server() as (sink, port):
        _point(app, world, port)
        started = client.post(url, data={"csrf_token": token}, headers=HTMX)
        assert started.status_code == 200 and "<html" not in started.text
        assert "Checking the relay" in started.text and 'hx-trigger="every 1s"' in started.text
        # in-process (no Redis) the job ran after the request's commit: the next poll has the result
        done = client.get(url, headers=HTMX)
        assert "Working" in done.text and "hx-trigger" not in done.text
        assert not sink.messages
    with app.app_context():
        row = health.last(health.PLATFORM, world.pk["platformA"])
        assert row.state == "done" and row.status is True
    bad = client.post(url, data={"csrf_token": token, "test_address": "not an address"}, headers=HTMX)
    assert "is not a valid email address" in bad.text
    without_js = client.post(url, data={"csrf_token": token})
    assert without_js.status_code == 302 and without_js.headers["Location"].endswith("/tab/platforms")


def test_try_these_settings_saves_nothing(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-a")
    url = f"/admin/domains/{world.id('A')}/relay-try"
    with app.app_context():
        before = db.session.query(HealthReport).count()
    with smtp_server() as (sink, port):
        sink.refuse.add("nobody@a.example")
        works = client.post(url, headers=HTMX, data={"csrf_token": token, "transport_dest": "127.0.0.1",
                                                      "transport_port": str(port), "transport_type": "SMTP"})
        refused = client.post(url, headers=HTMX, data={
            "csrf_token": token, "transport_dest": "127.0.0.1", "transport_port": str(port),
            "transport_type": "SMTP", "test_address": "nobody@a.example"})
        page = client.post(url, data={"csrf_token": token, "transport_dest": "127.0.0.1",
                                      "transport_port": str(port), "transport_type": "SMTP"})
    assert works.status_code == 200 and "These settings work" in works.text and "<html" not in works.text
    assert "These settings do not work" in refused.text and "The server refused the test address." in refused.text
    assert "<html" in page.text and "These settings work" in page.text  # without JavaScript: a page of its own
    bad = client.post(url, headers=HTMX, data={"csrf_token": token, "transport_dest": "bad host\r\n",
                                                "transport_port": "25"})
    assert bad.status_code == 400 and 'class="form-error"' in bad.text
    with app.app_context():
        assert db.session.query(HealthReport).count() == before


def test_a_reader_sees_results_without_buttons(client: FlaskClient, world: World) -> None:
    _as(client, "reader-a")
    page = client.get(f"/admin/domains/{world.id('A')}/tab/platforms")
    assert page.status_code == 200 and "Relay checks" in page.text
    assert ">Check relay</button>" not in page.text and "Try these settings" not in page.text
