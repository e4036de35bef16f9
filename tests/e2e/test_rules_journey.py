"""A domain admin in a real browser: adds a block rule and an attachment rule, then asks why a
sender is blocked."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser


def test_rules_journey(page: Page, live_url: str, world: World) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_url}/login")
    page.fill("#f-login", "admin-a")
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    expect(page.locator("h1")).to_contain_text("Welcome")

    page.goto(f"{live_url}/admin/domains/{world.id('A')}/rules/senders")
    page.fill("#f-value", "not an address")
    page.click("#add-rule button:has-text('Add')")
    expect(page.locator("#add-rule .field-error")).to_contain_text("neither an email address nor a domain")
    page.fill("#f-value", "fraud@scam.example")
    page.select_option("#add-rule select[name=type]", "BLOCK")
    page.click("#add-rule button:has-text('Add')")
    expect(page.locator("#rules")).to_contain_text("fraud@scam.example")

    page.click("nav.tabs >> text=Attachment rules")
    page.select_option("#add-rule select[name=check_type]", "FILENAME")
    page.fill("#f-filter", "\\.(exe|scr)$")
    page.fill("#f-description", "No executables")
    page.click("#add-rule button:has-text('Add')")
    expect(page.locator("#rules")).to_contain_text("No executables")

    page.goto(f"{live_url}/admin/explain")
    page.fill("#f-sender", "fraud@scam.example")
    page.fill("#f-recipient", "user@a.example")
    page.click("button:has-text('Explain')")
    expect(page.locator("#verdict header")).to_have_text("Block")  # the verdict in words, not its code
    expect(page.locator("#verdict")).to_contain_text("a.example blocks the exact address")
    expect(page.locator("#announce")).to_contain_text("Block: ")  # the verdict is said, not only shown

    page.goto(f"{live_url}/admin/domains/{world.id('A')}/rules/senders")
    page.locator("#rules tr", has_text="fraud@scam.example").locator("button:has-text('Remove')").click()
    expect(page.locator("#rules")).not_to_contain_text("fraud@scam.example")


def test_end_user_adds_an_allowed_sender(page: Page, live_url: str, world: World) -> None:
    page.goto(f"{live_url}/me/login")
    page.fill("#f-email", "user@a.example")
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    page.click("text=My allowed and blocked senders")
    page.fill("#f-value", "newsletter@shop.example")
    page.select_option("select[name=type]", "ALLOW")
    page.click("#add-sender button:has-text('Add')")
    expect(page.locator("#senders")).to_contain_text("newsletter@shop.example")
    page.goto(f"{live_url}/me/senders")  # a full load: htmx has wired the search box
    page.locator("#search").press_sequentially("*shop*")
    expect(page.locator("#senders tbody tr")).to_have_count(1)


def test_hostile_message_in_the_browser(app, page: Page, live_url: str, world: World) -> None:
    from tests.web.test_user_portal import _hostile

    _hostile(app)
    dialogs: list[str] = []
    remote: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: remote.append(request.url) if _leaves(request.url) else None)
    page.goto(f"{live_url}/me/login")
    page.fill("#f-email", "user@a.example")
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    page.goto(f"{live_url}/me/quarantine/message?id=hostile1")
    expect(page.frame_locator("#message-body").locator("p")).to_have_text("Hi")
    page.frame_locator("#message-body").locator("a").click()
    page.wait_for_timeout(300)
    assert dialogs == [] and remote == []
    # nothing in the page is reachable from the frame: it has no same-origin access
    assert page.evaluate("document.getElementById('message-body').contentDocument") is None


def _leaves(url: str) -> bool:
    """A request for another host (cid: and data: ones stay in the page and fail there)."""
    return url.startswith(("http:", "https:", "//")) and not url.startswith("http://127.0.0.1:")
