"""Links of mails in chromium: a mailbox user opens a login link, confirms, and lands in their quarantine; the
link then opens nothing. A password reset link: an error next to its field, then the new password works.

The links are made as the mails' jobs make them (`links.issue`, `links.url` from POSTERN_BASE_URL), then opened
on the live server; or, in the full journey, asked for on the users' login page ("Mail me a sign-in link") and
read at the aiosmtpd sink, the enabled SMTP server.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.models import MailServer, MailUser
from portal.services import links
from portal.services.links import Purpose
from tests.services_runtime import smtp_server
from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser


def _link(app: Flask, world: World, purpose: Purpose, live_url: str) -> str:
    """The URL a mail would carry, pointed at the live server."""
    with app.app_context():
        value = links.issue(purpose, user=db.session.get(MailUser, world.pk["userA"]), valid_for=timedelta(hours=4))
        db.session.commit()
        url = links.url(purpose, value)
    assert url.startswith(app.config["BASE_URL"] + "/")
    return live_url + urlsplit(url).path


def test_login_link_journey(page: Page, app: Flask, live_url: str, world: World) -> None:
    url = _link(app, world, Purpose.LOGIN, live_url)
    page.goto(url)
    expect(page.locator("h1")).to_have_text("Sign in with a link")
    expect(page.locator("main")).to_contain_text("user@a.example")
    page.goto(live_url + "/me/")  # opening the link signed nobody in
    expect(page).to_have_url(live_url + "/me/login?next=%2Fme%2F")

    page.goto(url)
    page.click("main button[type=submit]:has-text('Sign in')")
    expect(page).to_have_url(live_url + "/me/quarantine")
    expect(page.locator("main")).to_contain_text("offer 0")  # the world's held messages
    expect(page.locator(".account-name")).to_have_text("user@a.example")

    page.goto(url)  # used: a clear page, and a way on
    expect(page.locator("h1")).to_have_text("This link cannot be used")
    expect(page.locator("main")).to_contain_text("This link was used already. Ask for a new one.")
    assert not [m for m in page.console_messages_seen if "Content Security Policy" in m]


def test_password_reset_journey(page: Page, app: Flask, live_url: str, world: World) -> None:
    url = _link(app, world, Purpose.PASSWORD_RESET, live_url)
    page.goto(url)
    expect(page.locator("h1")).to_have_text("Choose a new password")
    page.fill("#f-password", "a new and long password")
    page.fill("#f-confirm", "a different password")
    page.click("main button[type=submit]")
    expect(page.locator("#e-confirm")).to_have_text("The two passwords are not the same.")
    page.fill("#f-password", "a new and long password")
    page.fill("#f-confirm", "a new and long password")
    page.click("main button[type=submit]")
    expect(page).to_have_url(live_url + "/me/login")
    expect(page.locator(".flash")).to_contain_text("Your password was saved. Log in with it.")
    page.fill("#f-email", "user@a.example")
    page.fill("#f-password", PASSWORD)  # the old one no longer works
    page.click("main button[type=submit]")
    expect(page.locator("main")).to_contain_text("Wrong address or password")
    page.fill("#f-password", "a new and long password")
    page.click("main button[type=submit]")
    expect(page).to_have_url(live_url + "/me/")


def test_requested_login_link_journey(page: Page, app: Flask, live_url: str, world: World) -> None:
    with smtp_server() as (sink, port):
        with app.app_context():
            db.session.add(MailServer(name="outgoing", protocol="SMTP", host="127.0.0.1", port=port, security="NONE",
                                      auth="NO_AUTH", sender_address="postern@ops.example", enabled=True))
            db.session.commit()
        page.goto(live_url + "/me/login")
        page.click("text=Mail me a sign-in link")
        page.fill("#f-name", "user@a.example")
        page.click("main button[type=submit]")
        expect(page.locator("main [role=status]")).to_contain_text("a mail with a sign-in link is on its way")
        assert sink.wait_for(1)  # the job runs after the commit (in-process here, RQ in production)
        (_sender, recipients, raw), = sink.messages
        assert recipients == ["user@a.example"]
        mail = message_from_bytes(raw, policy=policy.default)
        text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        found = re.search(re.escape(app.config["BASE_URL"]) + r"(/me/link/[A-Za-z0-9_-]+)", text)
        assert found, text
    page.goto(live_url + found.group(1))
    expect(page.locator("main")).to_contain_text("user@a.example")
    page.click("main button[type=submit]:has-text('Sign in')")
    expect(page).to_have_url(live_url + "/me/quarantine")
    expect(page.locator("main")).to_contain_text("offer 0")
