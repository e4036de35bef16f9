"""digest: the quarantine digest for BENCH_DIGEST_USERS users (issue: 10,000) with 1-20 held messages each in a
Maildir store, sent by 2 RQ workers (`flask portal worker --burst` processes) to aiosmtpd as the enabled SMTP
server; against a raw smtplib loop sending the same (already built) messages over one connection to the same kind
of server. Goal: mails/s ≥ 0.5 of raw.

What "ours" does per user (one `send_digest` job): claim the period (one committed INSERT), read the settings and
brand (options), list the Quarantine folder (Maildir: read each held file's header), look up earlier digests'
links, write 3 link tokens per message and 2 more, render HTML + text, build the mail with email.policy.SMTP,
send it through the enabled server (one SMTP session per mail), record it as sent. Raw does only the last step's
DATA, over one connection for all mails.

Timing: from the first to the last mail the server received (the workers' start-up is reported apart), and the
scan (`send_due_digests`: which users are due, one outbox row each, handed to RQ) apart too.

Run: `python bench/digest.py` (PostgreSQL at BENCH_PG_URL when reachable, else SQLite). Environment:
BENCH_DIGEST_USERS (10000), BENCH_DIGEST_WORKERS (2), BENCH_PG_URL (postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Sink:
    """aiosmtpd handler keeping each message and when it arrived."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.times: list[float] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(envelope.content)
            self.times.append(time.perf_counter())
        return "250 OK"


