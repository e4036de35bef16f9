"""Message tracking on a 390 px phone: a message's path with a long remote answer does not scroll the page
sideways; the mail queue's "track" link opens the message's tracking."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.e2e.test_phone import _overflow
from tests.services.test_tracking import LOG, indexed_log
from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser

LONG = ("Nov 28 09:56:05 gw postfix/smtp[126]: 4F1A2B3C4D: to=<a-very-long-recipient-name-of-someone@another.long."
        "b.example>, relay=a-very-long-relay-host-name.another.long.b.example[198.51.100.2]:25, delay=1, dsn=4.7.1, "
        "status=deferred (host a-very-long-relay-host-name.another.long.b.example said: 450-4.7.1 "
        "Service_temporarily_unavailable_because_of_a_very_long_reason_without_spaces_at_all (in reply to RCPT TO))\n")


def test_tracking_fits_a_phone(app: Flask, phone: Page, live_url: str, world: World, tmp_path: Path) -> None:
    with indexed_log(app, tmp_path / "mail.log", LOG + LONG):
        phone.goto(f"{live_url}/login")
        phone.fill("#f-login", "root")
        phone.fill("#f-password", PASSWORD)
        phone.click("button[type=submit]:has-text('Log in')")
        expect(phone.locator("h1")).to_contain_text("Welcome")
        response = phone.goto(f"{live_url}/admin/tracking?start=2026-11-28T00:00&end=2026-11-29T00:00")
        assert response is not None and response.status == 200
        expect(phone.locator("#tracking-table tbody tr")).to_have_count(2)
        expect(phone.locator("#tracking-table")).to_contain_text("Service_temporarily_unavailable")
        assert _overflow(phone) == 0
        phone.fill("input[name=queueId]", "4F1A2B3C4D")
        phone.fill("input[name=recipient]", "*long*")
        phone.click("#tracking-filters button[type=submit]")
        expect(phone.locator("#tracking-table tbody tr")).to_have_count(1)
        assert _overflow(phone) == 0
