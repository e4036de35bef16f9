"""A system administrator in a real browser: add a mail server pointing at an aiosmtpd sink, check it (the
transcript appears), send a test mail, and the sink has it (issue 12)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.services_runtime import smtp_server
from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser


def test_mailserver_journey(page: Page, live_url: str, world: World) -> None:
    with smtp_server() as (sink, port):
        page.goto(f"{live_url}/login")
        page.fill("#f-login", "root")
        page.fill("#f-password", PASSWORD)
        page.click("button[type=submit]:has-text('Log in')")
        page.click("nav >> text=Mail servers")
        expect(page.locator("h1")).to_have_text("Mail servers")
        expect(page.locator("#mailservers")).to_contain_text("Loopback relay")  # the world's server

        page.click("text=Add a mail server")
        # the fields follow the choices: no password without authentication, OAuth fields only for OAuth
        expect(page.locator("#f-password")).to_be_hidden()
        page.select_option("#f-auth", "USERNAME_PASSWORD")
        expect(page.locator("#f-password")).to_be_visible()
        expect(page.locator("#f-oauth_client_id")).to_be_hidden()
        page.select_option("#f-auth", "NO_AUTH")
        expect(page.locator("#f-certificate_pem")).to_be_hidden()
        page.fill("#f-name", "Sink")
        page.fill("#f-host", "127.0.0.1")
        page.fill("#f-port", str(port))
        page.select_option("#f-security", "NONE")
        page.fill("#f-sender_name", "Postern test")
        page.fill("#f-sender_address", "postern@example.org")
        page.click("button:has-text('Add')")
        expect(page.locator("h1")).to_contain_text("Sink")
        expect(page.locator(".flash")).to_contain_text("Mail server Sink added.")
        expect(page.locator("#check-result")).to_contain_text("Never checked.")

        page.click("#check-button")
        expect(page.locator("#check-result .badge")).to_have_text("ok")
        expect(page.locator("#check-transcript")).to_contain_text("220")
        expect(page).to_have_url(re.compile(r"/admin/mailservers/[^/]+$"))  # swapped in place, no navigation

        page.fill("#f-to", "someone@example.org")
        page.click("#test-mail-button")
        expect(page.locator("#test-mail-result")).to_contain_text("sent")
        assert [rcpt for _from, rcpt, _data in sink.messages] == [["someone@example.org"]]
        assert b"Postern test" in sink.messages[0][2]

        page.click("nav >> text=Mail servers")
        row = page.locator("#mailservers tr", has_text="Sink")
        expect(row).to_contain_text(f"127.0.0.1:{port}")
        expect(row.locator(".badge-enabled").first).to_have_text("ok")  # the last check, kept

    violations = [m for m in page.console_messages_seen if "Content Security Policy" in m or "Refused" in m]
    assert violations == []
