"""A person in a real browser: log in, create an admin, search, create and revoke a token."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser


def test_admin_journey(page: Page, live_url: str, world: World) -> None:
    page.goto(f"{live_url}/admin/admins")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fadmin%2Fadmins"))
    page.fill("#f-login", "root")
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    expect(page.locator("h1")).to_have_text("Administrators")

    page.click("text=New administrator")
    page.fill("#f-login", "newbie")
    page.fill("#f-display_name", "New Bie")
    page.fill("#f-email", "newbie@a.example")
    page.fill("#f-password", "short")
    page.select_option("select[name=object_type]", "DOMAIN")
    page.fill("input[name=object_name]", "a.example")
    page.check("input[name=permissions][value=DOMAIN_READ]")
    page.click("button:has-text('Create')")
    expect(page.locator("#e-password")).to_contain_text("at least 10 characters")
    expect(page.locator("#f-login")).to_have_value("newbie")  # input kept on error
    page.fill("#f-password", "a long enough password")
    page.check("input[name=permissions][value=DOMAIN_READ]")
    page.click("button:has-text('Create')")
    expect(page.locator("h1")).to_contain_text("newbie")
    expect(page.locator("table")).to_contain_text("a.example")

    page.goto(f"{live_url}/admin/admins")  # a full load: htmx has wired the search box
    page.locator("#search").press_sequentially("*newb*")
    expect(page.locator("#admins-total")).to_have_text("1 administrator")  # HTMX live search
    expect(page).to_have_url(re.compile(r"search=\*newb\*"))

    page.click("nav >> text=API tokens")
    page.fill("#f-name", "e2e token")
    page.click("button:has-text('Create token')")
    expect(page.locator("#token-value")).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
    row = page.locator("#tokens tr", has_text="e2e token")
    expect(row).to_have_count(1)
    row.locator("button:has-text('Revoke')").click()
    expect(page.locator("#tokens tr", has_text="e2e token")).to_have_count(0)
    expect(page.locator(".flash")).to_contain_text("revoked")

    violations = [m for m in page.console_messages_seen if "Content Security Policy" in m or "Refused" in m]
    assert violations == []


def test_totp_enrolment_shows_a_qr_code(page: Page, live_url: str, world: World) -> None:
    page.goto(f"{live_url}/login")
    page.fill("#f-login", "admin-a")
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    page.goto(f"{live_url}/account/security")
    image = page.locator("img[alt*='QR']")
    expect(image).to_be_visible()
    assert page.evaluate("document.querySelector('img').naturalWidth") > 0
