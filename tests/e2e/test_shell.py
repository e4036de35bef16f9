"""The application shell in a real browser (issue 11, items 2 and 9): the skip link, the sidebar behind the menu
button on a phone, focus and the live region after HTMX swaps, and <html lang> after a language switch."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _login(page: Page, live_url: str, login: str = "root") -> None:
    page.goto(f"{live_url}/login")
    page.fill("#f-login", login)
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    expect(page.locator("h1")).to_contain_text("Welcome")


def _csp_violations(page: Page) -> list[str]:
    return [m for m in page.console_messages_seen if "Content Security Policy" in m or "Refused" in m]


def test_skip_link_goes_to_the_main_content(page: Page, live_url: str, world: World) -> None:
    _login(page, live_url)
    page.goto(f"{live_url}/admin/admins")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0 and box["height"] > 0  # shown on focus, not off-screen
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    page.keyboard.press("Tab")  # the next stop is inside the page, not in the header or the sidebar
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")
    assert _csp_violations(page) == []


def test_sidebar_groups_and_marks_the_current_page(page: Page, live_url: str, world: World) -> None:
    _login(page, live_url)
    page.goto(f"{live_url}/admin/admins")
    sidebar = page.locator("#sidebar nav")
    expect(sidebar).to_have_attribute("aria-label", re.compile(".+"))
    for group in ("Overview", "Tenancy", "Security", "System"):
        expect(sidebar.locator(".nav-group", has_text=group)).to_have_count(1)
    expect(sidebar.locator(".nav-group", has_text="Filtering")).to_have_count(0)  # no domain in view
    expect(sidebar.locator("a[aria-current=page]")).to_have_text("Administrators")
    for nav in page.locator("nav").all():
        assert nav.get_attribute("aria-label"), nav.inner_html()[:200]

    page.goto(f"{live_url}/admin/domains/{world.id('A')}/rules/senders")
    expect(sidebar.locator(".nav-group", has_text="Filtering")).to_have_count(1)
    expect(sidebar.locator("a[aria-current=page]")).to_have_text("Sender rules")


def test_a_domain_admin_sees_no_system_group(page: Page, live_url: str, world: World) -> None:
    _login(page, live_url, "admin-a")
    expect(page.locator("#sidebar .nav-group", has_text="Overview")).to_have_count(1)
    expect(page.locator("#sidebar .nav-group", has_text="System")).to_have_count(0)
    expect(page.locator("#sidebar a", has_text="Jobs")).to_have_count(0)
    expect(page.locator("#sidebar a", has_text="Administrators")).to_have_count(1)  # holds GRANT on its domain


def test_sidebar_collapses_on_a_phone_and_opens_with_the_button(page: Page, live_url: str, world: World) -> None:
    page.set_viewport_size(PHONE)
    _login(page, live_url)
    header = page.locator("header.topbar").bounding_box()
    assert header is not None and header["height"] <= 64, header
    button = page.locator("button.menu-button")
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_have_attribute("aria-controls", "sidebar")
    expect(page.locator("#sidebar")).to_be_hidden()
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#sidebar")).to_be_visible()
    expect(page.locator("#sidebar a").first).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.click("#sidebar >> text=Administrators")
    expect(page.locator("h1")).to_have_text("Administrators")
    expect(page.locator("#sidebar")).to_be_hidden()  # the new page starts with the menu closed

    page.set_viewport_size({"width": 1366, "height": 800})
    expect(button).to_be_hidden()
    expect(page.locator("#sidebar")).to_be_visible()
    header = page.locator("header.topbar").bounding_box()
    assert header is not None and header["height"] <= 64  # one line on a desktop
    menu = page.locator("details.account-menu")
    menu.locator("summary").click()
    expect(menu.locator("a", has_text="My account")).to_be_visible()
    expect(menu.locator("button", has_text="Log out")).to_be_visible()
    page.keyboard.press("Escape")
    expect(menu.locator("button", has_text="Log out")).to_be_hidden()
    expect(menu.locator("summary")).to_be_focused()


def test_focus_and_announcement_follow_an_htmx_sort_and_page(page: Page, live_url: str, world: World) -> None:
    _login(page, live_url)
    page.goto(f"{live_url}/admin/admins?pageSize=2")
    total = page.locator("#admins-total").inner_text()
    page.click("#admins-table th >> text=Email")
    expect(page).to_have_url(re.compile(r"sort=email"))
    focused_inside = page.locator("#admins-table:focus, #admins-table :focus")
    expect(focused_inside).to_have_count(1)
    expect(page.locator("#announce")).to_contain_text(total)

    page.locator("#announce").evaluate("el => { el.textContent = '' }")
    page.click("#admins-table nav[aria-label] >> text=Next")
    expect(page).to_have_url(re.compile(r"offset=2"))
    expect(focused_inside).to_have_count(1)
    expect(page.locator("#announce")).to_contain_text(total)
    expect(page.locator("#announce")).to_have_attribute("aria-live", "polite")

    page.goto(f"{live_url}/admin/domains/{world.id('A')}")
    page.click("nav.tabs >> text=Policies")
    expect(page).to_have_url(re.compile(r"/tab/policies$"))
    expect(page.locator("#domain-tabs:focus, #domain-tabs :focus")).to_have_count(1)
    page.goto(f"{live_url}/admin/admins?pageSize=2")

    # typing in the search box keeps the focus there
    page.locator("#search").press_sequentially("root")
    expect(page.locator("#admins-total")).to_have_text("1 administrator")
    expect(page.locator("#search")).to_be_focused()
    expect(page.locator("#announce")).to_have_text("1 administrator")
    assert _csp_violations(page) == []


def test_the_live_region_survives_a_boosted_page_and_says_the_outcome(page: Page, live_url: str, world: World
                                                                      ) -> None:
    _login(page, live_url)
    page.goto(f"{live_url}/account/tokens")
    page.fill("#f-name", "shell token")
    page.click("button:has-text('Create token')")  # a full page load (the token is shown once)
    expect(page.locator("#token-value")).to_be_visible()
    page.evaluate("document.getElementById('announce').dataset.kept = 'yes'")
    row = page.locator("#tokens tr", has_text="shell token")
    row.locator("button:has-text('Revoke')").click()
    expect(page.locator(".flash")).to_contain_text("revoked")
    expect(page.locator("#announce")).to_contain_text("revoked")
    expect(page.locator(".flash")).to_be_focused()
    assert page.evaluate("document.getElementById('announce').dataset.kept") == "yes"  # the same element
    assert page.locator("[aria-live]").count() == 1


def test_html_lang_follows_the_language_switch(page: Page, live_url: str, world: World) -> None:
    _login(page, live_url, "admin-a")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.click("details.account-menu > summary")
    page.select_option("details.account-menu select[name=lang]", "FR")
    page.click("details.account-menu button:has-text('Switch')")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("#main")).to_be_focused()  # the reloaded page starts at its content
    expect(page.locator("#announce")).to_have_text("Français")
    expect(page.locator("#sidebar nav")).to_contain_text("Domaines")
    # the language changed elsewhere (another tab): a boosted page (only the body is swapped) follows it too
    token = page.locator(".lang-switch input[name=csrf_token]").first.input_value()
    answer = page.request.post(f"{live_url}/language", form={"lang": "DE", "csrf_token": token, "next": "/"},
                               max_redirects=0)
    assert answer.status == 302, answer.text()[:300]
    page.locator("#sidebar").get_by_role("link", name="Domaines", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/domains$"))
    expect(page.locator("h1")).not_to_have_text("Domaines")  # the German page is in
    expect(page.locator("html")).to_have_attribute("lang", "de")
