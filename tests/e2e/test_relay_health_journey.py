"""A domain administrator on a 390 px phone, in a real browser: the Platforms tab's relay card, *Check relay*
(progress, then the result swapped in place), a failing relay with its fix, and *Try these settings* — nothing
scrolls sideways."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from portal.extensions import db
from portal.models import Platform
from tests.services_runtime import smtp_server
from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser: Browser) -> Page:  # type: ignore[misc]
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def _overflow(page: Page) -> int:
    return page.evaluate("""Math.max(document.documentElement.scrollWidth - window.innerWidth,
        ...[...document.querySelectorAll('.table-wrap')].map(e => e.scrollWidth - e.clientWidth))""")


def test_relay_checks_on_a_phone(app: Flask, phone: Page, live_url: str, world: World) -> None:
    with smtp_server() as (sink, port):
        sink.refuse.add("nobody@a.example")
        with app.app_context():
            db.session.get(Platform, world.pk["platformA"]).transport_port = port
            db.session.commit()
        phone.goto(f"{live_url}/login")
        phone.fill("#f-login", "admin-a")
        phone.fill("#f-password", PASSWORD)
        phone.click("button[type=submit]:has-text('Log in')")
        phone.goto(f"{live_url}/admin/domains/{world.id('A')}/tab/platforms")
        card = phone.locator(f"#relay-health-{world.id('platformA')}")
        expect(card).to_contain_text("Working")  # the world's last report
        assert _overflow(phone) == 0

        card.locator("input[name=test_address]").fill("nobody@a.example")
        card.get_by_role("button", name="Check relay").click()
        card = phone.locator(f"#relay-health-{world.id('platformA')}")
        expect(card).to_contain_text("Failing")
        expect(card).to_contain_text("Test address refused")
        expect(card).to_contain_text("The server refused the test address.")
        assert phone.url.endswith("/tab/platforms")  # swapped in place
        assert not sink.messages
        assert _overflow(phone) == 0

        phone.locator("summary", has_text="Add or change a platform").click()
        phone.fill("#f-transport_dest", "127.0.0.1")
        phone.fill("#f-transport_port", str(port))
        phone.get_by_role("button", name="Try these settings").click()
        expect(phone.locator("#relay-try-result")).to_contain_text("These settings work")
        expect(phone.locator("#relay-try-result")).to_contain_text("Nothing was saved.")
        assert _overflow(phone) == 0
