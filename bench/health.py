"""health: domain diagnostics of BENCH_HEALTH_DOMAINS domains (issue: 1,000) through the scheduled job
(`check_domains`: every enabled domain, POSTERN_HEALTH_CONCURRENCY threads, reports recorded, notices asked for)
against the loopback DNS server of the tests (dnslib, UDP), compared with the serial sum of the raw dnspython
queries the same diagnostics need. Goal: ≥ 200 domains/s.

The zone: a quarter of the domains fully wired (MX to the gateway, SPF with the gateway's include, DKIM matching
the stored key, DMARC p=reject, MTA-STS, TLSRPT), the rest each missing or breaking one thing (MX elsewhere,
no DKIM record, two SPF records, DMARC p=none, nothing at all...). Every domain has a stored DKIM key.

"Ours" = wall time of `jobs.run_now("check_domains")` (the job's unit of work: load, lookups, one report row
per domain, commit, then the notices it asked for run in-process: none is mailed, no domain has a contact).
Two runs: the first (every report new, the failing domains start failing and their notices are claimed) and a
second (steady state: the same reports replaced). "Raw" = the same queries (MX, the DKIM name, the domain's TXT
plus each SPF include, _dmarc, _mta-sts, _smtp._tls) with one dnspython Resolver, one after another: the serial
sum of the round trips the diagnostics need. Raw DNS on loopback is fast (~0.3 ms a query), so the ratio says how
much our threads buy against DNS latency that is nearly zero here; on a real resolver (~20-50 ms per query) the
serial sum grows ~100x while ours stays near one round trip per domain and the pool's width.

Run: `python bench/health.py` (SQLite, then PostgreSQL at BENCH_PG_URL when reachable, ANALYZEd).
Environment: BENCH_HEALTH_DOMAINS (1000), BENCH_HEALTH_CONCURRENCY (16), BENCH_PG_URL.
"""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GATEWAY = ["mx1.gateway.bench", "mx2.gateway.bench"]
INCLUDE = "spf.gateway.bench"
KINDS = ("good", "mx-elsewhere", "no-dkim", "two-spf", "dmarc-none", "nothing", "bad-dkim", "good")


def _zone(names: list[str], key: str, other: str) -> str:
    lines = [f'{INCLUDE}. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"']
    for n, name in enumerate(names):
        kind = KINDS[n % len(KINDS)]
        if kind == "nothing":
            lines.append(f"{name}. 300 IN A 192.0.2.9")
            continue
        lines.append(f"{name}. 300 IN MX 10 {'mail.elsewhere.bench' if kind == 'mx-elsewhere' else GATEWAY[0]}.")
        lines.append(f'{name}. 300 IN TXT "v=spf1 include:{INCLUDE} -all"')
        if kind == "two-spf":
            lines.append(f'{name}. 300 IN TXT "v=spf1 ip4:203.0.113.1 -all"')
        if kind != "no-dkim":
            value = "v=DKIM1; k=rsa; p=" + (other if kind == "bad-dkim" else key)
            lines.append(f'protect._domainkey.{name}. 300 IN TXT "{value[:200]}" "{value[200:]}"')
        policy = "none" if kind == "dmarc-none" else "reject"
        lines.append(f'_dmarc.{name}. 300 IN TXT "v=DMARC1; p={policy}; rua=mailto:d@{name}"')
        lines.append(f'_mta-sts.{name}. 300 IN TXT "v=STSv1; id=2024010101"')
        lines.append(f'_smtp._tls.{name}. 300 IN TXT "v=TLSRPTv1; rua=mailto:tls@{name}"')
    return "\n".join(lines) + "\n"


def _key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    der = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def _populate(app: Any, names: list[str], key: str) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import insert, text

    from portal.extensions import db
    from portal.models import Broker, Customer, DkimKey, Domain

    with app.app_context():
        upgrade()
        broker = Broker(name="bench")
        db.session.add(broker)
        db.session.flush()
        customer = Customer(broker_id=broker.id, name="bench")
        db.session.add(customer)
        db.session.flush()
        db.session.execute(insert(Domain), [{"customer_id": customer.id, "name": name} for name in names])
        ids = dict(db.session.execute(db.select(Domain.name, Domain.id)).all())
        db.session.execute(insert(DkimKey), [{"domain_id": ids[name], "selector": "protect", "state": "active",
                                              "private_key_enc": "x", "public_key": key} for name in names])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()


