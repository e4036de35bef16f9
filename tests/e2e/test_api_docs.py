"""The API documentation's "Try it out" calls the server that served it (the live server's own free port)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_try_it_out_calls_this_server(page: Page, live_url: str) -> None:
    assert not live_url.endswith(":5000")  # POSTERN_BASE_URL's port: a call there would fail
    page.goto(f"{live_url}/api/docs")
    # Swagger UI renders the whole document first: on a loaded 2-core machine that takes more than 5 s
    expect(page.locator(".servers select")).to_contain_text("/", timeout=30_000)
    operation = page.locator("#operations-Documentation-openapi_json")
    expect(operation).to_be_visible(timeout=30_000)
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    expect(operation.locator(".request-url pre")).to_have_text(f"{live_url}/api/openapi.json", timeout=30_000)
    status = operation.locator(".live-responses-table tr.response .response-col_status")
    expect(status).to_have_text("200", timeout=30_000)
