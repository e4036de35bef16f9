"""tracking: message tracking over a synthetic Postfix log (BENCH_LOG_MB, 200 MB by default).

- indexing: the whole log through `services.tracking.index_mail_log` (one chunk per transaction, as the job does),
  MB/s;
- search: `GET /api/mailtracking?queueId=…` and `?messageId=…` (in-process test client, a day's range) against
  `grep -F` of the same id over the same file (the bare tool an operator would use). Goal: a ratio ≤ 2;
- incremental: 1 MB appended, then the indexer runs again: the bytes it read must be exactly the appended ones.

Runs alternate (ours, grep, ours, …) after a warm-up; medians. SQLite and, when reachable, PostgreSQL.
Run: `bench/run.py tracking` (by name only) or `python bench/tracking.py`. Environment: BENCH_LOG_MB (200),
BENCH_TRACKING_RUNS (20), BENCH_PG_URL.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
START = datetime(2026, 11, 1, 0, 0, 0)  # the log covers from here on (a message every ~2 seconds)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _stamp(when: datetime) -> str:
    return f"{MONTHS[when.month - 1]} {when.day:2d} {when:%H:%M:%S}"


def message_lines(n: int, when: datetime, rng: random.Random) -> list[str]:
    """One message's lines (received, cleanup, queued, 1-3 deliveries, sometimes a deferral first, removed)."""
    qid = f"{0x10000000 + n:X}"
    s, pid = _stamp(when), 1000 + n % 500
    lines = [f"{s} gw postfix/smtpd[{pid}]: {qid}: client=mx{n % 313}.sender{n % 97}.example[192.0.2.{n % 250}]",
             f"{s} gw postfix/cleanup[{pid + 1}]: {qid}: message-id=<{n}.{n * 7919 % 100003}@sender{n % 97}.example>",
             f"{s} gw postfix/qmgr[99]: {qid}: from=<user{n % 1013}@sender{n % 97}.example>, size={2000 + n % 50000}, "
             f"nrcpt={1 + n % 3} (queue active)"]
    later = _stamp(when + timedelta(seconds=1))
    for r in range(1 + n % 3):
        to = f"rcpt{(n + r) % 5003}@dest{(n + r) % 211}.example"
        if rng.random() < 0.1:
            lines.append(f"{later} gw postfix/smtp[{pid + 2}]: {qid}: to=<{to}>, relay=none, delay=1.2, "
                         f"delays=0.1/0/1.1/0, dsn=4.4.1, status=deferred (connect to dest{(n + r) % 211}.example"
                         f"[198.51.100.{r}]:25: Connection timed out)")
        lines.append(f"{later} gw postfix/smtp[{pid + 2}]: {qid}: to=<{to}>, relay=mx.dest{(n + r) % 211}.example"
                     f"[198.51.100.{r + 10}]:25, delay=1.4, delays=0.1/0/0.4/0.9, dsn=2.0.0, status=sent "
                     f"(250 2.0.0 Ok: queued as {n:X}{r})")
    lines.append(f"{later} gw postfix/qmgr[99]: {qid}: removed")
    return lines


def generate(path: Path, megabytes: float, first: int = 0, start: datetime = START) -> tuple[int, int]:
    """Append messages until the file grew by `megabytes`; returns (messages written, the next number)."""
    rng = random.Random(first)
    target, written, n = int(megabytes * 1024 * 1024), 0, first
    with path.open("a") as fh:
        buffer: list[str] = []
        while written < target:
            text = "\n".join(message_lines(n, start + timedelta(seconds=2 * (n - first)), rng)) + "\n"
            buffer.append(text)
            written += len(text)
            n += 1
            if len(buffer) >= 2000:
                fh.write("".join(buffer))
                buffer.clear()
        fh.write("".join(buffer))
    return n - first, n


def grep(path: Path, needle: str) -> float:
    started = time.perf_counter()
    out = subprocess.run(["grep", "-F", "--", needle, str(path)], capture_output=True, check=True).stdout
    elapsed = time.perf_counter() - started
    assert out
    return elapsed


