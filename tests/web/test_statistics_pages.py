"""The dashboard's statistics: SVG charts whose numbers match their tables, CSV, the date range (bad input named
next to the field), tenancy; and GET /api/statistics with the same numbers."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from portal.clock import utcnow
from portal.extensions import db
from portal.services import statistics
from tests.conftest import login
from tests.world import PASSWORD, World


def _numbers(app: Flask, world: World) -> None:
    today = utcnow().date()
    with app.app_context():
        a, b = world.pk["A"], world.pk["B"]
        for back, reason, n in ((1, "SPAM", 4), (1, "VIRUS", 1), (2, "SPAM", 2), (5, "ADVERT", 3)):
            statistics.count(a, statistics.HELD, reason, sender="spammer@bad.example", n=n,
                             day=today - timedelta(days=back))
        statistics.count(a, statistics.RELEASED, sender="friend@ok.example", n=2, day=today - timedelta(days=1))
        statistics.count(b, statistics.HELD, "SPAM", sender="only-b@secret.example", n=9, day=today - timedelta(days=1))
        statistics.count(a, statistics.HELD, "SPAM", n=50, day=today - timedelta(days=60))  # outside the default
        db.session.commit()


def _page(client: FlaskClient, who: str, query: str = "") -> tuple[int, str]:
    assert login(client, who, PASSWORD).status_code == 302
    page = client.get("/" + query)
    return page.status_code, page.text


def _section(html: str, start: str, end: str) -> str:
    return html[html.index(start):html.index(end, html.index(start))]


def test_charts_draw_the_numbers_of_their_tables(app: Flask, client: FlaskClient, world: World) -> None:
    _numbers(app, world)
    status, html = _page(client, "admin-a")
    assert status == 200
    held = _section(html, 'id="chart-held"', "</svg>")
    assert 'role="img"' in _section(html, "<svg viewBox", ">") and "<title id=\"chart-held-title\">" in held
    bars = [int(v) for v in re.findall(r'<rect class="chart-bar series-\d" [^>]*data-value="(\d+)"', held)]
    table = _section(html, 'id="table-held"', "</table>")
    cells = [int(v) for v in re.findall(r'<td data-series="\d+" data-value="(\d+)"', table)]
    assert sorted(bars) == sorted(v for v in cells if v) == [1, 2, 3, 4]
    assert 'data-kind="held">10<' in html and 'data-kind="released">2<' in html
    released = _section(html, 'id="chart-released"', "</svg>")
    assert re.findall(r'data-value="(\d+)"', released) == ["2"]
    assert "spammer@bad.example" in html and "friend@ok.example" in html
    assert "only-b@secret.example" not in html and "b.example" not in _section(html, 'id="table-domains"',
                                                                                "</table>")
    assert "fill=" not in held and "style=" not in held  # coloured by the stylesheet (brand variables, CSP)


def test_a_customer_sees_its_domains(app: Flask, client: FlaskClient, world: World) -> None:
    _numbers(app, world)
    status, html = _page(client, "customer1")
    domains = _section(html, 'id="table-domains"', "</table>")
    assert status == 200 and domains.index("a.example") < domains.index("b.example")  # 10 held before 9
    assert "only-b@secret.example" in html


def test_one_domain_of_the_scope(app: Flask, client: FlaskClient, world: World) -> None:
    _numbers(app, world)
    status, html = _page(client, "customer1", f"?domain={world.id('B')}")
    assert status == 200 and 'data-kind="held">9<' in html and "spammer@bad.example" not in html
    assert f'<option value="{world.id("B")}" selected>b.example</option>' in html
    assert "c.example" not in _section(html, 'id="f-domain"', "</select>")
    got = client.get(f"/?domain={world.id('C')}")  # another customer's: refused, the whole scope shown
    assert got.status_code == 400 and 'id="e-domain"' in got.text and 'data-kind="held">19<' in got.text
    csv_b = client.get(f"/?domain={world.id('B')}&export=csv&table=domains")
    assert list(csv.reader(io.StringIO(csv_b.text))) == [["domain", "held"], ["b.example", "9"]]


def test_csv_export_of_the_numbers(app: Flask, client: FlaskClient, world: World) -> None:
    _numbers(app, world)
    today = utcnow().date()
    _page(client, "admin-a")
    start, end = (today - timedelta(days=6)).isoformat(), today.isoformat()
    got = client.get(f"/?from={start}&to={end}&export=csv&table=daily")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert len(rows) == 7 and list(rows[0]) == ["day", "held", "SPAM", "VIRUS", "ADVERT", "released"]
    yesterday = next(r for r in rows if r["day"] == (today - timedelta(days=1)).isoformat())
    assert (yesterday["held"], yesterday["SPAM"], yesterday["VIRUS"], yesterday["released"]) == ("5", "4", "1", "2")
    senders = client.get(f"/?from={start}&to={end}&export=csv&table=held_senders")
    assert list(csv.reader(io.StringIO(senders.text))) == [["sender", "count"], ["spammer@bad.example", "10"]]


def test_a_bad_range_is_named_next_to_its_field(app: Flask, client: FlaskClient, world: World) -> None:
    _numbers(app, world)
    status, html = _page(client, "admin-a", "?from=2026-02-30&to=")
    assert status == 400 and 'id="e-from"' in html and "YYYY-MM-DD" in html and 'aria-invalid="true"' in html

    def get(query: str) -> tuple[int, str]:
        page = client.get("/" + query)
        return page.status_code, page.text

    status, html = get("?from=2020-01-01&to=2020-01-01")
    assert status == 200 and 'id="chart-held"' in html and "<rect" not in _section(html, 'id="chart-held"', "</svg>")
    assert get("?from=2026-02-30&export=csv")[0] == 400  # no CSV of a range that is not one
    today = utcnow().date()
    later = (today + timedelta(days=3)).isoformat()
    status, html = get(f"?from={today.isoformat()}&to={later}")
    assert status == 400 and 'id="e-to"' in html
    status, html = get(f"?from={today.isoformat()}&to={(today - timedelta(days=2)).isoformat()}")
    assert status == 400 and 'id="e-from"' in html
    status, html = get(f"?from={(today - timedelta(days=500)).isoformat()}")
    assert status == 400 and "at most 400 days" in html


def test_translated_page(app: Flask, client: FlaskClient, world: World) -> None:
    _numbers(app, world)
    assert login(client, "admin-a", PASSWORD).status_code == 302
    page = client.get("/", headers={"Accept-Language": "fr"})
    assert page.status_code == 200 and 'id="chart-held"' in page.text


def test_api_gives_the_same_numbers(app: Flask, client: FlaskClient, world: World) -> None:
    _numbers(app, world)
    today = utcnow().date()
    got = client.get("/api/statistics", headers=world.headers("domainA"))
    assert got.status_code == 200
    body = got.json
    assert body["to"] == today.isoformat() and len(body["days"]) == statistics.DEFAULT_DAYS
    yesterday = next(d for d in body["days"] if d["day"] == (today - timedelta(days=1)).isoformat())
    assert yesterday == {"day": yesterday["day"], "held": 5, "heldByReason": {"SPAM": 4, "VIRUS": 1}, "released": 2}
    assert body["totals"] == {"held": 10, "released": 2, "deleted": 0, "rulesAdded": 0, "digestsSent": 0}
    assert body["topHeldSenders"] == [{"sender": "spammer@bad.example", "count": 10}]
    assert body["topDomains"] == [{"domainId": world.id("A"), "name": "a.example", "held": 10}]
    both = client.get("/api/statistics", headers=world.headers("customer")).json
    assert both["totals"]["held"] == 19
    only_b = client.get(f"/api/statistics?domainId={world.id('B')}", headers=world.headers("customer")).json
    assert only_b["totals"]["held"] == 9
    assert client.get(f"/api/statistics?domainId={world.id('B')}", headers=world.headers("domainA")).status_code == 404
    bad = client.get("/api/statistics?from=yesterday", headers=world.headers("domainA"))
    assert bad.status_code == 400 and bad.json["errors"][0]["field"] == "from"
    assert client.get("/api/statistics", headers=world.headers("enduser")).status_code == 403
