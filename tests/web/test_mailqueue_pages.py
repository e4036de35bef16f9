"""The Mail queue page against a private Postfix: counts, filters, the self-refreshing part, bulk actions, the
message view; no Postfix: the page says so (503); who sees the link."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import csrf_token, login
from tests.services_runtime import PostfixQueue, postfix_configured, postfix_queue
from tests.world import PASSWORD, World


@pytest.fixture(scope="module")
def postfix() -> Iterator[PostfixQueue]:
    with postfix_queue() as instance:
        yield instance


@pytest.fixture(autouse=True)
def _configured(app: Flask, postfix: PostfixQueue) -> Iterator[None]:
    with postfix_configured(app, postfix):
        yield


def _signed_in(app: Flask, who: str = "root", lang: str | None = None) -> FlaskClient:
    client = app.test_client()
    assert login(client, who, PASSWORD).status_code == 302
    if lang:
        with client.session_transaction() as session:
            session["lang"] = lang.upper()
    return client


def _act(client: FlaskClient, action: str, ids: list[str] | None = None, **extra: str) -> str:
    token = csrf_token(client.get("/account").text)
    answer = client.post("/admin/mailqueue",
                         data={"csrf_token": token, "action": action, "ids": ids or [], **extra})
    assert answer.status_code == 302
    return client.get(answer.headers["Location"]).text


def test_the_page_lists_counts_and_filters(app: Flask, world: World, postfix: PostfixQueue) -> None:
    postfix.inject("alice@a.example", ["bob@b.example"], count=2)
    postfix.inject("carol@c.example", ["dave@d.example"])
    entries = postfix.deferred(3)
    client = _signed_in(app, "broker1")
    page = client.get("/admin/mailqueue")
    assert page.status_code == 200
    assert all(e["queue_id"] in page.text for e in entries)
    assert 'id="mailqueue-counts"' in page.text and "deferred</a>: <strong>3</strong>" in page.text
    assert 'hx-trigger="every 10s"' in page.text and "data-pause-when-checked" in page.text
    assert 'data-select-all="ids"' in page.text and page.text.count("data-confirm=") >= 8
    assert 'href="/admin/mailqueue"' in page.text  # the sidebar's link
    filtered = client.get("/admin/mailqueue?sender=carol*", headers={"HX-Request": "true"})
    assert filtered.status_code == 200
    assert "carol@c.example" in filtered.text and "alice@a.example" not in filtered.text
    assert "<html" not in filtered.text  # the polled part only
    bad = client.get("/admin/mailqueue?minAge=soon")
    assert bad.status_code == 200 and 'class="error"' in bad.text


def test_bulk_actions_and_the_message_view(app: Flask, world: World, postfix: PostfixQueue) -> None:
    postfix.inject("alice@a.example", ["bob@b.example"], subject="Очередь", count=3)
    ids = sorted(e["queue_id"] for e in postfix.deferred(3))
    client = _signed_in(app, "root", lang="ru")
    after = _act(client, "hold", ids[:2])
    assert 'class="flash' in after and 'lang="ru"' in after
    assert sorted(e["queue_id"] for e in postfix.queue() if e["queue_name"] == "hold") == ids[:2]
    _act(client, "release", ids[:1])
    view = client.get(f"/admin/mailqueue/{ids[2]}")
    assert view.status_code == 200 and "body " in view.text
    assert 'id="message-headers"' in view.text and "Subject:" in view.text
    _act(client, "delete", [ids[2]], next=f"/admin/mailqueue/{ids[2]}")
    assert ids[2] not in [e["queue_id"] for e in postfix.queue()]
    assert client.get(f"/admin/mailqueue/{ids[2]}").status_code == 404
    _act(client, "delete_held")
    assert [e["queue_id"] for e in postfix.queue()] == [ids[0]]
    _act(client, "clear_all")
    assert postfix.queue() == []
    refused = _act(client, "hold")  # nothing selected: said, nothing run
    assert 'class="flash' in refused


def test_without_postfix_the_page_says_so(app: Flask, world: World, tmp_path: os.PathLike[str]) -> None:
    app.config["POSTFIX_BIN"] = str(tmp_path)
    client = _signed_in(app, "root", lang="ru")
    page = client.get("/admin/mailqueue")
    assert page.status_code == 503 and 'id="mailqueue-down"' in page.text
    english = _signed_in(app, "root").get("/admin/mailqueue")
    assert "The mail queue is not available here." in english.text


@pytest.mark.parametrize(("who", "sees"), [("root", True), ("broker1", True), ("customer1", False),
                                           ("admin-a", False)])
def test_who_sees_the_queue(app: Flask, world: World, who: str, sees: bool) -> None:
    client = _signed_in(app, who)
    assert ('href="/admin/mailqueue"' in client.get("/").text) == sees
    assert client.get("/admin/mailqueue").status_code == (200 if sees else 403)
