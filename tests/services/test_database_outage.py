"""A database that freezes or stops answers 503 "The database is unavailable" in bounded time (problem+json in
the API, a page in the portal), and the app serves again once it is back; a schema changed under a running
process is noticed.

The app runs under a real HTTP server (werkzeug, threaded) against a real PostgreSQL reached through a
TCP proxy that can freeze (connections stay open, nothing moves) or stop (connections closed, connects
refused). The bounds are generous deadlines, not timings."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import flask_migrate
import pytest
from flask import Flask
from werkzeug.serving import make_server

from portal import create_app
from portal.extensions import db
from portal.models import Admin
from portal.services.passwords import hash_password
from tests.services_runtime import free_port, missing, postgres_database
from tests.tcp_proxy import TcpProxy

STATEMENT = 2.0  # POSTERN_DB_STATEMENT_TIMEOUT for these apps
CONNECT = 2.0  # POSTERN_DB_CONNECT_TIMEOUT
BOUND = 20.0  # a 503 must come well before this (the request's own client gives up at 60 s)
PASSWORD = "correct horse battery"


def _app(url: str, tmp_path: Path, **extra: Any) -> Flask:
    return create_app({
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "outage-test", "INSTANCE_DIR": tmp_path,
        "PASSWORD_HASHER": "fast", "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://",
        "LOGIN_RATE_LIMIT": "1000 per minute", "DB_STATEMENT_TIMEOUT": STATEMENT, "DB_CONNECT_TIMEOUT": CONNECT,
        **extra,
    })


@contextmanager
def served(app: Flask) -> Iterator[str]:
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(10)


class Browser:
    """Cookies and CSRF, over real HTTP with a client-side timeout (a hang fails instead of blocking)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path: str, data: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str, float]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        started = time.monotonic()
        try:
            with self.opener.open(req, timeout=60) as resp:
                status, head, text = resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as err:
            status, head, text = err.code, dict(err.headers), err.read().decode()
        return status, head, text, time.monotonic() - started

    def login(self, login: str, password: str) -> None:
        _, _, page, _ = self.request("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        self.request("/login", {"csrf_token": token.group(1), "login": login, "password": password})
        status, _, _, _ = self.request("/")
        assert status == 200


def _api(browser: Browser) -> tuple[int, dict[str, str], str, float]:
    """An API call that reads the database (the token lookup): 401 with the database up."""
    return browser.request("/api/security/admins", headers={"Authorization": "Bearer " + "0" * 32})


def _assert_unavailable(browser: Browser) -> None:
    status, head, text, took = browser.request("/")
    assert status == 503 and took < BOUND, (status, took)
    assert "The database is unavailable" in text and "Traceback" not in text
    assert head.get("Retry-After")
    status, head, text, took = _api(browser)
    assert status == 503 and took < BOUND, (status, took)
    assert head["Content-Type"].startswith("application/problem+json")
    assert json.loads(text)["detail"] == "The database is unavailable."


def _assert_serving(browser: Browser) -> None:
    deadline = time.monotonic() + BOUND  # the first request after the outage may still meet a dead connection
    while True:
        page, api = browser.request("/")[0], _api(browser)[0]
        if (page, api) == (200, 401) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert (page, api) == (200, 401)


@pytest.fixture
def pg_admin_url() -> str:
    url = os.environ.get("POSTERN_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        missing(f"PostgreSQL at {url} is not usable: {exc}")
    return url


def test_frozen_or_stopped_postgresql_answers_503_then_serves_again(pg_admin_url: str, tmp_path: Path) -> None:
    with postgres_database(pg_admin_url) as url:
        parts = urlsplit(url)
        proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432)).start()
        proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
        app = _app(proxied, tmp_path)
        with app.app_context():
            flask_migrate.upgrade()
            db.session.add(Admin(login="ops", email="ops@example.org", password_hash=hash_password(PASSWORD),
                                 sys_admin=True, enabled=True, session_nonce="n0nce"))
            db.session.commit()
        try:
            with served(app) as base:
                browser = Browser(base)
                browser.login("ops", PASSWORD)
                _assert_serving(browser)

                proxy.freeze()  # pooled connections hang; new ones connect and then hear nothing
                _assert_unavailable(browser)
                proxy.resume()
                _assert_serving(browser)

                proxy.stop()  # connections closed, connects refused
                _assert_unavailable(browser)
                proxy.resume()
                _assert_serving(browser)
        finally:
            proxy.stop()
            with app.app_context():
                db.engine.dispose()


@pytest.mark.parametrize(("idle_seconds", "first_answer"), [(0.0, 401), (3600.0, 503)])
def test_a_pooled_connection_cut_while_idle_is_pinged_and_replaced(pg_admin_url: str, tmp_path: Path,
                                                                   idle_seconds: float, first_answer: int) -> None:
    """No ping on a busy pool's checkout (issue 16), but one on a connection idle POSTERN_DB_PING_IDLE_SECONDS:
    when it was cut meanwhile, a new one serves the request. Without the ping (a long threshold) the same
    request meets the dead connection: 503, and the pool starts over."""
    with postgres_database(pg_admin_url) as url:
        parts = urlsplit(url)
        proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432)).start()
        proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
        app = _app(proxied, tmp_path, DB_PING_IDLE_SECONDS=idle_seconds)
        with app.app_context():
            flask_migrate.upgrade()
        try:
            with served(app) as base:
                browser = Browser(base)
                assert _api(browser)[0] == 401  # a pooled connection, idle from here on
                proxy.stop()  # it is cut
                proxy.resume()
                assert _api(browser)[0] == first_answer
                _assert_serving(browser)
        finally:
            proxy.stop()
            with app.app_context():
                db.engine.dispose()


