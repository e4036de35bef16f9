"""qsearch: the domain-wide quarantine search (issue 15) over many Dovecot mailboxes, against the raw IMAP work.

The issue asks 1,000 mailboxes x 1,000 held messages. The mail is written straight into Dovecot's mail location
as Maildir files (no IMAP APPEND: a million APPENDs take far longer than the search), arrival times spread over
the last 20 days; 1 mailbox in 50 also holds one message from the searched sender. Dovecot then indexes each
mailbox on its first SELECT / SEARCH (a warm-up pass, not measured). Defaults are scaled down for a 2-core
machine shared with others: BENCH_QSEARCH_MAILBOXES (200) x BENCH_QSEARCH_MESSAGES (1000); set them to 1000 x
1000 for the issue's size.

Measured, after the warm-up (medians of BENCH_QSEARCH_RUNS, default 3):
- raw SEARCH sum: the SEARCH commands alone (FROM + SINCE + BEFORE, as the search sends), one mailbox after the
  other on connections already logged in and SELECTed: the serial sum of the raw commands;
- raw serial: per mailbox connect + master login + SELECT + SEARCH + LOGOUT, one after the other (what one
  connection at a time costs, all the exchanges a search of a mailbox needs);
- raw parallel: the raw serial pass's exchanges on 4 threads (what Dovecot and the machine give at that
  concurrency, without Postern: the ceiling of ours);
- ours: `quarantine_search.start` then the job (`run`) with POSTERN_QSEARCH_CONCURRENCY connections (4, and 1
  for the ratio), wall time, and the time to the first hit (a second thread watching the hits table).
Goal: ours (4 connections) at least 3x faster than the raw serial pass.

Run: `bench/run.py qsearch` or `python bench/qsearch.py`. SQLite for the portal's own tables.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENDER = "billing@supplier.example"
DOMAIN = "bench.example"
DAY = 86400


def write_mailboxes(mail_dir: Path, mailboxes: int, messages: int) -> float:
    """Maildir files for u0..u{n-1}@bench.example under Dovecot's mail location; seconds it took."""
    started = time.perf_counter()
    now = time.time()
    for m in range(mailboxes):
        folder = mail_dir / DOMAIN / f"u{m}" / "Maildir" / ".Quarantine"
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder.parent / "cur").mkdir(exist_ok=True)
        (folder.parent / "new").mkdir(exist_ok=True)
        (folder.parent / "tmp").mkdir(exist_ok=True)
        (folder / "maildirfolder").touch()
        for n in range(messages):
            hit = n == 0 and m % 50 == 0
            sender = SENDER if hit else f"s{(m * 7 + n) % 997}@spam{n % 13}.example"
            subject = f"Invoice {m}" if hit else f"offer {n}"
            arrived = now - (n % 20) * DAY - 3600
            text = (f"From: {sender}\nTo: u{m}@{DOMAIN}\nSubject: {subject}\nX-Fuglu-Id: f{m}-{n}\n"
                    f"X-Quarantine-Reason: SPAM\nMessage-ID: <m{m}-{n}@bench>\n"
                    f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(arrived))}\n\nbody {n}\n")
            path = folder / "cur" / f"{int(arrived)}.M{n}P{m}.bench:2,"
            path.write_text(text)
            os.utime(path, (arrived, arrived))
    subprocess.run(["chown", "-R", "dovecot:dovecot", str(mail_dir)], check=True)
    return time.perf_counter() - started


def _client(server: dict[str, Any], email: str) -> Any:
    from imapclient import IMAPClient

    client = IMAPClient(server["host"], port=server["port"], ssl=False, timeout=60)
    client.login(f"{email}*{server['master'][0]}", server["master"][1])
    return client


def _criteria() -> list[object]:
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    return ["SINCE", today - timedelta(days=30), "BEFORE", today + timedelta(days=1), "FROM", "supplier.example"]


def raw_serial(server: dict[str, Any], emails: list[str]) -> tuple[float, int]:
    """Per mailbox: connect, master login, SELECT, SEARCH, LOGOUT, one after the other."""
    started = time.perf_counter()
    found = 0
    for email in emails:
        client = _client(server, email)
        client.select_folder("Quarantine", readonly=True)
        found += len(client.search(_criteria()))
        client.logout()
    return time.perf_counter() - started, found


def raw_parallel(server: dict[str, Any], emails: list[str], connections: int) -> float:
    """The raw per-mailbox exchanges of `raw_serial`, `connections` at a time: what Dovecot and this machine
    allow at that concurrency, without Postern."""
    from concurrent.futures import ThreadPoolExecutor

    def one(email: str) -> int:
        client = _client(server, email)
        client.select_folder("Quarantine", readonly=True)
        found = len(client.search(_criteria()))
        client.logout()
        return found

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(one, emails))
    return time.perf_counter() - started


def raw_search_sum(server: dict[str, Any], emails: list[str]) -> float:
    """The SEARCH commands alone, summed: connections logged in and SELECTed first (not timed)."""
    total = 0.0
    for email in emails:
        client = _client(server, email)
        client.select_folder("Quarantine", readonly=True)
        started = time.perf_counter()
        client.search(_criteria())
        total += time.perf_counter() - started
        client.logout()
    return total


