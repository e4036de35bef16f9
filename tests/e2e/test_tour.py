"""The browser tour: every page, every role, every language, at 1366 px and 390 px (the plan: tests/e2e/tour.py).

A visit fails on a console error, a CSP violation, horizontal overflow, a critical or serious axe-core violation
(English at 1366 px) or an untranslated string (other languages). The world is the page matrix's
(tests/world.py: build_world + add_page_roles) with 21 more mailbox users of a.example, so its users list has
a second page. One browser context per role and language, reused by that role's visits.
"""

from __future__ import annotations

import json
import mailbox
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from portal.extensions import db, limiter
from portal.integrations.mailstore import maildir_root
from portal.models import MailUser
from portal.services import mailboxes
from tests.conftest import empty_tables
from tests.e2e import tour
from tests.services_runtime import missing
from tests.web.test_page_matrix import MAILBOXES
from tests.world import PAGE_LOGINS, PASSWORD, World, add_page_roles, build_world

pytestmark = pytest.mark.browser

PLAN = tour.plan()
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """Overrides conftest's per-test cleanup: the tour's world lives until its last visit (`tour_world`)."""


@pytest.fixture(scope="module")
def tour_world(app: Flask) -> Iterator[World]:
    with app.app_context():
        world = build_world()
        add_page_roles(world)
        a = world.pk["A"]
        user_a = db.session.get(MailUser, world.pk["userA"])
        db.session.add_all(MailUser(domain_id=a, email=f"mailbox{n:02d}@a.example", policy=user_a.policy,
                                    platform=user_a.platform) for n in range(21))
        db.session.commit()
        _quarantine_reasons(Path(app.config["MAIL_ROOT"]))
    yield world
    empty_tables(app)
    for email in MAILBOXES:
        shutil.rmtree(maildir_root(Path(app.config["MAIL_ROOT"]), email), ignore_errors=True)
    limiter.reset()


def _quarantine_reasons(root: Path) -> None:
    """A held message of each quarantine reason in user@a.example's quarantine (each has its badge)."""
    box = mailbox.Maildir(str(maildir_root(root, "user@a.example")), create=False)
    folder = box.get_folder("Quarantine")
    for n, reason in enumerate(mailboxes.REASONS):
        folder.add(mailbox.MaildirMessage(
            f"From: sender{n}@bad.example\nTo: user@a.example\nSubject: held for {reason.lower()}\n"
            f"Message-ID: <reason-{n}@bad.example>\nDate: Mon, 2 Nov 2026 10:{n:02d}:00 +0000\n"
            f"X-Quarantine-Reason: {reason}\nX-Spam-Score: {n + 3}.5\n\nbody\n"))


class Tabs:
    """One signed-in tab per (role, language); the previous one is closed when the tour moves on."""

    def __init__(self, browser: Any, base: str, world: World) -> None:
        self.browser, self.base, self.world = browser, base, world
        self.key: tuple[str, str] | None = None
        self.context: Any = None
        self.tab: Any = None

    def get(self, role: str, lang: str) -> Any:
        if self.key != (role, lang):
            self.close()
            self.context = self.browser.new_context(viewport={"width": tour.WIDE, "height": tour.HEIGHT[tour.WIDE]})
            self.context.set_default_timeout(15_000)
            self.context.add_init_script(tour.INIT_SCRIPT)
            self._sign_in(role)
            if lang != "en":
                self._post("/language", {"lang": lang.upper(), "next": "/login"})
            self.tab = self.context.new_page()
            self.tab.tour_console = []
            self.tab.on("console", lambda m: m.type == "error" and self.tab.tour_console.append(
                f"{m.text} ({m.location.get('url')})" if m.text.startswith("Failed to load") else m.text))
            self.tab.on("pageerror", lambda e: self.tab.tour_console.append(f"uncaught: {e}"))
            self.key = (role, lang)
        return self.tab

    def _post(self, path: str, form: dict[str, str], token_from: str = "/login") -> Any:
        page = self.context.request.get(self.base + token_from)
        token = CSRF.search(page.text())
        assert token, f"no CSRF token on {token_from}"
        answer = self.context.request.post(self.base + path, form={"csrf_token": token.group(1), **form},
                                           max_redirects=0)
        assert answer.status in (200, 302, 303), f"POST {path}: {answer.status}"
        return answer

    def _sign_in(self, role: str) -> None:
        if role == "anonymous":
            return
        if role == "viewas":
            self._sign_in("domainA")
            self._post(f"/admin/users/{self.world.id('userA')}/impersonate", {}, token_from="/account")
            return
        who = PAGE_LOGINS[role]
        if "@" in who:
            self._post("/me/login", {"email": who, "password": PASSWORD}, token_from="/me/login")
        else:
            self._post("/login", {"login": who, "password": PASSWORD})

    def close(self) -> None:
        if self.context is not None:
            self.context.close()
        self.context = self.tab = self.key = None