def _server(sink: Sink) -> tuple[Any, int]:
    from aiosmtpd.controller import Controller

    from tests.services_runtime import free_port

    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def _populate(app: Any, users: int, port: int) -> int:
    """One customer, one domain (quarantine policy), `users` users with 1-20 held messages each; returns how
    many messages were written."""
    from flask_migrate import upgrade

    from portal.extensions import db
    from portal.integrations.mailstore import maildir_root
    from portal.models import Broker, Customer, Domain, MailServer, MailUser, OptionValue
    from portal.services import policies

    rng = random.Random(13)
    with app.app_context():
        upgrade()
        broker = Broker(name="bench")
        db.session.add(broker)
        db.session.flush()
        customer = Customer(broker_id=broker.id, name="bench")
        db.session.add(customer)
        db.session.flush()
        domain = Domain(customer_id=customer.id, name="bench.example", end_user_permissions=(
            "QUARANTINE_VIEW QUARANTINE_RELEASE WBLIST_EDIT"))
        db.session.add(domain)
        db.session.flush()
        domain.policies = [policies.default_policy(domain, quarantine=True, retention=False, archive=False)]
        db.session.add(MailServer(name="out", protocol="SMTP", host="127.0.0.1", port=port, security="NONE",
                                  auth="NO_AUTH", sender_address="digest@bench.example", enabled=True))
        db.session.add(OptionValue(scope="DOMAIN", object_id=domain.id, name="DIGEST_TIME", value="00:00"))
        db.session.flush()
        policy_id = domain.policies[0].id
        db.session.execute(MailUser.__table__.insert(), [
            {"domain_id": domain.id, "email": f"u{n}@bench.example", "status": "ENABLED", "language": "EN",
             "policy_id": policy_id, "sender_verify_on": True, "session_nonce": "", "created_at": _now()}
            for n in range(users)])
        db.session.commit()
        written = 0
        root = Path(app.config["MAIL_ROOT"])
        stamp = _now().strftime("%a, %d %b %Y %H:%M:%S +0000")
        for n in range(users):
            folder = maildir_root(root, f"u{n}@bench.example") / ".Quarantine"
            for sub in ("tmp", "new", "cur"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            for m in range(rng.randint(1, 20)):
                reason = rng.choice(("SPAM", "SPAM", "SPAM", "ADVERT", "VIRUS", "BLACKLISTED"))
                raw = (f"From: Offer {m} <promo{m}@spam{n % 97}.example>\nTo: u{n}@bench.example\n"
                       f"Subject: =?utf-8?q?Gr=C3=B6=C3=9Fte_Chance_{m}?= for u{n}\nDate: {stamp}\n"
                       f"Message-ID: <b{n}-{m}@spam.example>\nX-Fuglu-Id: b{n}x{m}\n"
                       f"X-Spam-Score: {rng.uniform(5, 30):.1f}\nX-Quarantine-Reason: {reason}\n\n"
                       f"Buy now {n} {m}\n" + "lorem ipsum dolor sit amet " * 20 + "\n").encode()
                (folder / "cur" / f"{n}.{m}.bench:2,").write_bytes(raw)
                written += 1
    return written


def _now() -> Any:
    from portal.clock import utcnow

    return utcnow()


def run(users: int, workers: int, database_url: str, label: str) -> dict[str, Any]:
    from rq import Queue

    from portal import create_app, jobs
    from tests.services_runtime import redis_url

    instance = tempfile.mkdtemp(prefix="bench-digest-")
    sink = Sink()
    controller, port = _server(sink)
    queue_name = f"bench-digest-{os.getpid()}"
    with ExitStack() as stack:
        stack.callback(controller.stop)
        redis = stack.enter_context(redis_url())
        config = {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "INSTANCE_DIR": instance,
                  "PASSWORD_HASHER": "fast", "REDIS_URL": redis, "RQ_QUEUE": queue_name,
                  "ALLOW_PRIVATE_TARGETS": True, "MAILSERVER_PORTS": "1024-65535", "BASE_URL": "https://bench.test"}
        app = create_app(config)
        started = time.perf_counter()
        held = _populate(app, users, port)
        populate_s = time.perf_counter() - started
        with app.app_context():
            started = time.perf_counter()
            asked = jobs.run_now("send_due_digests")
            scan_s = time.perf_counter() - started
            queued = Queue(queue_name, connection=jobs.redis_connection()).count
        env = {**os.environ, "POSTERN_DATABASE_URL": database_url, "POSTERN_INSTANCE_DIR": instance,
               "POSTERN_MAIL_ROOT": app.config["MAIL_ROOT"], "REDIS_URL": redis, "POSTERN_RQ_QUEUE": queue_name,
               "POSTERN_ALLOW_PRIVATE_TARGETS": "true", "POSTERN_MAILSERVER_PORTS": "1024-65535",
               "POSTERN_SECRET_KEY": "bench", "POSTERN_BASE_URL": "https://bench.test"}
        started = time.perf_counter()
        logs = [Path(instance) / f"worker-{n}.log" for n in range(workers)]  # files: RQ logs a line per job,
        procs = []  # and a pipe nobody reads while waiting on the other worker fills and blocks its writer
        for log in logs:
            with log.open("wb") as out:
                profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") \
                    else []  # BENCH_PROFILE=file (with BENCH_DIGEST_WORKERS=1): the worker's profile
                procs.append(subprocess.Popen(
                    [sys.executable, *profile, "-m", "flask", "--app", "app", "portal", "worker", "--burst"], cwd=ROOT,
                    env=env, stdout=subprocess.DEVNULL, stderr=out))
        cpu_s = 0.0  # the workers' own CPU time (user + system), from the kernel's account of each child
        for proc in procs:
            _pid, _status, usage = os.wait4(proc.pid, 0)
            proc.returncode = 0
            cpu_s += usage.ru_utime + usage.ru_stime
        errors = [log.read_text(errors="replace")[-2000:] for log in logs]
        wall_s = time.perf_counter() - started
        sent = len(sink.messages)
        ours_s = (sink.times[-1] - sink.times[0]) if sent > 1 else float("nan")
        with app.app_context():
            q = Queue(queue_name, connection=jobs.redis_connection())
            failed = len(q.failed_job_registry)
            q.delete(delete_jobs=True)
        prepared = list(sink.messages)

    shutil.rmtree(instance, ignore_errors=True)  # the Maildirs and the worker logs
    raw_sink = Sink()
    raw_controller, raw_port = _server(raw_sink)
    try:
        started = time.perf_counter()
        client = smtplib.SMTP("127.0.0.1", raw_port, timeout=30)
        client.ehlo("bench.example")
        for raw in prepared:
            client.sendmail("digest@bench.example", ["user@bench.example"], raw)
        client.quit()
        raw_s = time.perf_counter() - started
    finally:
        raw_controller.stop()
    ours_rate = sent / ours_s if sent > 1 else 0.0
    raw_rate = len(prepared) / raw_s if prepared else 0.0
    return {
        "benchmark": "digest", "database": label, "users": users, "held_messages": held, "workers": workers,
        "populate_s": round(populate_s, 1), "scan_s": round(scan_s, 2), "scan_asked": asked, "queued": queued,
        "mails_sent": sent, "failed_jobs": failed, "workers_wall_s": round(wall_s, 1),
        "ours_first_to_last_s": round(ours_s, 2), "ours_mails_per_s": round(ours_rate, 1),
        "raw_smtplib_s": round(raw_s, 2), "raw_mails_per_s": round(raw_rate, 1),
        "ratio": round(ours_rate / raw_rate, 3) if raw_rate else None, "goal": 0.5,
        "worker_cpu_ms_per_mail": round(cpu_s * 1000 / sent, 1) if sent else None,
        "mean_mail_bytes": round(sum(map(len, prepared)) / len(prepared)) if prepared else 0,
        "worker_errors": [e for e in errors if "Traceback" in e][:1],
    }


def main() -> None:
    users = int(os.environ.get("BENCH_DIGEST_USERS", "10000"))
    workers = int(os.environ.get("BENCH_DIGEST_WORKERS", "2"))
    pg = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        from tests.services_runtime import postgres_database

        with postgres_database(pg) as url:
            print(json.dumps(run(users, workers, url, "postgresql")), flush=True)
    except Exception as error:  # no PostgreSQL here: SQLite (one writer at a time)
        if "psycopg" not in type(error).__module__ and "connect" not in str(error).lower():
            raise
        path = Path(tempfile.mkdtemp(prefix="bench-digest-db-")) / "bench.db"
        print(json.dumps(run(users, workers, f"sqlite:///{path}", "sqlite")), flush=True)


if __name__ == "__main__":
    main()
