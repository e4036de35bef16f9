"""A live server for the app and Debian's chromium driven by Playwright."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.services_runtime import CHROMIUM_ARGS, chromium_path, free_port, missing


@pytest.fixture(scope="session")
def live_url(app: Flask) -> Iterator[str]:
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        missing("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context()
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.console_messages_seen = []
    tab.on("console", lambda msg: tab.console_messages_seen.append(msg.text))
    yield tab
    context.close()


@pytest.fixture
def phone(browser) -> Iterator[object]:
    """A page on a 390 px touch phone (the phone walks of the pages)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()