@pytest.fixture(scope="module")
def tabs(browser: Any, live_url: str, tour_world: World) -> Iterator[Tabs]:
    if not tour.AXE.exists():
        missing(f"axe-core is not installed at {tour.AXE} (make install runs npm ci)")
    opened = Tabs(browser, live_url, tour_world)
    yield opened
    opened.close()


AXE_SOURCE: list[str] = []  # read once


def _report(visit: tour.Visit, url: str, problems: dict[str, list[str]], notes: dict[str, list[str]]) -> None:
    path = os.environ.get("POSTERN_TOUR_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"page": visit.stop.name, "url": url, "role": visit.role, "lang": visit.lang,
                                 "width": visit.width, "problems": problems, "notes": notes}) + "\n")


@pytest.mark.parametrize("visit", PLAN, ids=[v.id for v in PLAN])
def test_tour(tabs: Tabs, live_url: str, tour_world: World, visit: tour.Visit) -> None:
    tab = tabs.get(visit.role, visit.lang)
    if tab.viewport_size["width"] != visit.width:
        tab.set_viewport_size({"width": visit.width, "height": tour.HEIGHT[visit.width]})
    tab.tour_console.clear()
    url = visit.stop.url(tour_world)
    answer = tab.goto(live_url + url, wait_until="load")
    assert answer is not None and answer.status == visit.stop.status, \
        f"{url}: {answer.status if answer else 'no answer'} instead of {visit.stop.status} ({tab.url})"
    assert urlsplit(tab.url).path == urlsplit(url).path, f"{url} went to {tab.url}"  # not a sign-in page instead
    if visit.stop.ready:
        tab.locator(visit.stop.ready).first.wait_for()
    settled = tab.evaluate("window.__tour.settled")  # swaps of the page's own (on load) are not the one awaited
    if visit.stop.click:
        tab.locator(visit.stop.click).first.click()
    if visit.stop.search:
        tab.locator("#search").fill(visit.stop.search)
    problems: dict[str, list[str]] = {}
    notes: dict[str, list[str]] = {}
    if visit.stop.click or visit.stop.search:
        tab.wait_for_function("(before) => window.__tour.settled > before", arg=settled)
        focus = tab.evaluate("document.activeElement ? document.activeElement.outerHTML.slice(0, 80) : ''")
        if visit.stop.click and (not focus or focus.startswith("<body")):
            notes["focus after the swap"] = ["on <body>: the page's top, not the updated content"]
    look = tab.evaluate(tour.LOOK_SCRIPT, visit.words)
    console = [m for m in tab.tour_console
               if not (visit.stop.status != 200 and f"status of {visit.stop.status}" in m)]
    # chromium logs each violation too: those of frames (a message's sandboxed body) are seen there only
    problems["csp"] = look["csp"] or [m for m in console if "Content Security Policy" in m]
    problems["console"] = [m for m in console if "Content Security Policy" not in m]
    if look["overflow"]:
        problems["overflow"] = [f"scrollWidth {look['overflow']['scroll']}px > {look['overflow']['width']}px: "
                                + ", ".join(look["overflow"]["culprits"])]
    if visit.axe:
        if not AXE_SOURCE:
            AXE_SOURCE.append(tour.AXE.read_text(encoding="utf-8"))
        tab.evaluate(AXE_SOURCE[0])  # not add_script_tag: an inline script is what the page's CSP refuses
        violations = tab.evaluate(tour.AXE_SCRIPT)
        problems["axe"] = [f"{v['impact']} {v['id']}: {v['help']} — " + "; ".join(v["nodes"])
                           for v in violations if v["impact"] in ("critical", "serious")]
        notes["axe (moderate, minor)"] = [f"{v['impact']} {v['id']}: {v['help']} — " + "; ".join(v["nodes"])
                                          for v in violations if v["impact"] not in ("critical", "serious")]
    if visit.words:
        problems["untranslated"] = tour.untranslated(look["texts"], visit.lang)
        if not (look["lang"] or "").lower().startswith(visit.lang):
            problems["html lang"] = [f"<html lang={look['lang']!r}> on a {visit.lang} page"]
    problems = {kind: found for kind, found in problems.items() if found}
    notes = {kind: found for kind, found in notes.items() if found}
    _report(visit, url, problems, notes)
    assert problems == {}, f"{visit.id} ({url}):\n" + "\n".join(
        f"  {kind}: {item}" for kind, found in problems.items() for item in found)

