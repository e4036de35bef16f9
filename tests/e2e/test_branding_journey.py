"""The brand in chromium: the domain's colour styles the login page and the portal (Pico's variables from
/brand/<colour>.css), its logo loads from its own origin, and the CSP reports no violation."""

from __future__ import annotations

import base64

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.models import OptionValue
from portal.options import Scope
from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser

LOGO = "https://cdn.brand.example/acme/logo.png"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                       "AAAABJRU5ErkJggg==")
INSTALLATION = "#1a78ca"  # the default #1e88e5, darkened until white text reads on it
LISTEN = ("window.__violations = [];"
          "document.addEventListener('securitypolicyviolation',"
          " (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));")


def _primary_becomes(page: Page, colour: str) -> None:
    """Wait until Pico's primary colour is `colour` (the brand's stylesheet may still be loading; a timeout fails)."""
    page.wait_for_function(
        "c => getComputedStyle(document.documentElement).getPropertyValue('--pico-primary-background').trim() === c",
        arg=colour, timeout=10_000)


def test_the_domains_brand_in_a_browser(app: Flask, page: Page, live_url: str, world: World) -> None:
    with app.app_context():
        db.session.add_all([
            OptionValue(scope=str(Scope.DOMAIN), object_id=world.pk["A"], name="BRAND_COLOR", value="#6a1b9a"),
            OptionValue(scope=str(Scope.DOMAIN), object_id=world.pk["A"], name="LOGO_URL", value=LOGO),
        ])
        db.session.commit()
    page.add_init_script(LISTEN)
    page.route(LOGO, lambda route: route.fulfill(status=200, content_type="image/png", body=PNG))

    page.goto(f"{live_url}/me/login")
    _primary_becomes(page, INSTALLATION)
    page.goto(f"{live_url}/me/login?domain=a.example")
    _primary_becomes(page, "#6a1b9a")
    button = page.locator("main button[type=submit]")
    expect(button).to_have_css("background-color", "rgb(106, 27, 154)")
    expect(button).to_have_css("color", "rgb(255, 255, 255)")
    logo = page.locator("img.brand-logo")
    expect(logo).to_have_attribute("src", LOGO)
    page.wait_for_load_state("load")
    assert page.evaluate("document.querySelector('img.brand-logo').naturalWidth") > 0  # the CSP let it load

    page.fill("#f-email", "user@a.example")
    page.fill("#f-password", PASSWORD)
    button.click()
    expect(page).to_have_url(f"{live_url}/me/")
    _primary_becomes(page, "#6a1b9a")
    page.wait_for_load_state("load")
    assert page.evaluate("document.querySelector('img.brand-logo').naturalWidth") > 0
    assert page.evaluate("window.__violations") == []

    page.locator("details.account-menu summary").click()  # the account menu holds the log-out button
    page.locator("details.account-menu button", has_text="Log out").click()  # boosted: the body is swapped, not <head>
    expect(page).to_have_url(f"{live_url}/me/login")
    expect(page.locator("main button[type=submit]")).to_have_css("background-color", "rgb(26, 120, 202)")
    _primary_becomes(page, INSTALLATION)
    assert page.locator("img.brand-logo").count() == 0
