"""mailcheck: a live check of a local STARTTLS + AUTH SMTP server (portal/integrations/mailserver.check) against a
raw smtplib session doing the same steps: connect, EHLO, STARTTLS, EHLO, AUTH PLAIN, QUIT. Goal: a ratio ≤ 1.3.

The server is aiosmtpd on loopback with a certificate from a throwaway CA (the setting's custom certificate);
both clients verify it with the same (cached) TLS context. Runs alternate (check, raw, check, ...) after a
warm-up, so drift on a shared machine hits both alike; figures are medians.

`run_api` measures the whole route, `POST /api/mailservers/{id}/check` in-process (token, claim written apart,
the check, the result stored, the commit) on SQLite and on an ANALYZEd PostgreSQL, against the same raw session.

Run: `bench/run.py mailcheck` or `python bench/mailcheck.py`. Environment: BENCH_CHECKS (200 of each).
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USER, PASSWORD = "bench@example.com", "bench password"
HELO = "postern.localdomain"


def _raw_session(port: int, context: ssl.SSLContext) -> float:
    """The bare component: smtplib doing the check's steps by hand; seconds it took."""
    started = time.perf_counter()
    client = smtplib.SMTP("127.0.0.1", port, local_hostname=HELO, timeout=10)
    client.ehlo()
    client.starttls(context=context)
    client.ehlo()
    client.login(USER, PASSWORD)
    client.quit()
    return time.perf_counter() - started


def run(checks: int = 200) -> dict[str, object]:
    from portal.integrations import mailserver
    from tests.services_runtime import CertificateAuthority, mail_smtp_server

    ca = CertificateAuthority()
    context = mailserver._context(ca.pem)  # the context check() uses: the raw session shares it
    with mail_smtp_server("STARTTLS", ca=ca, users={USER: PASSWORD}, exclude=["LOGIN"]) as (sink, port):
        endpoint = mailserver.Endpoint("SMTP", "127.0.0.1", port, "STARTTLS", ca.pem, "USERNAME_PASSWORD", USER,
                                       PASSWORD)

        def ours() -> float:
            started = time.perf_counter()
            result = mailserver.check(endpoint, timeout=10, allow_private=True, extra_ports={port})
            elapsed = time.perf_counter() - started
            if not result.ok:
                raise RuntimeError(f"the check failed: {result.stage} {result.message}")
            return elapsed

        def raw() -> float:
            return _raw_session(port, context)

        for _ in range(10):  # warm-up: imports, the first handshake, aiosmtpd's loop
            ours()
            raw()
        check_times, raw_times = [], []
        for _ in range(checks):
            check_times.append(ours())
            raw_times.append(raw())
        assert len(sink.logins) == 2 * (checks + 10)
    check_ms, raw_ms = statistics.median(check_times) * 1000, statistics.median(raw_times) * 1000
    return {
        "benchmark": "mailcheck", "runs": checks,
        "check_median_ms": round(check_ms, 2), "raw_smtplib_median_ms": round(raw_ms, 2),
        "check_p90_ms": round(statistics.quantiles(check_times, n=10)[-1] * 1000, 2),
        "raw_p90_ms": round(statistics.quantiles(raw_times, n=10)[-1] * 1000, 2),
        "ratio": round(check_ms / raw_ms, 3), "goal": 1.3,
    }


def run_api(label: str, database_url: str, checks: int = 200) -> dict[str, object]:
    """The API route against the raw session, alternating, on a fresh database."""
    import tempfile

    import flask_migrate
    from sqlalchemy import text

    from portal import create_app
    from portal.extensions import db
    from portal.integrations import mailserver
    from portal.models import Admin
    from portal.services import tokens
    from tests.services_runtime import CertificateAuthority, mail_smtp_server

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "REDIS_URL": None,
                      "RATELIMIT_STORAGE_URI": "memory://", "INSTANCE_DIR": tempfile.mkdtemp(),
                      "ALLOW_PRIVATE_TARGETS": True, "MAILSERVER_CHECK_INTERVAL": 0, "MAILSERVER_PORTS": "1024-65535"})
    ca = CertificateAuthority()
    context = mailserver._context(ca.pem)
    with app.app_context():
        flask_migrate.upgrade()
        admin = Admin(login="bench", sys_admin=True)
        db.session.add(admin)
        db.session.flush()
        _, token = tokens.issue(admin, "bench")
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    with mail_smtp_server("STARTTLS", ca=ca, users={USER: PASSWORD}, exclude=["LOGIN"]) as (_sink, port):
        made = client.post("/api/mailservers", headers=headers, json={
            "name": "bench", "host": "127.0.0.1", "port": port, "security": "STARTTLS", "certificate": "CUSTOM",
            "certificatePem": ca.pem, "auth": "USERNAME_PASSWORD", "username": USER, "password": PASSWORD})
        url = f"/api/mailservers/{made.get_json()['id']}/check"
        if database_url.startswith("postgresql"):
            with app.app_context():
                db.session.execute(text("ANALYZE"))
                db.session.commit()

        def ours() -> float:
            started = time.perf_counter()
            answer = client.post(url, headers=headers)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200 or not answer.get_json()["ok"]:
                raise RuntimeError(f"the check failed: {answer.status_code} {answer.get_data(as_text=True)}")
            return elapsed

        def raw() -> float:
            return _raw_session(port, context)

        for _ in range(10):
            ours()
            raw()
        route_times, raw_times = [], []
        for _ in range(checks):
            route_times.append(ours())
            raw_times.append(raw())
    with app.app_context():
        db.engine.dispose()
    route_ms, raw_ms = statistics.median(route_times) * 1000, statistics.median(raw_times) * 1000
    return {"benchmark": "mailcheck-api", "database": label, "runs": checks,
            "route_median_ms": round(route_ms, 2), "raw_smtplib_median_ms": round(raw_ms, 2),
            "ratio": round(route_ms / raw_ms, 3)}


if __name__ == "__main__":
    print(json.dumps(run(int(os.environ.get("BENCH_CHECKS", "200")))))