def _app(server: dict[str, Any], emails: list[str]) -> tuple[Any, int]:
    import flask_migrate
    from sqlalchemy import insert

    from portal import create_app
    from portal.extensions import db
    from portal.models import Admin, Broker, Customer, Domain, MailUser, Platform

    instance = tempfile.mkdtemp(prefix="bench-qsearch-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/bench.db", "SECRET_KEY": "bench",
                      "REDIS_URL": None, "RATELIMIT_STORAGE_URI": "memory://", "INSTANCE_DIR": instance})
    with app.app_context():
        flask_migrate.upgrade()
        broker = Broker(name="b")
        db.session.add(broker)
        db.session.flush()
        customer = Customer(broker_id=broker.id, name="c")
        db.session.add(customer)
        db.session.flush()
        domain = Domain(customer_id=customer.id, name=DOMAIN)
        db.session.add(domain)
        db.session.flush()
        domain.platforms = [Platform(name="dovecot", transport_dest="127.0.0.1", transport_port=25, is_default=True,
                                     api_type="IMAP", api_data={"host": server["host"], "port": server["port"],
                                                                "login": server["master"][0],
                                                                "password": server["master"][1]})]
        admin = Admin(login="bench", sys_admin=True)
        db.session.add(admin)
        db.session.flush()
        db.session.execute(insert(MailUser), [{"domain_id": domain.id, "email": e} for e in emails])
        db.session.commit()
        return app, admin.id


def ours(app: Any, admin_id: int, concurrency: int) -> dict[str, float | int]:
    """Start a sender search and run its job here; wall time, time to the first hit (seen by another thread)."""
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import Admin, QuarantineSearch, QuarantineSearchHit
    from portal.services import quarantine_search
    from portal.services.principal import principal_for_admin

    app.config["QSEARCH_CONCURRENCY"] = concurrency
    first: dict[str, float] = {}
    stop = threading.Event()

    def watch(search_id: str, started: float) -> None:
        with app.app_context():
            while not stop.is_set():
                count = db.session.scalar(select(func.count()).where(QuarantineSearchHit.search_id == search_id))
                db.session.rollback()
                if count:
                    first["at"] = time.perf_counter() - started
                    return
                stop.wait(0.002)

    with app.app_context():
        started = time.perf_counter()
        search = quarantine_search.start(principal_for_admin(db.session.get(Admin, admin_id)),
                                         {"sender": "supplier.example"})
        db.session.commit()
        watcher = threading.Thread(target=watch, args=(search.id, started))
        watcher.start()
        result = quarantine_search.run(search.id)
        db.session.commit()
        wall = time.perf_counter() - started
        stop.set()
        watcher.join()
        row = db.session.get(QuarantineSearch, search.id)
        assert result and row.state == "DONE", result
        return {"wall": wall, "first_hit": first.get("at", float("nan")), "hits": row.hits_total,
                "failed": len(quarantine_search.failures(row))}


def run(mailboxes: int, messages: int, runs: int) -> Iterator[dict[str, Any]]:
    from tests.services_runtime import dovecot

    emails = [f"u{m}@{DOMAIN}" for m in range(mailboxes)]
    with dovecot({e: "pw" for e in emails}) as server:
        generated = write_mailboxes(Path(server["dir"]) / "mail", mailboxes, messages)
        warm = time.perf_counter()
        raw_serial(server, emails)  # Dovecot indexes every mailbox (and caches From) on this first pass
        warm = time.perf_counter() - warm
        app, admin_id = _app(server, emails)
        expected = -(-mailboxes // 50)
        serial, sums, fours, ones, parallel = [], [], [], [], []
        for _ in range(runs):
            took, found = raw_serial(server, emails)
            assert found == expected, (found, expected)
            serial.append(took)
            sums.append(raw_search_sum(server, emails))
            parallel.append(raw_parallel(server, emails, 4))
            fours.append(ours(app, admin_id, 4))
            ones.append(ours(app, admin_id, 1))
        assert all(r["hits"] == expected and r["failed"] == 0 for r in fours + ones)
        wall4 = statistics.median(r["wall"] for r in fours)
        wall1 = statistics.median(r["wall"] for r in ones)
        raw = statistics.median(serial)
        raw_sum = statistics.median(sums)
        yield {"bench": "qsearch", "mailboxes": mailboxes, "messages_per_mailbox": messages,
               "generate_s": round(generated, 1), "dovecot_index_pass_s": round(warm, 1),
               "raw_search_sum_s": round(raw_sum, 3), "raw_serial_s": round(raw, 3),
               "raw_parallel_4_s": round(statistics.median(parallel), 3),
               "ours_1_connection_s": round(wall1, 3), "ours_4_connections_s": round(wall4, 3),
               "first_hit_4_s": round(statistics.median(r["first_hit"] for r in fours), 3),
               "speedup_vs_raw_serial": round(raw / wall4, 2), "speedup_vs_search_sum": round(raw_sum / wall4, 2),
               "speedup_4_vs_1": round(wall1 / wall4, 2), "hits": expected}


def main() -> None:
    import json

    for result in run(int(os.environ.get("BENCH_QSEARCH_MAILBOXES", "200")),
                      int(os.environ.get("BENCH_QSEARCH_MESSAGES", "1000")),
                      int(os.environ.get("BENCH_QSEARCH_RUNS", "3"))):
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
