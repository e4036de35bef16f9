"""The portal as it is served: `make run`'s server and a gunicorn deployment answer a too-long request line
or header at once (414/431), and logout and the per-account sign-in limit hold across worker processes."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.cookiejar import CookieJar
from pathlib import Path

from flask import Flask

from portal.extensions import db
from portal.models import LoginThrottle
from portal.services import login_throttle
from tests.services_runtime import REPOSITORY, _server_environment, free_port, gunicorn_app
from tests.world import PASSWORD, World

DEADLINE = 20.0  # seconds for one answer: generous, the point is "not minutes"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """Cookies and CSRF tokens, as a browser keeps them; redirects are not followed."""

    def __init__(self, base: str) -> None:
        self.base, self.jar = base, CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def open(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, Location, body)"""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            response = self.opener.open(urllib.request.Request(self.base + path, data=body), timeout=DEADLINE)
            return response.status, response.headers.get("Location", ""), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Location", ""), error.read().decode()

    def token(self, path: str) -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.open(path)[2])
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def sign_in(self, login: str, password: str) -> int:
        return self.open("/login", {"csrf_token": self.token("/login"), "login": login, "password": password})[0]

    @property
    def cookie(self) -> str:
        return next(f"{c.name}={c.value}" for c in self.jar if c.name == "session")


def _raw(base: str, head: str) -> bytes:
    """Send `head` on a socket and read the answer until the server closes, within DEADLINE."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=DEADLINE) as sock:
        sock.sendall(head.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _get(base: str, target: str, cookie: str, extra: str = "") -> bytes:
    host = base.removeprefix("http://")
    return _raw(base, f"GET {target} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n{extra}Connection: close\r\n\r\n")


def _environment(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"POSTERN_DATABASE_URL": database_url, "POSTERN_INSTANCE_DIR": str(tmp_path),
            "POSTERN_LOGIN_RATE_LIMIT": "1000 per minute"}


@contextmanager
def make_run_server(environment: dict[str, str]) -> Iterator[str]:
    """The command `make run` serves with (its last line), on a free port; stopped by its process group.

    Its output goes to a pipe that nobody reads, as when a tool starts `make run` and only looks at its
    output later: the reported hang. Werkzeug's development server (`flask run`) writes a log line per request
    holding the whole request line; once the pipe's 64 KB were full, every request waited on that write."""
    port = free_port()
    planned = subprocess.run(["make", "-n", "--no-print-directory", "run", "HOST=127.0.0.1", f"PORT={port}"],
                             cwd=REPOSITORY, capture_output=True, text=True, timeout=60, check=True)
    command = planned.stdout.strip().splitlines()[-1]
    proc = subprocess.Popen(["bash", "-c", command], cwd=REPOSITORY, env=_server_environment(environment),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        pause = threading.Event()
        for _ in range(600):
            try:
                if urllib.request.urlopen(base + "/login", timeout=DEADLINE).status == 200:
                    break
            except OSError:
                if proc.poll() is not None:
                    break
                pause.wait(0.1)
        else:
            raise RuntimeError("make run's server did not answer")
        assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-4000:] if proc.stdout else ""
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _assert_refuses_long_requests(base: str) -> None:
    browser = Browser(base)
    assert browser.sign_in("root", PASSWORD) == 302
    cookie = browser.cookie
    assert _get(base, "/admin/domains?value=short", cookie).startswith(b"HTTP/1.1 200")
    for size in (5000, 9000, 30000):
        answer = _get(base, "/admin/domains?value=" + "a" * size, cookie)
        assert answer.startswith(b"HTTP/1.1 414"), (size, answer[:200])
    answer = _get(base, "/admin/domains", cookie, extra=f"X-Filler: {'b' * 9000}\r\n")
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


def test_make_run_answers_long_requests_at_once(database_url: str, world: World, tmp_path: Path) -> None:
    with make_run_server(_environment(database_url, tmp_path)) as base:
        _assert_refuses_long_requests(base)
        cookie = _signed_in_cookie(base)
        for size in [2000, 9000] * 20:  # 200 KB of request lines: more than a pipe holds
            answer = _get(base, "/admin/domains?value=" + "a" * size, cookie)
            assert answer.startswith(b"HTTP/1.1 200" if size < 4000 else b"HTTP/1.1 414"), (size, answer[:200])


def _signed_in_cookie(base: str) -> str:
    browser = Browser(base)
    assert browser.sign_in("root", PASSWORD) == 302
    return browser.cookie


def test_gunicorn_answers_long_requests_and_ends_sessions_across_workers(
        app: Flask, database_url: str, world: World, tmp_path: Path) -> None:
    with gunicorn_app(_environment(database_url, tmp_path), workers=2) as base:
        _assert_refuses_long_requests(base)

        browser = Browser(base)
        assert browser.sign_in("admin-a", PASSWORD) == 302
        copied = browser.cookie
        assert all(_get(base, "/admin/domains", copied).startswith(b"HTTP/1.1 200") for _ in range(4))
        assert browser.open("/logout", {"csrf_token": browser.token("/")})[0] == 302
        for _ in range(4):  # whichever worker answers
            answer = _get(base, "/admin/domains", copied)
            assert answer.startswith(b"HTTP/1.1 302") and b"Location: /login" in answer, answer[:300]

        for i in range(5):  # POSTERN_LOGIN_ACCOUNT_FAILURES, each on a new connection, to any worker
            assert Browser(base).sign_in("admin-b", f"guess {i}") == 400
        assert Browser(base).sign_in("admin-b", PASSWORD) == 429
        assert Browser(base).sign_in("admin-a", PASSWORD) == 302

        ready = [(browser, browser.token("/login")) for browser in (Browser(base) for _ in range(8))]

        def guess(pair: tuple[Browser, str]) -> int:
            return pair[0].open("/login", {"csrf_token": pair[1], "login": "broker1", "password": "guess"})[0]

        with ThreadPoolExecutor(len(ready)) as pool:  # at the same time: every failure is counted once
            codes = list(pool.map(guess, ready))
        assert sorted(set(codes)) in ([400], [400, 429]), codes
    with app.app_context():
        row = db.session.get(LoginThrottle, login_throttle.key("admin", "broker1"))
        assert row is not None and row.failures == codes.count(400), (row and row.failures, codes)
