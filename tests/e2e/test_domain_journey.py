"""A sysadmin in a real browser: create a domain (skipping the MX check), alias, policy, user,
then soft-delete the domain and revert the deletion."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.services_runtime import dns_server
from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser


def test_domain_journey(app: Flask, page: Page, live_url: str, world: World) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    with dns_server("elsewhere.example. 300 IN MX 10 mx.elsewhere.test.\n") as server:
        app.config.update(GATEWAY_MX_HOSTS=["mx.gateway.test"], DNS_SERVERS=[server], DNS_TIMEOUT=2.0)
        try:
            page.goto(f"{live_url}/login")
            page.fill("#f-login", "root")
            page.fill("#f-password", PASSWORD)
            page.click("button[type=submit]:has-text('Log in')")
            expect(page.locator("h1")).to_contain_text("Welcome")

            page.goto(f"{live_url}/admin/domains/new")
            page.fill("#f-name", "journey.example")
            page.select_option("#f-customer_id", label="Customer One")
            page.fill("#f-transport_dest", "mx.journey.example")
            page.click("button:has-text('Create domain')")
            expect(page.locator(".form-error, .field-error").first).to_contain_text("does not point to this gateway")
            page.check("input[name=ignore_mx]")
            page.click("button:has-text('Create domain')")
            expect(page.locator("h1")).to_contain_text("journey.example")
        finally:
            app.config.update(GATEWAY_MX_HOSTS=[], DNS_SERVERS=[])

    page.click("nav.tabs >> text=Aliases")
    page.fill("#f-alias", "journey-alias.example")
    page.click("button:has-text('Add alias')")
    expect(page.locator("#aliases")).to_contain_text("journey-alias.example")

    page.click("nav.tabs >> text=Policies")
    page.click("text=New policy")
    page.fill("input[name=name]", "Journey strict")
    page.fill("input[name=spamScore]", "4")
    page.fill("input[name='relayProps.spamScoreLimit']", "3")
    page.click("button:has-text('Save policy')")
    expect(page.locator("input[name='relayProps.spamScoreLimit'] + small")).to_contain_text("must not be below")
    page.fill("input[name='relayProps.spamScoreLimit']", "8")
    page.click("button:has-text('Save policy')")
    expect(page.locator("#policies")).to_contain_text("Journey strict")

    page.click("nav.tabs >> text=Users")
    page.click("summary:has-text('New user')")
    page.fill("input[name=local_part]", "walker")
    page.fill("#f-firstname", "Walker")
    page.click("button:has-text('Create user')")
    expect(page.locator("h1")).to_contain_text("walker@journey.example")

    page.click("nav[aria-label=Breadcrumb] >> text=journey.example")
    page.click("text=Delete the domain…")
    page.click("button:has-text('Delete')")
    expect(page.locator("#deleted-banner")).to_contain_text("It will be purged on")
    page.click("button:has-text('Revert the deletion')")
    expect(page.locator("#deleted-banner")).to_have_count(0)
    expect(page.locator("h1 .badge")).to_have_text("Enabled")
    expect(page).to_have_url(re.compile(r"/tab/settings$"))
