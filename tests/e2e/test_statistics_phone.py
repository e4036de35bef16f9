"""The dashboard's statistics in a browser: charts scale to a 390 px phone (the page never scrolls sideways, the
tables scroll inside their wrapper), the table view opens, and the bars take the brand colour."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal.clock import utcnow
from portal.extensions import db
from portal.services import statistics
from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser


def _numbers(app: Flask, world: World) -> None:
    today = utcnow().date()
    with app.app_context():
        for back in range(1, 30):
            for n, reason in enumerate(("SPAM", "VIRUS", "ADVERT", "BLACKLISTED", "BAD_HEADERS", "BAD_ENCODING",
                                        "BAD_ATTACHMENTS", "SENDER_VERIFY", "OTHER")):
                statistics.count(world.pk["A"], statistics.HELD, reason, n=(back * 7 + n * 3) % 40 + 1,
                                 sender=f"a-rather-long-sender-name-{n}@some-spammy-domain.example",
                                 day=today - timedelta(days=back))
            statistics.count(world.pk["A"], statistics.RELEASED, n=back % 5, sender="friend@ok.example",
                             day=today - timedelta(days=back))
        db.session.commit()


def _sign_in(page: Page, live_url: str) -> None:
    page.goto(f"{live_url}/login")
    page.fill("#f-login", "admin-a")
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    expect(page.locator("h1")).to_contain_text("Welcome")


def test_statistics_fit_a_phone(app: Flask, phone: Page, live_url: str, world: World) -> None:
    _numbers(app, world)
    _sign_in(phone, live_url)
    expect(phone.locator("#chart-held")).to_be_visible()
    width = phone.evaluate("window.innerWidth")
    assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    for chart in ("#chart-held", "#chart-released", "#chart-held_senders"):
        box = phone.locator(chart).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (chart, box)
    phone.click("#table-held summary")
    expect(phone.locator("#table-held table")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    fill = phone.evaluate("getComputedStyle(document.querySelector('#chart-held rect.chart-bar')).fill")
    brand = phone.evaluate("getComputedStyle(document.documentElement).getPropertyValue("
                           "'--pico-primary-background').trim()")
    assert fill and fill != "rgb(0, 0, 0)" and brand
    if os.environ.get("POSTERN_SCREENSHOTS"):
        phone.screenshot(path=os.path.join(os.environ["POSTERN_SCREENSHOTS"], "statistics-phone.png"), full_page=True)


def test_bad_range_in_the_browser(app: Flask, page: Page, live_url: str, world: World) -> None:
    _numbers(app, world)
    _sign_in(page, live_url)
    page.fill("#f-from", "2026-01-10")
    page.fill("#f-to", "2026-01-01")
    page.click(".stats-range button[type=submit]")
    expect(page.locator("#e-from")).to_be_visible()
    if os.environ.get("POSTERN_SCREENSHOTS"):
        page.goto(live_url + "/")
        page.click("#table-held summary")
        page.screenshot(path=os.path.join(os.environ["POSTERN_SCREENSHOTS"], "statistics-desktop.png"),
                        full_page=True)
