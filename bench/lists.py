"""lists: how a list's cost grows with its table (issue 16). For 1,000 / 10,000 / 100,000 users in one domain
(10,000 domains in all), on a fresh SQLite file and a fresh PostgreSQL database (VACUUM ANALYZEd after loading):

- `GET /api/domains/{id}/users?pageSize=40` page 1, the last page and the middle one (default sort,
  X-Total-Count; a page nearer the end is read backwards, so the middle walks furthest), and the first and last on
  the HTML users page; the raw SQL those need (page + count, bare DB-API) for reference;
- `GET /api/domains?pageSize=40` (every domain's aliases, platforms, policies, providers, customer and active
  users) against a bare route of the same app running the raw SQL page of domains without any of that
  (its rows through the DB-API and json.dumps, no authentication; goal <= 2x). The bare DB-API time alone is
  printed too: it shows what a Flask request costs around it.

Goals (ratios, same run): page 1 at 100,000 users <= 1.5x page 1 at 1,000; the last page <= 3x.
In-process test clients, medians after a warm-up. Run: `bench/run.py lists` or `python bench/lists.py`;
BENCH_LIST_SIZES (1000,10000,100000), BENCH_LIST_DOMAINS (10000), BENCH_RUNS (30).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.users_page import median_ms  # noqa: E402


def run(database_url: str, label: str, *, domains: int, users: int, runs: int) -> dict[str, Any]:
    from flask_migrate import upgrade

    from bench.datagen import generate_users
    from portal import create_app, ids
    from portal.extensions import db
    from portal.models import Admin
    from portal.services.passwords import hash_password

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "REDIS_URL": None,
                      "RATELIMIT_STORAGE_URI": "memory://", "LOGIN_RATE_LIMIT": "1000000 per second",
                      "PASSWORD_HASHER": "fast"})
    with app.app_context():
        upgrade()
        domain_pk, token = generate_users(domains, users)
        public = ids.encode(domain_pk)
        root = db.session.query(Admin).filter_by(login="users-bench-root").one()
        root.password_hash = hash_password("bench password")
        db.session.commit()
        engine = db.engine
    headers = {"Authorization": f"Bearer {token}"}

    def bare_domains() -> Any:  # the reference: the same server, the raw page of domains, no counts, no auth
        import json as json_module

        from flask import Response

        conn = engine.raw_connection()
        try:
            cur = conn.cursor()
            cur.execute("SELECT * FROM domains ORDER BY name LIMIT 40")
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
            cur.execute("SELECT count(*) FROM domains")
            total = cur.fetchone()[0]
        finally:
            conn.close()
        return Response(json_module.dumps(rows, default=str), mimetype="application/json",
                        headers={"X-Total-Count": str(total)})

    app.add_url_rule("/bench/bare-domains", "bench_bare_domains", bare_domains)
    api = app.test_client()
    page = app.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get("/login").text).group(1)  # type: ignore[union-attr]
    page.post("/login", data={"csrf_token": csrf, "login": "users-bench-root", "password": "bench password"})
    last = max(users - 40, 0)
    urls = {"api_first": f"/api/domains/{public}/users?pageSize=40",
            "api_last": f"/api/domains/{public}/users?pageSize=40&offset={last}",
            "api_middle": f"/api/domains/{public}/users?pageSize=40&offset={users // 2}",  # the deepest walk
            "page_first": f"/admin/domains/{public}/users?pageSize=40",
            "page_last": f"/admin/domains/{public}/users?pageSize=40&offset={last}",
            "domains_api": "/api/domains?pageSize=40", "domains_bare": "/bench/bare-domains"}
    for name, url in urls.items():
        client = page if name.startswith("page") else api
        answer = client.get(url, headers=headers)
        assert answer.status_code == 200, (url, answer.status_code)
    raw_conn = engine.raw_connection()
    cursor = raw_conn.cursor()
    mark = "?" if engine.dialect.name == "sqlite" else "%s"

    def raw_users(offset: int) -> None:
        cursor.execute(f"SELECT * FROM users WHERE domain_id = {mark} ORDER BY email LIMIT 40 OFFSET {offset}",
                       (domain_pk,))
        cursor.fetchall()
        cursor.execute(f"SELECT count(*) FROM users WHERE domain_id = {mark}", (domain_pk,))
        cursor.fetchall()

    def raw_domains() -> None:
        cursor.execute("SELECT * FROM domains ORDER BY name LIMIT 40")
        cursor.fetchall()
        cursor.execute("SELECT count(*) FROM domains")
        cursor.fetchall()

    result: dict[str, Any] = {"benchmark": "lists", "database": label, "domains": domains, "users": users}
    result["raw_first_ms"] = round(median_ms(lambda: raw_users(0), runs), 2)
    result["raw_last_ms"] = round(median_ms(lambda: raw_users(last), runs), 2)
    result["raw_domains_ms"] = round(median_ms(raw_domains, runs), 2)
    for name, url in urls.items():
        client = page if name.startswith("page") else api
        result[f"{name}_ms"] = round(median_ms(lambda c=client, u=url: c.get(u, headers=headers), runs), 2)
    result["domains_ratio"] = round(result["domains_api_ms"] / result["domains_bare_ms"], 2)
    raw_conn.close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return result


def run_all() -> list[dict[str, Any]]:
    from bench.run import on_databases

    sizes = [int(s) for s in os.environ.get("BENCH_LIST_SIZES", "1000,10000,100000").split(",")]
    domains = int(os.environ.get("BENCH_LIST_DOMAINS", "10000"))
    runs = int(os.environ.get("BENCH_RUNS", "30"))
    results: list[dict[str, Any]] = []
    for size in sizes:
        for result in on_databases(f"lists{size}", lambda label, url, n=size: run(url, label, domains=domains,
                                                                                   users=n, runs=runs)):
            print(json.dumps(result), flush=True)
            results.append(result)
    for database in ("sqlite", "postgresql"):
        mine = sorted((r for r in results if r["database"] == database), key=lambda r: r["users"])
        if len(mine) >= 2:
            small, big = mine[0], mine[-1]
            print(json.dumps({"benchmark": "lists-scaling", "database": database,
                              "users": [small["users"], big["users"]],
                              "api_first_growth": round(big["api_first_ms"] / small["api_first_ms"], 2),
                              "api_last_growth": round(big["api_last_ms"] / small["api_last_ms"], 2),
                              "page_first_growth": round(big["page_first_ms"] / small["page_first_ms"], 2),
                              "page_last_growth": round(big["page_last_ms"] / small["page_last_ms"], 2),
                              "domains_ratio_at_largest": big["domains_ratio"]}), flush=True)
    return results


if __name__ == "__main__":
    run_all()