def measure(label: str, database_url: str, log: Path, messages: int, runs: int) -> list[dict[str, object]]:
    import flask_migrate

    from portal import create_app
    from portal.extensions import db
    from portal.models import Admin
    from portal.services import tokens, tracking
    from portal.services.passwords import hash_password

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "REDIS_URL": None,
                      "RATELIMIT_STORAGE_URI": "memory://", "INSTANCE_DIR": tempfile.mkdtemp(),
                      "MAIL_LOG": str(log), "MAIL_LOG_CHUNK_BYTES": 8 * 1024 * 1024,
                      "DB_STATEMENT_TIMEOUT": 300})
    now = START + timedelta(seconds=2 * messages + 3600)
    results: list[dict[str, object]] = []
    with app.app_context():
        flask_migrate.upgrade()
        admin = Admin(login="bench", sys_admin=True, password_hash=hash_password("bench password long"))
        db.session.add(admin)
        db.session.flush()
        _, token = tokens.issue(admin, "bench")
        db.session.commit()
        size = log.stat().st_size
        started, read = time.perf_counter(), 0
        while True:
            result = tracking.index_mail_log(now=now)
            db.session.commit()
            read += result.bytes_read
            if not result.more:
                break
        seconds = time.perf_counter() - started
        assert read == size, (read, size)
        results.append({"benchmark": "tracking", "what": "index the whole log", "database": label,
                        "log_mb": round(size / 2**20, 1), "messages": messages, "seconds": round(seconds, 1),
                        "mb_per_s": round(size / 2**20 / seconds, 2)})
        print(json.dumps(results[-1]), flush=True)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(7)

    def ours(args: dict[str, str], when: datetime) -> float:
        query = {**args, "start": (when - timedelta(hours=12)).isoformat(), "end": (when + timedelta(hours=12))
                 .isoformat()}
        started = time.perf_counter()
        answer = client.get("/api/mailtracking", query_string=query, headers=headers)
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200 and answer.json and answer.json[0]["events"], answer.text[:300]
        return elapsed

    for what in ("queueId", "messageId"):
        ours_times, grep_times = [], []
        for run in range(runs + 3):
            n = rng.randrange(messages)
            when = START + timedelta(seconds=2 * n)
            value = f"{0x10000000 + n:X}" if what == "queueId" else f"{n}.{n * 7919 % 100003}@sender{n % 97}.example"
            mine, theirs = ours({what: value}, when), grep(log, value)
            if run >= 3:
                ours_times.append(mine)
                grep_times.append(theirs)
        ours_ms, grep_ms = statistics.median(ours_times) * 1000, statistics.median(grep_times) * 1000
        results.append({"benchmark": "tracking", "what": f"search by {what} vs grep -F", "database": label,
                        "runs": runs, "ours_median_ms": round(ours_ms, 2), "grep_median_ms": round(grep_ms, 1),
                        "ratio": round(ours_ms / grep_ms, 3), "goal": 2})
        print(json.dumps(results[-1]), flush=True)
    # incremental: 1 MB more, then the indexer reads exactly that
    before = log.stat().st_size
    added, _ = generate(log, 1, first=messages + 1_000_000, start=now)
    appended = log.stat().st_size - before
    with app.app_context():
        started, read = time.perf_counter(), 0
        while True:
            result = tracking.index_mail_log(now=now + timedelta(days=1))
            db.session.commit()
            read += result.bytes_read
            if not result.more:
                break
        seconds = time.perf_counter() - started
        db.engine.dispose()
    results.append({"benchmark": "tracking", "what": "index after 1 MB appended", "database": label,
                    "appended_bytes": appended, "bytes_read": read, "exact": read == appended,
                    "messages": added, "seconds": round(seconds, 2)})
    print(json.dumps(results[-1]), flush=True)
    # the search finds a message of the appended part
    n = messages + 1_000_000 + added // 2
    when = now + timedelta(seconds=2 * (added // 2))
    ours({"queueId": f"{0x10000000 + n:X}"}, when)
    return results


def run(megabytes: float = 200, runs: int = 20) -> list[dict[str, object]]:
    import uuid

    import psycopg

    workdir = Path(tempfile.mkdtemp())
    template = workdir / "template.log"
    started = time.perf_counter()
    messages, _ = generate(template, megabytes)
    print(json.dumps({"generated_mb": round(template.stat().st_size / 2**20, 1), "messages": messages,
                      "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    results: list[dict[str, object]] = []
    log = workdir / "sqlite.log"
    subprocess.run(["cp", str(template), str(log)], check=True)
    results += measure("sqlite", f"sqlite:///{workdir}/tracking.db", log, messages, runs)
    pg = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"postern_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(pg, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL not reachable ({exc}); its run is left out")
        return results
    try:
        log = workdir / "pg.log"
        subprocess.run(["cp", str(template), str(log)], check=True)
        results += measure("postgresql", pg.rsplit("/", 1)[0] + "/" + name, log, messages, runs)
    finally:
        with psycopg.connect(pg, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
    return results


if __name__ == "__main__":
    for result in run(float(os.environ.get("BENCH_LOG_MB", "200")), int(os.environ.get("BENCH_TRACKING_RUNS", "20"))):
        print(json.dumps(result), flush=True)
