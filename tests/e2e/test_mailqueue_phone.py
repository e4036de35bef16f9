"""The Mail queue on a 390 px phone, against a private Postfix: the page and a message's view do not scroll
sideways (long addresses, Postfix's delay reasons); select-all selects every row; the polled part keeps a
selection (a refresh is skipped while something is selected)."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.e2e.test_phone import _overflow
from tests.services_runtime import postfix_queue
from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser


def test_the_mail_queue_fits_a_phone(app: Flask, phone: Page, live_url: str, world: World) -> None:
    with postfix_queue() as postfix:
        saved = app.config["POSTFIX_CONFIG"], app.config["POSTFIX_BIN"]
        app.config["POSTFIX_CONFIG"], app.config["POSTFIX_BIN"] = postfix.config, "/usr/sbin"
        try:
            postfix.inject("a-very-long-sender-name.with.dots@sub.domain.a.example",
                           ["a-very-long-recipient-name-of-someone@another.long.b.example", "second@b.example"],
                           count=2)
            entries = postfix.deferred(2)
            phone.goto(f"{live_url}/login")
            phone.fill("#f-login", "root")
            phone.fill("#f-password", PASSWORD)
            phone.click("button[type=submit]:has-text('Log in')")
            expect(phone.locator("h1")).to_contain_text("Welcome")
            response = phone.goto(f"{live_url}/admin/mailqueue")
            assert response is not None and response.status == 200
            expect(phone.locator("#mailqueue-table tbody tr")).to_have_count(2)
            assert _overflow(phone) == 0
            phone.check("#mailqueue-form [data-select-all]")
            expect(phone.locator("#mailqueue-table input[name=ids]:checked")).to_have_count(2)
            # a refresh (the poll's request, asked for now) is skipped while messages are selected: the part is not
            # replaced and the selection stays; with nothing selected the same request replaces it
            refresh = ("async () => { document.querySelector('#mailqueue-live').dataset.old = 'yes';"
                       " await htmx.ajax('GET', location.pathname, {source: '#mailqueue-live',"
                       " target: '#mailqueue-live', swap: 'outerHTML'});"
                       " return document.querySelector('#mailqueue-live').dataset.old || 'replaced'; }")
            assert phone.evaluate(refresh) == "yes"
            expect(phone.locator("#mailqueue-table input[name=ids]:checked")).to_have_count(2)
            phone.uncheck("#mailqueue-form [data-select-all]")
            assert phone.evaluate(refresh) == "replaced"
            response = phone.goto(f"{live_url}/admin/mailqueue/{entries[0]['queue_id']}")
            assert response is not None and response.status == 200
            expect(phone.locator("#message-headers")).to_contain_text("Subject:")
            assert _overflow(phone) == 0
        finally:
            app.config["POSTFIX_CONFIG"], app.config["POSTFIX_BIN"] = saved
