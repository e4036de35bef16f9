"""Filter services on a 390 px phone, against a real clamd and spamd: the cards fit, the self-test button swaps
its card (HTMX), Stop asks first (dismissed: nothing runs; accepted: the command runs and its outcome is flashed)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.api.test_filter_services_api import clamd_address, settings, spamd_address  # noqa: F401 (fixtures)
from tests.e2e.test_phone import _overflow
from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser


def test_service_cards_on_a_phone(app: Flask, phone: Page, live_url: str, world: World, tmp_path: Path,
                                  clamd_address: str, spamd_address: str) -> None:  # noqa: F811
    marker = tmp_path / "stopped"
    stop = f"sh -c {shlex.quote(f'echo clamd stopping; touch {shlex.quote(str(marker))}')}"
    with settings(app, CLAMD=clamd_address, SPAMD=spamd_address, CLAMAV_STOP=stop):
        phone.goto(f"{live_url}/login")
        phone.fill("#f-login", "root")
        phone.fill("#f-password", PASSWORD)
        phone.click("button[type=submit]:has-text('Log in')")
        expect(phone.locator("h1")).to_contain_text("Welcome")
        response = phone.goto(f"{live_url}/admin/services")
        assert response is not None and response.status == 200
        expect(phone.locator("#service-spamassassin")).to_contain_text("Not run yet.")
        assert _overflow(phone) == 0
        phone.click("#service-spamassassin button:has-text('Run the self-test')")
        expect(phone.locator("#service-spamassassin")).to_contain_text("GTUBE: spam=True")
        expect(phone.locator("#service-spamassassin")).to_contain_text("SPAMD/1.5")
        assert _overflow(phone) == 0

        phone.once("dialog", lambda dialog: dialog.dismiss())
        phone.click("#service-clamav button:has-text('Stop')")
        expect(phone.locator("#service-clamav")).to_contain_text("running")
        assert not marker.exists()  # dismissed: nothing ran
        phone.once("dialog", lambda dialog: dialog.accept())
        phone.click("#service-clamav button:has-text('Stop')")
        expect(phone.locator("body")).to_contain_text("the stop command ran. clamd stopping")
        assert marker.exists()
        assert _overflow(phone) == 0
