"""Diagnostics on a 390 px phone: the Health tab with a failing report (long DKIM keys, SPF lines) and the DNS
records page do not scroll sideways; a copy button selects or copies the record's value."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.models import DkimKey
from portal.services import domain_health, health
from tests.e2e.test_phone import _overflow
from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser

KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "x" * 340


def test_health_pages_fit_a_phone(app: Flask, phone: Page, live_url: str, world: World) -> None:
    with app.app_context():
        db.session.add(DkimKey(domain_id=world.pk["A"], selector="protect", state="active", private_key_enc="x",
                               public_key=KEY))
        entries = [domain_health.Entry(kind, result, ["Lookup for x", "Found: v=spf1 " + "include:a.example " * 12])
                   for kind, result in (("MX", "ERROR_MX_MISSING_ENTRY"), ("DKIM", "ERROR_DKIM_INVALID_COUPLE"),
                                        ("SPF", "ERROR_SPF_TOO_MANY_LOOKUPS"), ("DMARC", "WARNING_DMARC_POLICY_NONE"),
                                        ("MTA_STS", "OK"), ("TLSRPT", "WARNING_TLSRPT_MISSING_ENTRY"))]
        health.record(health.DOMAIN, world.pk["A"], domain_health.report_of(entries))
        db.session.commit()
    phone.goto(f"{live_url}/login")
    phone.fill("#f-login", "admin-a")
    phone.fill("#f-password", PASSWORD)
    phone.click("button[type=submit]:has-text('Log in')")
    expect(phone.locator("h1")).to_contain_text("Welcome")
    wide = {}
    for path in (f"/admin/domains/{world.id('A')}/tab/health", f"/admin/domains/{world.id('A')}/dns", "/"):
        response = phone.goto(live_url + path)
        assert response is not None and response.status == 200, path
        wide[path] = _overflow(phone)
    assert {path: px for path, px in wide.items() if px > 0} == {}
    phone.goto(f"{live_url}/admin/domains/{world.id('A')}/tab/health")
    expect(phone.locator("#check-DKIM")).to_contain_text("protect._domainkey.a.example.")
    phone.click("#check-DKIM button[data-copy^='#dns-value']")  # the value is selected (and copied)
    assert KEY in phone.evaluate("window.getSelection().toString()")
