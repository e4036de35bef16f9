"""A help-desk admin in chromium finds a held message across the domain and releases it; the results as cards
on a phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.integrations.mailstore import MaildirStore, maildir_root
from portal.models import Domain
from tests.e2e.test_phone import _overflow
from tests.services_runtime import smtp_server
from tests.world import PASSWORD, World, add_page_roles

pytestmark = pytest.mark.browser

INVOICE = (b"From: Billing <billing@supplier.example>\r\nTo: other@a.example\r\nSubject: Invoice 42\r\n"
           b"X-Fuglu-Id: invoice-42\r\nX-Quarantine-Reason: BAD_HEADERS\r\nMessage-ID: <inv42@supplier.example>\r\n"
           b"Date: Thu, 01 Jan 2026 10:00:00 +0000\r\n\r\nPlease pay.\r\n")


def _held(app: Flask, world: World) -> None:
    """operator-a (QUARANTINE_READ and _RELEASE on A); the invoice held in other@a.example's quarantine."""
    with app.app_context():
        add_page_roles(world)
        db.session.commit()
        MaildirStore(maildir_root(Path(app.config["MAIL_ROOT"]), "other@a.example")).append("Quarantine", INVOICE)


def _search(page: Page, live_url: str, *, by_sidebar: bool = True) -> None:
    page.goto(f"{live_url}/login")
    page.fill("#f-login", "operator-a")
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    if by_sidebar:
        page.click("#sidebar >> text=Quarantine search")
    else:  # a phone's sidebar is folded behind its menu button
        page.goto(f"{live_url}/admin/quarantine/search")
    page.fill("input[name=sender]", "supplier.example")
    page.select_option("select[name=domainId]", label="a.example")
    page.click("#qsearch-submit")
    expect(page.locator("#qsearch-state")).to_contain_text("Done")
    expect(page.locator("#qsearch-hits")).to_contain_text("Invoice 42")


def test_a_helpdesk_admin_finds_a_message_across_the_domain_and_releases_it(
        app: Flask, page: Page, live_url: str, world: World) -> None:
    _held(app, world)
    with smtp_server() as (relay, port):
        with app.app_context():
            db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = port
            db.session.commit()
        _search(page, live_url)
        expect(page.locator("#qsearch-hits tbody tr")).to_have_count(1)
        expect(page.locator("#qsearch-hits")).to_contain_text("other@a.example")
        page.click("#qsearch-hits >> text=Invoice 42")
        expect(page.locator("h1")).to_contain_text("Invoice 42")
        page.click("#release-form button:has-text('Release to other@a.example')")
        expect(page.locator(".flash-success")).to_contain_text("delivered")
        assert relay.wait_for(1)
        assert b"Invoice 42" in relay.messages[0][2] and b"X-Postern-Released" in relay.messages[0][2]
    violations = [m for m in page.console_messages_seen if "Content Security Policy" in m or "Refused" in m]
    assert violations == []


def test_the_results_are_cards_on_a_phone(app: Flask, phone: Page, live_url: str, world: World) -> None:
    _held(app, world)
    _search(phone, live_url, by_sidebar=False)
    assert _overflow(phone) == 0
    cell = phone.locator("#qsearch-hits td[data-label]").first
    assert phone.evaluate("(td) => getComputedStyle(td).display", cell.element_handle()) != "table-cell"
