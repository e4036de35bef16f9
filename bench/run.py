"""Benchmarks (make bench; `bench/run.py NAME...` runs some). Not timed tests: they print figures and
ratios to the bare component underneath.

admins-list: GET /api/security/admins?search=*x*&sort=-login&pageSize=40 over 10,000 admins,
served by gunicorn, against a bare Flask route returning the same bytes from the same gunicorn
setup, both loaded by wrk. Run on SQLite and, when reachable, PostgreSQL.

quarantine: see bench/quarantine.py (BENCH_MESSAGES 10000, BENCH_RELEASES 200).

outbox: see bench/outbox.py (BENCH_WRITES 300, BENCH_REDIS_URL redis://127.0.0.1:6379/0).
db-outage: see bench/db_outage.py (BENCH_OUTAGE_TRIES 5): the time to the 503 with PostgreSQL frozen or stopped.
release-once: see bench/release_once.py (deliveries per 10 parallel releases of one message, gunicorn -w 4).
mailcheck: see bench/mailcheck.py (BENCH_CHECKS 200): a mail server check (STARTTLS + AUTH) vs raw smtplib.
statistics: see bench/stats_dashboard.py (BENCH_STAT_DOMAINS 100, BENCH_STAT_DAYS 365): the dashboard's statistics vs
the same numbers as a plain table, on SQLite and an ANALYZEd PostgreSQL.
mailqueue (by name only): see bench/mailqueue.py (BENCH_QUEUE_MESSAGES 10000): the queue's API and page vs postqueue -j.
qsearch (by name only): see bench/qsearch.py (BENCH_QSEARCH_MAILBOXES 200 x BENCH_QSEARCH_MESSAGES 1000 in Dovecot):
the domain-wide quarantine search vs the serial raw IMAP SEARCH commands, and the time to the first hit.
lists (by name only): see bench/lists.py: users lists at 1k / 10k / 100k users, the domains list (issue 16).
serve (by name only): see bench/serve.py: the users list under gunicorn -w 2 / -w 4, 20 clients, worker memory.
tracking (by name only): see bench/tracking.py (BENCH_LOG_MB 200): indexing a Postfix log (MB/s), search by queue id
and Message-ID vs grep -F, and the bytes read after 1 MB appended.

Environment: BENCH_ADMINS (10000), BENCH_SECONDS (10), BENCH_CONNECTIONS (8), BENCH_WORKERS (2),
BENCH_PG_URL (postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
QUERY = "/api/security/admins?search=*x*&sort=-login&pageSize=40"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, headers: dict[str, str], timeout: float = 30) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as resp:
                return resp.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def gunicorn(app_spec: str, port: int, env: dict[str, str], extra: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    workers = os.environ.get("BENCH_WORKERS", "2")
    return subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "-w", workers, "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "--chdir", str(ROOT), *extra, app_spec],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def wrk(url: str, token: str) -> dict[str, float]:
    seconds = os.environ.get("BENCH_SECONDS", "10")
    conns = os.environ.get("BENCH_CONNECTIONS", "8")
    out = subprocess.run(
        ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "10s",
         "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, check=True, timeout=int(seconds) + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses:\n{out}")
    return {"rps": rps, "p50_ms": float(p50.group(1)) * scale}


def prepare(database_url: str, admins: int) -> str:
    from flask_migrate import upgrade

    from bench.datagen import generate
    from portal import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        return generate(admins)


def bench_admins_list(label: str, database_url: str, admins: int) -> dict[str, object]:
    token = prepare(database_url, admins)
    env = {"POSTERN_DATABASE_URL": database_url, "POSTERN_SECRET_KEY": "bench",
           "POSTERN_LOGIN_RATE_LIMIT": "1000000 per second"}
    port = free_port()
    server = gunicorn("app:app", port, env)
    try:
        url = f"http://127.0.0.1:{port}{QUERY}"
        body = wait_http(url, {"Authorization": f"Bearer {token}"})
        total = len(json.loads(body))
        with tempfile.NamedTemporaryFile(delete=False, suffix=".json") as fh:
            fh.write(body)
        api = wrk(url, token)
    finally:
        server.terminate()
        server.wait(timeout=30)
    bare_port = free_port()
    bare = gunicorn("bench.bare_app:app", bare_port, {"BENCH_BODY_FILE": fh.name, "BENCH_DATABASE_URL": database_url})
    try:
        bare_url = f"http://127.0.0.1:{bare_port}{QUERY}"
        assert wait_http(bare_url, {}) == body
        base = wrk(bare_url, token)
        sql_url = f"http://127.0.0.1:{bare_port}/bench/admins-sql"
        assert len(json.loads(wait_http(sql_url, {}))) == total
        hand = wrk(sql_url, token)
    finally:
        bare.terminate()
        bare.wait(timeout=30)
        os.unlink(fh.name)
    result = {
        "benchmark": "admins-list", "database": label, "admins": admins, "page_items": total,
        "api_rps": round(api["rps"], 1), "api_p50_ms": round(api["p50_ms"], 2),
        "bare_rps": round(base["rps"], 1), "bare_p50_ms": round(base["p50_ms"], 2),
        "throughput_ratio": round(api["rps"] / base["rps"], 3),
        "sql_route_rps": round(hand["rps"], 1), "sql_route_p50_ms": round(hand["p50_ms"], 2),
        "ratio_to_sql_route": round(api["rps"] / hand["rps"], 3),
    }
    print(json.dumps(result))
    return result


def on_databases(label: str, bench: Callable[[str, str], dict[str, object]]) -> list[dict[str, object]]:
    """Run one benchmark on a fresh SQLite file and, when reachable, a fresh PostgreSQL database."""
    import psycopg

    results = []
    workdir = Path(tempfile.mkdtemp())
    results.append(bench("sqlite", f"sqlite:///{workdir / (label + '.db')}"))
    shutil.rmtree(workdir, ignore_errors=True)
    pg = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"postern_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(pg, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL not reachable ({exc}); its run is left out")
        return results
    try:
        results.append(bench("postgresql", pg.rsplit("/", 1)[0] + "/" + name))
    finally:
        with psycopg.connect(pg, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


def main() -> None:
    from bench import db_outage, mailcheck, outbox, quarantine, release_once, rules, stats_dashboard, users_page

    wanted = set(sys.argv[1:]) or {"admins-list", "users-page", "rules", "quarantine", "outbox", "db-outage",
                                   "release-once", "mailcheck", "statistics"}
    results: list[dict[str, object]] = []
    if "admins-list" in wanted:
        if shutil.which("wrk") is None:
            sys.exit("wrk is not installed: apt-get install wrk")
        admins = int(os.environ.get("BENCH_ADMINS", "10000"))
        results += on_databases("admins", lambda label, url: bench_admins_list(label, url, admins))
    if "users-page" in wanted:
        domains = int(os.environ.get("BENCH_DOMAINS", "10000"))
        users = int(os.environ.get("BENCH_USERS", "100000"))
        runs = int(os.environ.get("BENCH_RUNS", "30"))

        def one(label: str, url: str) -> dict[str, object]:
            result = users_page.run(url, label, domains=domains, users=users, runs=runs)
            print(json.dumps(result))
            return result

        results += on_databases("users", one)
    if "rules" in wanted:
        sizes = {"domains": int(os.environ.get("BENCH_RULE_DOMAINS", "10000")),
                 "users": int(os.environ.get("BENCH_RULE_USERS", "200000")),
                 "rules": int(os.environ.get("BENCH_RULES", "1000000"))}

        def rules_one(label: str, url: str) -> dict[str, object]:
            result = rules.run(url, label, **sizes)
            print(json.dumps(result))
            return result

        results += on_databases("rules", rules_one)
    if "quarantine" in wanted:
        result = quarantine.run("dovecot", messages=int(os.environ.get("BENCH_MESSAGES", "10000")),
                                runs=int(os.environ.get("BENCH_RUNS", "30")),
                                releases=int(os.environ.get("BENCH_RELEASES", "200")))
        print(json.dumps(result))
        results.append(result)
    if "outbox" in wanted:
        writes = int(os.environ.get("BENCH_WRITES", "300"))
        redis = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

        def outbox_one(label: str, url: str) -> dict[str, object]:
            result = outbox.run(url, label, writes=writes, redis_url=redis)
            print(json.dumps(result))
            return result

        results += on_databases("outbox", outbox_one)
    if "db-outage" in wanted:
        result = db_outage.run(os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
                               tries=int(os.environ.get("BENCH_OUTAGE_TRIES", "5")))
        print(json.dumps(result))
        results.append(result)
    if "release-once" in wanted:
        def release_one(label: str, url: str) -> dict[str, object]:
            result = release_once.run(label, url, ROOT, rounds=int(os.environ.get("BENCH_RELEASE_ROUNDS", "5")),
                                      parallel=int(os.environ.get("BENCH_PARALLEL", "10")))
            print(json.dumps(result))
            return result

        results += on_databases("release", release_one)
    if "mailcheck" in wanted:
        result = mailcheck.run(int(os.environ.get("BENCH_CHECKS", "200")))
        print(json.dumps(result))
        results.append(result)

        def mailcheck_api(label: str, url: str) -> dict[str, object]:
            result = mailcheck.run_api(label, url, int(os.environ.get("BENCH_CHECKS", "200")))
            print(json.dumps(result))
            return result

        results += on_databases("mailcheck", mailcheck_api)
    if "qsearch" in wanted:  # asked for by name only: it writes 200,000 Maildir files for a private Dovecot (minutes)
        from bench import qsearch

        for result in qsearch.run(int(os.environ.get("BENCH_QSEARCH_MAILBOXES", "200")),
                                  int(os.environ.get("BENCH_QSEARCH_MESSAGES", "1000")),
                                  int(os.environ.get("BENCH_QSEARCH_RUNS", "3"))):
            print(json.dumps(result))
            results.append(result)
    if "lists" in wanted:  # asked for by name only: 1k, 10k and 100k users on both databases (minutes)
        from bench import lists

        results += lists.run_all()
    if "serve" in wanted:  # asked for by name only: gunicorn -w 2 and -w 4 over 100,000 users
        from bench import serve

        results += serve.run_all()
    if "statistics" in wanted:
        def statistics_one(label: str, url: str) -> dict[str, object]:
            result = stats_dashboard.run(url, label, domains=int(os.environ.get("BENCH_STAT_DOMAINS", "100")),
                                         days=int(os.environ.get("BENCH_STAT_DAYS", "365")),
                                         runs=int(os.environ.get("BENCH_RUNS", "30")))
            print(json.dumps(result))
            return result

        results += on_databases("statistics", statistics_one)
    if "mailqueue" in wanted:  # asked for by name only: it injects 10,000 messages into a private Postfix (minutes)
        from bench import mailqueue

        for result in mailqueue.run(int(os.environ.get("BENCH_QUEUE_MESSAGES", "10000")),
                                    int(os.environ.get("BENCH_QUEUE_RUNS", "20"))):
            print(json.dumps(result))
            results.append(result)
    if "tracking" in wanted:  # asked for by name only: it writes and indexes a 200 MB log twice (minutes)
        from bench import tracking

        for result in tracking.run(float(os.environ.get("BENCH_LOG_MB", "200")),
                                   int(os.environ.get("BENCH_TRACKING_RUNS", "20"))):
            results.append(result)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
