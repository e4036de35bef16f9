"""The mailbox user's pages on a 390 px phone: nothing scrolls sideways, the tables are cards whose subject
and actions stay on the screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.integrations.mailstore import MaildirStore, maildir_root
from portal.models import MailUser, SenderRule
from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser

LONG_SENDER = "a-very-long-local-part-that-never-ends-at-all@" + "sub." * 8 + "long-domain-name.example"
LONG_SUBJECT = "Invoice" + "-no-spaces-in-this-subject" * 6
PAGES = ("/me/", "/me/quarantine", "/me/senders", "/me/folders?path=Archive", "/me/compose", "/me/signature",
         "/me/notifications")


def _message(key: str, subject: str, sender: str = "billing@shop.example") -> bytes:
    return (f"From: {sender}\r\nTo: user@a.example\r\nSubject: {subject}\r\nX-Fuglu-Id: {key}\r\n"
            f"X-Quarantine-Reason: BAD_ATTACHMENTS\r\nX-Spam-Score: 12.5\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nHello {key}.\r\n").encode()


def _seed(app: Flask) -> None:
    """Held mail with long senders and subjects, an archived copy, and sender rules with long values."""
    with app.app_context():
        store = MaildirStore(maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example"))
        store.append("Quarantine", _message("long", LONG_SUBJECT, LONG_SENDER))
        store.append("Quarantine", _message("short", "Hi"))
        store.append("Archive", _message("kept", LONG_SUBJECT, LONG_SENDER))
        user = db.session.scalars(db.select(MailUser).filter_by(email="user@a.example")).one()
        for value in (LONG_SENDER, "*@" + "spam." * 10 + "example"):
            db.session.add(SenderRule(owner_key=f"u:{user.id}", domain_id=user.domain_id, user_id=user.id,
                                      value=value, type="BLOCK"))
        db.session.commit()


def _log_in(page: Page, live_url: str) -> None:
    page.goto(f"{live_url}/me/login")
    page.fill("#f-email", "user@a.example")
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    expect(page).to_have_url(f"{live_url}/me/")


def _overflow(page: Page) -> int:
    """How far the page, or a table inside its scrolling wrapper, reaches past its right edge (0 when nothing
    scrolls sideways)."""
    return page.evaluate("""Math.max(document.documentElement.scrollWidth - window.innerWidth,
        ...[...document.querySelectorAll('.table-wrap')].map(e => e.scrollWidth - e.clientWidth))""")


def _on_screen(page: Page, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    width = page.evaluate("window.innerWidth")
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box, width)


def test_no_user_page_scrolls_sideways(app: Flask, phone: Page, live_url: str, world: World) -> None:
    _seed(app)
    _log_in(phone, live_url)
    phone.goto(f"{live_url}/me/quarantine/message?id=long")
    assert phone.locator("#subject").count() == 1
    wide = {"/me/quarantine/message?id=long": _overflow(phone)}
    for path in PAGES:
        response = phone.goto(live_url + path)
        assert response is not None and response.status == 200, path
        wide[path] = _overflow(phone)
    assert {path: px for path, px in wide.items() if px > 0} == {}


def test_phone_tables_keep_subjects_and_actions_on_screen(app: Flask, phone: Page, live_url: str,
                                                          world: World) -> None:
    _seed(app)
    _log_in(phone, live_url)
    phone.goto(f"{live_url}/me/quarantine")
    expect(phone.locator("#quarantine tbody tr")).to_have_count(4)  # two held by the world, two here
    subject = phone.locator("#quarantine tr", has_text="Invoice").locator("a").first
    subject.scroll_into_view_if_needed()
    expect(subject).to_be_in_viewport()
    _on_screen(phone, "#quarantine a:has-text('Invoice')")
    # each cell of the card names its column, in the page's language
    label = phone.locator("#quarantine td[data-label]").first
    assert phone.evaluate("e => getComputedStyle(e, '::before').content", label.element_handle()) == '"Reason"'

    phone.goto(f"{live_url}/me/senders")
    remove = phone.locator("#senders tr", has_text="long-domain-name").get_by_role("button", name="Remove")
    remove.scroll_into_view_if_needed()
    expect(remove).to_be_in_viewport()
    _on_screen(phone, "#senders button:has-text('Remove')")

    phone.goto(f"{live_url}/me/folders?path=Archive")
    expect(phone.locator("#folder-messages a", has_text="Invoice")).to_be_in_viewport()
    _on_screen(phone, "#folder-messages a:has-text('Invoice')")


def test_link_pages_fit_a_phone(app: Flask, phone: Page, live_url: str, world: World) -> None:
    """The pages a mail's link opens (sign-in link, password set-up, a digest action, turning digests off) and
    the forgotten-password forms: each on the screen without sideways scrolling, its button visible."""
    from datetime import timedelta

    from portal.services import links

    _seed(app)
    with app.app_context():
        user = db.session.scalars(db.select(MailUser).filter_by(email="user@a.example")).one()

        def link(purpose: links.Purpose, subject: str | None = None) -> str:
            return links.issue(purpose, user=user, subject=subject, valid_for=timedelta(hours=1))

        paths = {
            "/me/link/" + link(links.Purpose.LOGIN): "button[type=submit]",
            "/password/setup/" + link(links.Purpose.PASSWORD_SETUP): "button[type=submit]",
            "/me/digest/release/" + link(links.Purpose.DIGEST_RELEASE, "Quarantine/long"): "button[type=submit]",
            "/me/digest/off/" + link(links.Purpose.DIGEST_OFF): "button[type=submit]",
            "/me/password/forgot": "button[type=submit]",
            "/me/link": "button[type=submit]",
        }
        db.session.commit()
    wide = {}
    for path, button in paths.items():
        response = phone.goto(live_url + path)
        assert response is not None and response.status == 200, path
        _on_screen(phone, button)
        wide[path.rsplit("/", 1)[0]] = _overflow(phone)
    assert {path: px for path, px in wide.items() if px > 0} == {}
