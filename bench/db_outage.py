"""db-outage: how long a request waits before the 503 "The database is unavailable" when PostgreSQL is frozen
(connections open, nothing answers) or stopped (connections closed, connects refused).

The app runs under gunicorn (BENCH_WORKERS sync workers) with the default database deadlines
(POSTERN_DB_CONNECT_TIMEOUT 5 s, POSTERN_DB_STATEMENT_TIMEOUT 15 s) against a fresh PostgreSQL database
reached through tests/tcp_proxy.py. Each try: the proxy flows, a few requests fill the pools, the proxy
freezes (or stops), then one API request (bearer token lookup) and one signed-in page are timed; median of
BENCH_OUTAGE_TRIES (5). The bare figure: the same requests with the database up.

Run: `bench/run.py db-outage` (BENCH_PG_URL as for the others)."""

from __future__ import annotations

import http.cookiejar
import re
import shutil
import statistics
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PASSWORD = "correct horse battery"


def _prepare(url: str) -> None:
    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import db
    from portal.models import Admin
    from portal.services.passwords import hash_password

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        db.session.add(Admin(login="ops", email="ops@example.org", password_hash=hash_password(PASSWORD),
                             sys_admin=True, enabled=True, session_nonce="bench"))
        db.session.commit()
        db.engine.dispose()


def _timed(opener: urllib.request.OpenerDirector, request: urllib.request.Request) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with opener.open(request, timeout=120) as resp:
            status = resp.status
            resp.read()
    except urllib.error.HTTPError as err:
        status = err.code
    return status, time.monotonic() - started


def _guard_cost(url: str, statements: int = 1000, rounds: int = 12) -> dict[str, float]:
    """What the deadline on every wait costs: `SELECT 1` round trips on a guarded connection against bare
    psycopg (the component underneath); rounds interleaved, best round of each (the machine is noisy)."""
    import psycopg

    from portal.integrations.database import GuardedConnection

    conns = {"bare": psycopg.Connection.connect(url, autocommit=True),
             "guarded": GuardedConnection.connect(url, autocommit=True)}
    best = dict.fromkeys(conns, float("inf"))
    try:
        for _ in range(rounds):
            for kind, conn in conns.items():
                started = time.perf_counter()
                for _ in range(statements):
                    conn.execute("SELECT 1")
                best[kind] = min(best[kind], (time.perf_counter() - started) / statements)
    finally:
        for conn in conns.values():
            conn.close()
    return {"select1_bare_us": round(best["bare"] * 1e6, 1), "select1_guarded_us": round(best["guarded"] * 1e6, 1),
            "guard_ratio": round(best["bare"] / best["guarded"], 3)}


def run(pg_admin_url: str, tries: int = 5) -> dict[str, object]:
    from bench.run import free_port, gunicorn, wait_http
    from tests.services_runtime import postgres_database
    from tests.tcp_proxy import TcpProxy

    with postgres_database(pg_admin_url) as url:
        _prepare(url.replace("postgresql://", "postgresql+psycopg://", 1))
        parts = urlsplit(url)
        proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432)).start()
        proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
        port = free_port()
        instance = Path(tempfile.mkdtemp(prefix="bench-outage-"))
        server = gunicorn("app:app", port, {"POSTERN_DATABASE_URL": proxied, "POSTERN_SECRET_KEY": "bench",
                                            "POSTERN_INSTANCE_DIR": str(instance),
                                            "POSTERN_LOGIN_RATE_LIMIT": "1000000 per second"})
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(base + "/login", {})
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            page = opener.open(base + "/login", timeout=30).read().decode()
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            opener.open(urllib.request.Request(base + "/login", data=urllib.parse.urlencode(
                {"csrf_token": token, "login": "ops", "password": PASSWORD}).encode()), timeout=30).read()

            def api() -> urllib.request.Request:
                return urllib.request.Request(base + "/api/security/admins",
                                              headers={"Authorization": "Bearer " + "0" * 32})

            def dashboard() -> urllib.request.Request:
                return urllib.request.Request(base + "/")

            figures: dict[str, list[float]] = {}
            statuses: dict[str, set[int]] = {}

            def measure(label: str, fault: Callable[[], None] | None) -> None:
                for _ in range(tries):
                    proxy.resume()
                    for _ in range(6):  # every worker has pooled connections again
                        _timed(opener, api())
                        _timed(opener, dashboard())
                    if fault:
                        fault()
                    for name, request in (("api", api), ("page", dashboard)):
                        status, took = _timed(opener, request())
                        figures.setdefault(f"{label}_{name}", []).append(took)
                        statuses.setdefault(f"{label}_{name}", set()).add(status)

            measure("up", None)
            measure("frozen", proxy.freeze)
            measure("stopped", proxy.stop)
        finally:
            server.terminate()
            server.wait(timeout=60)
            proxy.stop()
            shutil.rmtree(instance, ignore_errors=True)
    result: dict[str, object] = {"benchmark": "db-outage", "database": "postgresql", "tries": tries,
                                 **_guard_cost(pg_admin_url)}
    for key, values in figures.items():
        result[f"{key}_median_s"] = round(statistics.median(values), 3)
        result[f"{key}_max_s"] = round(max(values), 3)
        result[f"{key}_statuses"] = sorted(statuses[key])
    return result
