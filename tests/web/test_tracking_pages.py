"""The Message tracking page: the search form over a time range, each message's path with the remote answer, bad
input shown next to its field, who may open it, and the mail queue's link to it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import login
from tests.services.test_tracking import LOG, indexed_log
from tests.world import PASSWORD, World

DAY = {"start": "2026-11-28T00:00", "end": "2026-11-29T00:00"}


@pytest.fixture
def indexed(app: Flask, tmp_path: Path) -> Iterator[None]:
    hostile = ('Nov 28 11:30:00 gw postfix/qmgr[1]: 7E7E7E7E7E: from=<<script>alert(1)</script>@x>, '
               'size=1, nrcpt=1 (queue active)\n')
    with indexed_log(app, tmp_path / "mail.log", LOG + hostile):
        yield


def _signed_in(app: Flask, who: str = "root", lang: str | None = None) -> FlaskClient:
    client = app.test_client()
    assert login(client, who, PASSWORD).status_code == 302
    if lang:
        with client.session_transaction() as session:
            session["lang"] = lang.upper()
    return client


def test_search_shows_each_path(app: Flask, world: World, indexed: None) -> None:
    client = _signed_in(app)
    page = client.get("/admin/tracking", query_string={**DAY, "recipient": "carol@c.example"})
    assert page.status_code == 200
    table = page.text.split('id="tracking-table"', 1)[1]
    assert table.count("<tr>") == 2  # the header and one message
    for text in ("4F1A2B3C4D", "alice@example.org", "mail.example.org[192.0.2.1]", "abc@example.org", "Received",
                 "Filtered", "Queued", "Delivered", "Deferred", "Bounced", "Connection refused",
                 "host c.example said: 550 5.1.1 no such user", "via mx.b.example[198.51.100.2]:25"):
        assert text in table, text
    everything = client.get("/admin/tracking", query_string=DAY)
    assert "3 messages" in everything.text
    assert "alert(1)</script>" not in everything.text and "alert(1)&lt;/script&gt;@x" in everything.text
    assert 'value="2026-11-28T00:00"' in everything.text  # the range stays in the form


def test_bad_input_is_shown_by_its_field(app: Flask, world: World) -> None:
    client = _signed_in(app)
    page = client.get("/admin/tracking", query_string={"queueId": "--help", "start": "2026-01-01",
                                                        "end": "2026-06-01"})
    assert page.status_code == 400
    assert page.text.count('<small class="error">') == 2  # the queue id, and the range (longer than 31 days)
    assert 'value="--help"' in page.text


def test_who_may_open_it_and_the_queues_link(app: Flask, world: World) -> None:
    assert _signed_in(app, "broker1").get("/admin/tracking").status_code == 200
    assert _signed_in(app, "admin-a").get("/admin/tracking").status_code == 403
    nav = _signed_in(app).get("/").text
    assert nav.index('href="/admin/mailqueue"') < nav.index('href="/admin/tracking"')
    assert 'href="/admin/tracking"' not in _signed_in(app, "admin-a").get("/").text


def test_pages_of_the_results(app: Flask, world: World, indexed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Previous / Next (the offset pager the queue, the log and a search's hits share) keep the search."""
    from portal.web.admin import tracking as page_module

    monkeypatch.setattr(page_module, "PAGE_SIZE", 2)
    client = _signed_in(app)
    first = client.get("/admin/tracking", query_string=DAY)
    assert first.status_code == 200 and "Previous" not in first.text
    following = re.search(r'<a href="([^"]*offset=2[^"]*)">Next</a>', first.text)
    assert following is not None and "start=2026-11-28T00:00" in following.group(1)
    last = client.get(following.group(1).replace("&amp;", "&"))
    assert last.status_code == 200 and ">Next</a>" not in last.text
    back = re.search(r'<a href="([^"]*)">Previous</a>', last.text)
    assert back is not None and "offset=" not in back.group(1) and "start=" in back.group(1)