def test_postgresql_connections_carry_the_timeouts(pg_admin_url: str, tmp_path: Path) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    app = _app(pg_admin_url, tmp_path, DB_STATEMENT_TIMEOUT=1.0)
    with app.app_context():
        try:
            assert db.session.execute(text("SHOW statement_timeout")).scalar() == "1s"
            started = time.monotonic()
            with pytest.raises(OperationalError, match="statement timeout"):
                db.session.execute(text("SELECT pg_sleep(5)"))
            assert time.monotonic() - started < 5  # the server cancelled it at 1 s
            db.session.rollback()
        finally:
            db.session.remove()
            db.engine.dispose()


def test_sqlite_locked_beyond_its_busy_timeout_is_a_503(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    app = _app(f"sqlite:///{path}", tmp_path, DB_STATEMENT_TIMEOUT=1.0)
    with app.app_context():
        flask_migrate.upgrade()
        db.session.add(Admin(login="ops", email="ops@example.org", password_hash=hash_password(PASSWORD),
                             sys_admin=True, enabled=True, session_nonce="n0nce"))
        db.session.commit()
    with served(app) as base:
        browser = Browser(base)
        browser.login("ops", PASSWORD)
        holder = sqlite3.connect(path, timeout=1)
        try:
            holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock (and, in WAL, blocks readers
            # only for writes: the page's login stamp or a write is what waits)
            _, _, page, _ = browser.request("/")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert token
            status, _, text, took = browser.request("/language", {"csrf_token": token.group(1), "lang": "FR"})
            assert status == 503 and took < BOUND, (status, took)
            assert "The database is unavailable" in text or "La base de données" in text
        finally:
            holder.rollback()
            holder.close()


@contextmanager
def private_database(tmp_path: Path) -> Iterator[str]:
    """A database of its own (the suite's is shared): a fresh PostgreSQL one under POSTERN_TEST_DATABASE_URL,
    else a SQLite file."""
    admin_url = os.environ.get("POSTERN_TEST_DATABASE_URL")
    if admin_url:
        with postgres_database(admin_url) as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'schema.db'}"


def test_a_schema_changed_under_a_running_process_is_noticed(tmp_path: Path) -> None:
    """Downgraded by another process: the running app answers 503 at its next re-check (a new pooled
    connection, or the period), and serves again once upgraded."""
    with private_database(tmp_path) as url:
        app = _app(url, tmp_path / "a", SCHEMA_RECHECK_SECONDS=3600)
        other = _app(url, tmp_path / "b")  # the operator's `flask db downgrade`, elsewhere
        with other.app_context():
            flask_migrate.upgrade()
        client = app.test_client()
        try:
            login_page = client.get("/login")
            assert login_page.status_code == 200
            token = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text)
            assert token
            with other.app_context():
                flask_migrate.downgrade(revision="-1")
            assert client.get("/login").status_code == 200  # checked a moment ago, same connections
            with app.app_context():
                db.engine.dispose()  # the pool's next connection is new: it re-checks
            response = client.post("/login", data={"csrf_token": token.group(1), "login": "ops", "password": "x"})
            assert response.status_code == 503  # the request that opened it (its page reads no account)
            assert "flask --app app db upgrade" in response.text
            api = client.get("/api/security/admins", headers={"Authorization": "Bearer " + "0" * 32})
            assert api.status_code == 503 and api.headers["Content-Type"].startswith("application/problem+json")
            assert "flask --app app db upgrade" in api.json["detail"]  # and every one after it
            with other.app_context():
                flask_migrate.upgrade()
            assert client.get("/login").status_code == 200

            timed = _app(url, tmp_path / "c", SCHEMA_RECHECK_SECONDS=0.5)
            timed_client = timed.test_client()
            assert timed_client.get("/login").status_code == 200
            with other.app_context():
                flask_migrate.downgrade(revision="-1")
            time.sleep(1.0)  # past the period; no new connection
            assert timed_client.get("/login").status_code == 503
            with other.app_context():
                flask_migrate.upgrade()
            assert timed_client.get("/login").status_code == 200
        finally:
            for each in (app, other, *([timed] if "timed" in locals() else [])):
                with each.app_context():
                    db.engine.dispose()


def test_a_table_dropped_under_a_running_process_is_a_503_before_the_recheck(tmp_path: Path) -> None:
    """Probe: gunicorn -w 4 on PostgreSQL, `flask db downgrade` by the operator: until each worker's next
    re-check (30 s), a rule write (its job's outbox row) and the Jobs page answered a generic 500. A statement
    that meets a missing table now re-checks at once and answers the schema's 503."""
    with private_database(tmp_path) as url:
        app = _app(url, tmp_path / "a", SCHEMA_RECHECK_SECONDS=3600)
        other = _app(url, tmp_path / "b")
        with other.app_context():
            flask_migrate.upgrade()
            db.session.add(Admin(login="ops", email="ops@example.org", password_hash=hash_password(PASSWORD),
                                 sys_admin=True, enabled=True, session_nonce="n0nce"))
            db.session.commit()
        try:
            with served(app) as base:
                browser = Browser(base)
                browser.login("ops", PASSWORD)
                assert browser.request("/admin/jobs")[0] == 200
                with other.app_context():
                    flask_migrate.downgrade(revision="0007_release_claims")  # drops the job outbox (and what follows)
                status, _, text, _ = browser.request("/admin/jobs")  # same pooled connection, no re-check due
                assert status == 503, (status, text[:300])
                assert "Traceback" not in text
                with other.app_context():
                    flask_migrate.upgrade()
                assert browser.request("/admin/jobs")[0] == 200
        finally:
            for each in (app, other):
                with each.app_context():
                    db.engine.dispose()