def _raw(server: tuple[str, int], names: list[str]) -> tuple[float, int]:
    """The diagnostics' queries, one after another with one dnspython resolver: (seconds, queries)."""
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.cache = [server[0]], server[1], None
    resolver.timeout = resolver.lifetime = 3.0
    queries = 0

    def ask(name: str, rdtype: str) -> list[str]:
        nonlocal queries
        queries += 1
        try:
            answer = resolver.resolve(name, rdtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        return [b"".join(r.strings).decode() if rdtype == "TXT" else r.to_text() for r in answer]

    started = time.perf_counter()
    for name in names:
        ask(name, "MX")
        ask(f"protect._domainkey.{name}", "TXT")
        for record in ask(name, "TXT"):
            if record.startswith("v=spf1"):
                for term in record.split():
                    if term.startswith("include:"):
                        ask(term[len("include:"):], "TXT")
        ask(f"_dmarc.{name}", "TXT")
        ask(f"_mta-sts.{name}", "TXT")
        ask(f"_smtp._tls.{name}", "TXT")
    return time.perf_counter() - started, queries


def _serve(zone: str, port: int, where: Any, stop: Any) -> None:
    """One process of the loopback DNS server (the tests' zone resolver, dnslib's UDP handler): processes share
    the port (SO_REUSEPORT, the kernel spreads the queries), each answers one query at a time, outside our GIL."""
    import socketserver
    import threading

    from dnslib.server import DNSHandler, DNSLogger

    from tests.services_runtime import zone_resolver

    class Server(socketserver.UDPServer):
        allow_reuse_address = True
        allow_reuse_port = True

    server = Server(("127.0.0.1", port), DNSHandler)
    server.resolver = zone_resolver(zone)  # type: ignore[attr-defined]
    server.logger = DNSLogger("-request,-reply,-truncated,-recv,-send,-data", prefix=False)  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    where.put(("127.0.0.1", port))
    stop.wait()
    server.shutdown()
    server.server_close()


@contextmanager
def dns_process(zone: str, processes: int = 1) -> Iterator[tuple[str, int]]:
    from tests.services_runtime import free_port

    context = multiprocessing.get_context("spawn")
    where, stop, port = context.Queue(), context.Event(), free_port()
    started = [context.Process(target=_serve, args=(zone, port, where, stop), daemon=True) for _ in range(processes)]
    for process in started:
        process.start()
    try:
        servers = [where.get(timeout=60) for _ in started]
        yield servers[0]
    finally:
        stop.set()
        for process in started:
            process.join(10)


def run(database_url: str, label: str, domains: int, concurrency: int, processes: int) -> dict[str, Any]:
    from portal import create_app, jobs
    from portal.extensions import db
    from portal.models import HealthReport
    names = [f"d{n:05d}.bench" for n in range(domains)]
    key, other = _key(), _key()
    instance = tempfile.mkdtemp(prefix="bench-health-")
    try:
        with dns_process(_zone(names, key, other), processes) as server:
            app = create_app({
                "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "INSTANCE_DIR": instance,
                "PASSWORD_HASHER": "fast", "REDIS_URL": None, "BASE_URL": "https://bench.test",
                "DNS_SERVERS": [server], "DNS_TIMEOUT": 3.0, "GATEWAY_MX_HOSTS": GATEWAY,
                "GATEWAY_SPF_INCLUDE": INCLUDE, "HEALTH_CONCURRENCY": concurrency})
            started = time.perf_counter()
            _populate(app, names, key)
            populate_s = time.perf_counter() - started
            runs = []
            with app.app_context():
                for _ in range(2):
                    started = time.perf_counter()
                    summary = jobs.run_now("check_domains")
                    runs.append((time.perf_counter() - started, summary))
                kept = db.session.scalar(db.select(db.func.count()).select_from(HealthReport))
            raw_s, queries = _raw(server, names)
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    (first_s, first), (second_s, second) = runs
    return {
        "benchmark": "health", "database": label, "domains": domains, "concurrency": concurrency,
        "dns_processes": processes,
        "populate_s": round(populate_s, 1), "reports_kept": kept,
        "first_run_s": round(first_s, 2), "first_run": first, "first_domains_per_s": round(domains / first_s, 1),
        "steady_run_s": round(second_s, 2), "steady_run": second,
        "steady_domains_per_s": round(domains / second_s, 1),
        "raw_serial_s": round(raw_s, 2), "raw_queries": queries, "raw_domains_per_s": round(domains / raw_s, 1),
        "raw_ms_per_query": round(1000 * raw_s / queries, 3),
        "ratio_steady_to_raw": round(raw_s / second_s, 2), "goal_domains_per_s": 200,
    }


def main() -> None:
    domains = int(os.environ.get("BENCH_HEALTH_DOMAINS", "1000"))
    concurrency = int(os.environ.get("BENCH_HEALTH_CONCURRENCY", "16"))
    processes = int(os.environ.get("BENCH_HEALTH_DNS_PROCESSES", "1"))
    path = Path(tempfile.mkdtemp(prefix="bench-health-db-")) / "bench.db"
    print(json.dumps(run(f"sqlite:///{path}", "sqlite", domains, concurrency, processes)), flush=True)
    shutil.rmtree(path.parent, ignore_errors=True)
    pg = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        from tests.services_runtime import postgres_database

        with postgres_database(pg) as url:
            print(json.dumps(run(url, "postgresql", domains, concurrency, processes)), flush=True)
    except Exception as error:  # no PostgreSQL here
        if "psycopg" not in type(error).__module__ and "connect" not in str(error).lower():
            raise
        print(json.dumps({"benchmark": "health", "database": "postgresql", "skipped": str(error)}), flush=True)


if __name__ == "__main__":
    main()
