"""serve: the users list under gunicorn (issue 16), 2 and 4 sync workers (and 4 forked from a `--preload`
master), 20 wrk connections, against a trivial route of the same server (a static file: Flask's own request
handling and nothing else), and the memory of each worker after the runs: resident (RSS), its proportional share
(PSS: pages shared with the master and the other workers count in part) and its own (USS: private pages).
100,000 users in one domain, 10,000 domains; SQLite and an ANALYZEd PostgreSQL.

Run: `bench/run.py serve` (by name only) or `python bench/serve.py`; BENCH_SERVE_USERS (100000),
BENCH_SERVE_DOMAINS (10000), BENCH_SECONDS (10).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import free_port, gunicorn, wait_http  # noqa: E402


def _wrk(url: str, token: str, connections: int) -> dict[str, float]:
    import re

    seconds = os.environ.get("BENCH_SECONDS", "10")
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
                          "-H", f"Authorization: Bearer {token}", url],
                         capture_output=True, text=True, check=True, timeout=int(seconds) + 60).stdout
    if "Non-2xx" in out:
        raise RuntimeError(out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]  # type: ignore[union-attr]
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50_ms": float(p50.group(1)) * scale}  # type: ignore[union-attr]


def _memory_mib(parent: int) -> dict[str, list[float]]:
    """RSS, PSS and USS of each worker (the children of the gunicorn master), from /proc/PID/smaps_rollup."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    sizes: dict[str, list[float]] = {"rss": [], "pss": [], "uss": []}
    for pid in children:
        kb = {line.split(":")[0]: int(line.split()[1])
              for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]}
        sizes["rss"].append(round(kb["Rss"] / 1024, 1))
        sizes["pss"].append(round(kb["Pss"] / 1024, 1))
        sizes["uss"].append(round((kb["Private_Clean"] + kb["Private_Dirty"]) / 1024, 1))
    return sizes


def prepare(database_url: str, domains: int, users: int) -> tuple[str, str]:
    from flask_migrate import upgrade

    from bench.datagen import generate_users
    from portal import create_app, ids
    from portal.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "REDIS_URL": None,
                      "RATELIMIT_STORAGE_URI": "memory://"})
    with app.app_context():
        upgrade()
        domain_pk, token = generate_users(domains, users)
        public = ids.encode(domain_pk)
        db.engine.dispose()
    return public, token


def run(label: str, database_url: str, domains: int, users: int) -> list[dict[str, Any]]:
    public, token = prepare(database_url, domains, users)
    env = {"POSTERN_DATABASE_URL": database_url, "POSTERN_SECRET_KEY": "bench", "POSTERN_REDIS_URL": "",
           "POSTERN_LOGIN_RATE_LIMIT": "1000000 per second"}
    results = []
    for workers, preload in ((2, False), (4, False), (4, True)):
        os.environ["BENCH_WORKERS"] = str(workers)
        port = free_port()
        server = gunicorn("app:app", port, env, ("--preload",) if preload else ())
        try:
            base = f"http://127.0.0.1:{port}"
            users_url = f"{base}/api/domains/{public}/users?pageSize=40"
            wait_http(users_url, {"Authorization": f"Bearer {token}"})
            trivial = f"{base}/static/css/postern.css"
            wait_http(trivial, {})
            _wrk(users_url, token, 20)  # warm-up: every worker has served lists
            listing, static = _wrk(users_url, token, 20), _wrk(trivial, token, 20)
            time.sleep(1)
            memory = _memory_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        result = {"benchmark": "serve", "database": label, "workers": workers, "preload": preload, "users": users,
                  "domains": domains,
                  "users_list_rps": round(listing["rps"], 1), "users_list_p50_ms": round(listing["p50_ms"], 1),
                  "trivial_rps": round(static["rps"], 1), "trivial_p50_ms": round(static["p50_ms"], 2),
                  "ratio": round(listing["rps"] / static["rps"], 3),
                  **{f"worker_{kind}_mib": sizes for kind, sizes in memory.items()}}
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def run_all() -> list[dict[str, Any]]:
    import psycopg

    users = int(os.environ.get("BENCH_SERVE_USERS", "100000"))
    domains = int(os.environ.get("BENCH_SERVE_DOMAINS", "10000"))
    results = run("sqlite", f"sqlite:///{tempfile.mkdtemp()}/serve.db", domains, users)
    pg = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"postern_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        results += run("postgresql", pg.rsplit("/", 1)[0] + "/" + name, domains, users)
    finally:
        with psycopg.connect(pg, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


if __name__ == "__main__":
    run_all()
