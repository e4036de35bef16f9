"""mailqueue: 10,000 deferred messages in a private Postfix; the API's list page (`GET /api/mailqueue`, 40 rows,
X-Total-Count) and the Mail queue page (`GET /admin/mailqueue`, 50 rows and the counts) against the raw work
underneath: `postqueue -j` run and every line parsed with json.loads. Goal: a ratio ≤ 1.3.

The queue is Postfix's, not the database's: SQLite and PostgreSQL runs differ only by the token / session look-up
and the audit-free GET's commit. Injection: `sendmail` in 4 parallel loops into a Postfix with
`defer_transports = smtp`, so qmgr moves each message to the deferred queue without trying the relay.
Runs alternate (ours, raw, ours, ...) after a warm-up; medians. In-process test client (no HTTP).

Run: `bench/run.py mailqueue` or `python bench/mailqueue.py`. Environment: BENCH_QUEUE_MESSAGES (10000),
BENCH_QUEUE_RUNS (20), BENCH_PG_URL.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def inject(config: str, count: int) -> float:
    """`count` messages through sendmail, 4 at a time; seconds it took."""
    started = time.perf_counter()

    def one(n: int) -> None:
        text = f"From: s{n % 97}@a.example\nTo: r{n}@b.example\nSubject: bench {n}\n\nbody {n}\n".encode()
        subprocess.run(["/usr/sbin/sendmail", "-C", config, "-f", f"s{n % 97}@a.example", f"r{n}@b.example"],
                       input=text, check=True, timeout=60)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - started


def raw(config: str) -> float:
    """The bare component: postqueue -j, every line parsed."""
    started = time.perf_counter()
    out = subprocess.run(["/usr/sbin/postqueue", "-c", config, "-j"], capture_output=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    elapsed = time.perf_counter() - started
    assert rows
    return elapsed


def measure(label: str, database_url: str, config: str, expected: int, runs: int) -> list[dict[str, object]]:
    import flask_migrate

    from portal import create_app
    from portal.extensions import db
    from portal.models import Admin
    from portal.services import tokens
    from portal.services.passwords import hash_password
    from tests.conftest import login

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "REDIS_URL": None,
                      "RATELIMIT_STORAGE_URI": "memory://", "INSTANCE_DIR": tempfile.mkdtemp(),
                      "POSTFIX_CONFIG": config, "POSTFIX_BIN": "/usr/sbin", "WTF_CSRF_ENABLED": True})
    with app.app_context():
        flask_migrate.upgrade()
        admin = Admin(login="bench", sys_admin=True, password_hash=hash_password("bench password long"))
        db.session.add(admin)
        db.session.flush()
        _, token = tokens.issue(admin, "bench")
        db.session.commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    page = app.test_client()
    assert login(page, "bench", "bench password long").status_code == 302

    def api_list() -> float:
        started = time.perf_counter()
        answer = api.get("/api/mailqueue?pageSize=40", headers=headers)
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200 and answer.headers["X-Total-Count"] == str(expected), answer.text[:300]
        return elapsed

    def html_page() -> float:
        started = time.perf_counter()
        answer = page.get("/admin/mailqueue")
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200 and "mailqueue-table" in answer.text
        return elapsed

    results = []
    for name, ours in (("GET /api/mailqueue", api_list), ("GET /admin/mailqueue", html_page)):
        for _ in range(3):
            ours()
            raw(config)
        ours_times, raw_times = [], []
        for _ in range(runs):
            ours_times.append(ours())
            raw_times.append(raw(config))
        ours_ms, raw_ms = statistics.median(ours_times) * 1000, statistics.median(raw_times) * 1000
        results.append({"benchmark": "mailqueue", "what": name, "database": label, "messages": expected,
                        "runs": runs, "ours_median_ms": round(ours_ms, 1), "raw_median_ms": round(raw_ms, 1),
                        "ratio": round(ours_ms / raw_ms, 3), "goal": 1.3})
    with app.app_context():
        db.engine.dispose()
    return results


def run(messages: int = 10000, runs: int = 20) -> list[dict[str, object]]:
    import uuid

    import psycopg

    from tests.services_runtime import postfix_queue

    results: list[dict[str, object]] = []
    with postfix_queue({"defer_transports": "smtp"}) as postfix:
        seconds = inject(postfix.config, messages)
        postfix.wait_for(lambda q: len(q) == messages and all(e["queue_name"] == "deferred" for e in q), 600)
        print(json.dumps({"injected": messages, "seconds": round(seconds, 1)}), flush=True)
        workdir = tempfile.mkdtemp()
        results += measure("sqlite", f"sqlite:///{workdir}/mailqueue.db", postfix.config, messages, runs)
        pg = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
        name = f"postern_bench_{uuid.uuid4().hex[:8]}"
        try:
            with psycopg.connect(pg, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError as exc:
            print(f"PostgreSQL not reachable ({exc}); its run is left out")
            return results
        try:
            results += measure("postgresql", pg.rsplit("/", 1)[0] + "/" + name, postfix.config, messages, runs)
        finally:
            with psycopg.connect(pg, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


if __name__ == "__main__":
    for result in run(int(os.environ.get("BENCH_QUEUE_MESSAGES", "10000")),
                      int(os.environ.get("BENCH_QUEUE_RUNS", "20"))):
        print(json.dumps(result), flush=True)
