"""The help desk's quarantine search page: the form, refusals shown beside the fields, the results page (full
page, or the live part for HTMX), hits that open the user's message page, cancel."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import QuarantineSearch
from tests.conftest import csrf_token, login
from tests.world import PASSWORD, World


def _search(client: FlaskClient, **form: str) -> tuple[int, str, str]:
    page = client.get("/admin/quarantine/search")
    assert page.status_code == 200
    response = client.post("/admin/quarantine/search", data={"csrf_token": csrf_token(page.text), **form})
    response.close()  # the answer is sent: the in-process job runs now, as under a server
    return response.status_code, response.headers.get("Location", ""), response.text


def test_a_helpdesk_admin_finds_a_held_message_across_the_domain(app: Flask, client: FlaskClient,
                                                                 world: World) -> None:
    login(client, "admin-a", PASSWORD)
    form = client.get("/admin/quarantine/search").text
    assert 'name="domainId"' in form and f'value="{world.id("A")}"' in form
    assert f'value="{world.id("C")}"' not in form  # not admin-a's
    status, location, _ = _search(client, sender="bad.example", domainId=world.id("A"))
    assert status == 302 and re.search(r"/admin/quarantine/search/[\w-]+$", location)
    page = client.get(location)
    assert page.status_code == 200 and "<nav" in page.text and 'id="qsearch-live"' in page.text
    assert "2 of 2 mailboxes searched" in page.text and "hx-trigger" not in page.text  # done: no more polling
    links = re.findall(r'href="(/admin/users/[^"]+/quarantine/message\?id=[^"]+)"', page.text)
    assert len(links) == 2 and "offer 0" in page.text and "offer 1" in page.text
    message = client.get(links[0].replace("&amp;", "&"))
    assert message.status_code == 200 and "Release" in message.text
    live = client.get(location, headers={"HX-Request": "true"})
    assert live.status_code == 200
    assert "<nav" not in live.text and 'id="qsearch-live"' in live.text


def test_refusals_are_shown_beside_the_fields(client: FlaskClient, world: World) -> None:
    login(client, "admin-a", PASSWORD)
    status, _, text = _search(client)
    assert status == 422 and "Give at least one criterion" in text
    status, _, text = _search(client, sender="x", receivedAfter="2025-01-01", receivedBefore="2025-12-31")
    assert status == 422 and "too wide" in text
    status, _, text = _search(client, sender="x", receivedAfter="yesterday")
    assert status == 400 and "YYYY-MM-DD" in text


def test_a_running_search_polls_and_can_be_cancelled(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        search = db.session.get(QuarantineSearch, "qsearchA")
        search.state, search.mailboxes_done, search.finished_at = "RUNNING", 1, None
        db.session.commit()
    login(client, "admin-a", PASSWORD)
    page = client.get("/admin/quarantine/search/qsearchA")
    assert 'hx-trigger="every 2s"' in page.text and "1 of 2 mailboxes searched" in page.text
    cancelled = client.post("/admin/quarantine/search/qsearchA/cancel", data={"csrf_token": csrf_token(page.text)})
    assert cancelled.status_code == 302
    page = client.get("/admin/quarantine/search/qsearchA")
    assert "Cancelled" in page.text and "hx-trigger" not in page.text and "qsearch-cancel" not in page.text


def test_another_admins_search_is_not_found(app: Flask, world: World) -> None:
    customer, reader = app.test_client(), app.test_client()
    login(customer, "customer1", PASSWORD)
    assert customer.get("/admin/quarantine/search/qsearchA").status_code == 404
    login(reader, "reader-a", PASSWORD)
    assert reader.get("/admin/quarantine/search").status_code == 403
