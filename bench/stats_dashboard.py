"""statistics: the dashboard's statistics over a year of daily aggregates for 100 domains (issue 15's benchmark),
against the same numbers rendered as a plain table: the same aggregate queries through the bare DB-API driver and
one Jinja table of their rows, no charts, no page shell. In-process medians (Flask test client), a system
administrator (every domain in scope), the default range (30 days) and the whole year.

The file is not named statistics.py: `python bench/run.py` puts bench/ first on sys.path, where such a name would
hide the standard library's `statistics` (which the other benchmarks use).

Run: `python bench/run.py statistics` (SQLite, then an ANALYZEd PostgreSQL at BENCH_PG_URL when reachable).
Environment: BENCH_STAT_DOMAINS (100), BENCH_STAT_DAYS (365), BENCH_RUNS (30)."""

from __future__ import annotations

import random
import re
import statistics as stats
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

REASONS = ("SPAM", "VIRUS", "ADVERT", "BLACKLISTED", "BAD_ATTACHMENTS")
PLAIN = """<table><thead><tr><th>day</th><th>kind</th><th>key</th><th>count</th></tr></thead><tbody>
{% for r in daily %}<tr><td>{{ r[0] }}</td><td>{{ r[1] }}</td><td>{{ r[2] }}</td><td>{{ r[3] }}</td></tr>{% endfor %}
</tbody></table>
{% for rows in lists %}<table><tbody>{% for r in rows %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% endfor %}"""


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm caches and plans
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return stats.median(samples)


def generate(domains: int, days: int, seed: int = 15) -> None:
    """`domains` domains with `days` days of aggregates each: held by reason, released, deleted, rules, digests,
    and the 10 busiest held and 5 released senders per domain and day (what the collection job keeps)."""
    from sqlalchemy import insert

    from portal.clock import utcnow
    from portal.extensions import db
    from portal.models import Admin, Broker, Customer, Domain, StatCount, StatSender

    rng = random.Random(seed)
    broker = Broker(name="Stats Bench Broker")
    db.session.add(broker)
    db.session.flush()
    customer = Customer(broker_id=broker.id, name="Stats Bench Customer")
    db.session.add(customer)
    db.session.flush()
    db.session.execute(insert(Domain), [{"customer_id": customer.id, "name": f"stats{i}.example"}
                                        for i in range(domains)])
    domain_ids = [d for (d,) in db.session.execute(db.select(Domain.id).where(Domain.customer_id == customer.id))]
    today = utcnow().date()
    counts: list[dict[str, Any]] = []
    senders: list[dict[str, Any]] = []

    def flush() -> None:
        if counts:
            db.session.execute(insert(StatCount), counts)
            counts.clear()
        if senders:
            db.session.execute(insert(StatSender), senders)
            senders.clear()

    for domain_id in domain_ids:
        for back in range(days):
            day = today - timedelta(days=back)
            for reason in REASONS:
                counts.append({"domain_id": domain_id, "day": day, "kind": "held", "key": reason,
                               "count": rng.randint(0, 400)})
            for kind in ("released", "deleted", "rule_added", "digest_sent"):
                counts.append({"domain_id": domain_id, "day": day, "kind": kind, "key": "",
                               "count": rng.randint(0, 30)})
            for n in range(10):
                senders.append({"domain_id": domain_id, "day": day, "kind": "held",
                                "sender": f"s{rng.randint(0, 500)}.{n}@spam{rng.randint(0, 50)}.example",
                                "count": rng.randint(1, 100)})
            for n in range(5):
                senders.append({"domain_id": domain_id, "day": day, "kind": "released",
                                "sender": f"r{rng.randint(0, 200)}.{n}@ok{rng.randint(0, 20)}.example",
                                "count": rng.randint(1, 10)})
        if len(counts) > 20000:
            flush()
    flush()
    db.session.add(Admin(login="stats-bench-root", email="root@stats.example", sys_admin=True, session_nonce="x"))
    db.session.commit()


def run(database_url: str, label: str, *, domains: int, days: int, runs: int) -> dict[str, Any]:
    from flask_migrate import upgrade
    from jinja2 import Environment
    from sqlalchemy import text

    from portal import create_app
    from portal.clock import utcnow
    from portal.extensions import db
    from portal.models import Admin
    from portal.services.passwords import hash_password

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench",
                      "LOGIN_RATE_LIMIT": "1000000 per second", "PASSWORD_HASHER": "fast"})
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        generate(domains, days)
        generated_s = time.perf_counter() - started
        root = db.session.query(Admin).filter_by(login="stats-bench-root").one()
        root.password_hash = hash_password("bench password")
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        rows = db.session.execute(text("SELECT count(*) FROM stat_counts")).scalar_one()
        sender_rows = db.session.execute(text("SELECT count(*) FROM stat_senders")).scalar_one()
        engine = db.engine
        today = utcnow().date()
    client = app.test_client()
    login_page = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)
    client.post("/login", data={"csrf_token": csrf, "login": "stats-bench-root", "password": "bench password"})

    raw_conn = engine.raw_connection()
    cursor = raw_conn.cursor()
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    plain = Environment(autoescape=True).from_string(PLAIN)
    scope = "SELECT id FROM domains"  # a sysadmin's scope: every domain

    def raw_table(start: str, end: str) -> str:
        """The same numbers as the page: the daily aggregates, the top senders (held, released), the top domains."""
        cursor.execute(f"SELECT day, kind, key, sum(count) FROM stat_counts WHERE domain_id IN ({scope}) AND day >= "
                       f"{mark} AND day <= {mark} GROUP BY day, kind, key", (start, end))
        daily = cursor.fetchall()
        lists = []
        for kind in ("held", "released"):
            cursor.execute(f"SELECT sender, sum(count) AS n FROM stat_senders WHERE domain_id IN ({scope}) AND kind = "
                           f"{mark} AND day >= {mark} AND day <= {mark} GROUP BY sender ORDER BY n DESC, sender "
                           f"LIMIT 10", (kind, start, end))
            lists.append(cursor.fetchall())
        cursor.execute(f"SELECT d.id, d.name, sum(s.count) AS n FROM stat_counts s "
                       f"JOIN domains d ON d.id = s.domain_id WHERE s.domain_id IN ({scope}) "
                       f"AND s.day >= {mark} AND s.day <= {mark} AND s.kind = 'held' "
                       f"GROUP BY d.id, d.name ORDER BY n DESC, d.name LIMIT 10", (start, end))
        lists.append(cursor.fetchall())
        return plain.render(daily=daily, lists=lists)

    result: dict[str, Any] = {"benchmark": "statistics", "database": label, "domains": domains, "days": days,
                              "count_rows": rows, "sender_rows": sender_rows, "generated_s": round(generated_s, 1)}
    for name, span in (("30d", 30), ("year", min(days, 365))):
        start, end = (today - timedelta(days=span - 1)).isoformat(), today.isoformat()
        page = client.get(f"/?from={start}&to={end}")
        assert page.status_code == 200 and 'id="chart-held"' in page.text, page.status_code
        raw_ms = median_ms(lambda s=start, e=end: raw_table(s, e), runs)
        page_ms = median_ms(lambda s=start, e=end: client.get(f"/?from={s}&to={e}"), runs)
        result.update({f"{name}_table_ms": round(raw_ms, 2), f"{name}_page_ms": round(page_ms, 2),
                       f"{name}_ratio": round(page_ms / raw_ms, 2)})
    raw_conn.close()
    return result
