"""The quarantine digest in chromium: the mail read at the SMTP sink, a release link opened (a confirm page:
nothing happens), confirmed (the message reaches the relay, once), opened again (refused), and the message shown
as released in the user's quarantine."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_bytes, policy

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.models import Domain, MailServer
from portal.services import digest
from tests.e2e.test_user_mail_journey import _log_in, _store
from tests.services_runtime import SmtpSink, smtp_server
from tests.world import World

pytestmark = pytest.mark.browser


@pytest.fixture
def servers(app: Flask, world: World, live_url: str) -> Iterator[tuple[SmtpSink, SmtpSink]]:
    """aiosmtpd twice: Postern's own mail (the enabled server) and domain A's relay (where releases go); links
    built for the live server."""
    old = app.config["BASE_URL"]
    app.config["BASE_URL"] = live_url
    with smtp_server() as (own, own_port), smtp_server() as (relay, relay_port):
        with app.app_context():
            db.session.add(MailServer(name="out", protocol="SMTP", host="127.0.0.1", port=own_port, security="NONE",
                                      auth="NO_AUTH", sender_address="digest@ops.example", enabled=True))
            db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = relay_port
            db.session.commit()
        try:
            yield own, relay
        finally:
            app.config["BASE_URL"] = old


def test_a_digest_link_releases_after_confirmation(app: Flask, page: Page, live_url: str, world: World,
                                                   servers: tuple[SmtpSink, SmtpSink]) -> None:
    own, relay = servers
    _store(app, {"prize": b"From: Lottery <win@lottery.example>\r\nTo: user@a.example\r\n"
                          b"Subject: You <b>won</b>\r\nX-Fuglu-Id: prize-1\r\nX-Spam-Score: 12.5\r\n"
                          b"X-Quarantine-Reason: SPAM\r\n\r\nclaim it\r\n"})
    with app.app_context():
        assert digest.send(world.pk["userA"], "2026-11-27").state == "sent"
        db.session.commit()
    (_, rcpts, raw), = own.messages
    mail = message_from_bytes(raw, policy=policy.default)
    html = mail.get_body(("html",)).get_content()
    assert rcpts == ["user@a.example"] and "You &lt;b&gt;won&lt;/b&gt;" in html
    # the link of the lottery message: its entry's release link in the HTML part
    entry = html[html.index("You &lt;b&gt;won&lt;/b&gt;"):]
    link = re.search(r'href="(http://127\.0\.0\.1:\d+/me/digest/release/[\w-]{43})"', entry).group(1)  # type: ignore[union-attr]

    page.goto(link)
    expect(page.locator("#digest-confirm")).to_be_visible()
    expect(page.locator("#digest-message")).to_contain_text("You <b>won</b>")  # shown as text, escaped
    expect(page.locator("#digest-message")).to_contain_text("win@lottery.example")
    assert relay.messages == []  # opening the link changed nothing
    page.click("#digest-confirm-button")
    expect(page.locator("#digest-done")).to_be_visible()
    assert len(relay.messages) == 1 and relay.messages[0][1] == ["user@a.example"]
    assert b"claim it" in relay.messages[0][2] and b"X-Postern-Released" in relay.messages[0][2]

    page.goto(link)  # a second use
    expect(page.locator("#digest-refused-reason")).to_contain_text("used already")
    assert len(relay.messages) == 1

    _log_in(page, live_url)
    page.goto(f"{live_url}/me/quarantine")
    expect(page.locator("#quarantine tr", has_text="You <b>won</b>")).to_contain_text("released")
