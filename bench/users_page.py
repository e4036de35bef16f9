"""users-page: GET /api/domains/{id}/users?name=*ann*&sort=-email&offset=50000&pageSize=40 and the HTML
users page for the same query, over 100,000 users in one domain (10,000 domains in all), against
the raw SQL they need (page + count, through the bare DB-API driver). In-process medians."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

QUERY = "name=*ann*&sort=-email&offset=50000&pageSize=40"


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm caches and plans
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def run(database_url: str, label: str, *, domains: int, users: int, runs: int) -> dict[str, Any]:
    import re

    from flask_migrate import upgrade

    from bench.datagen import generate_users
    from portal import create_app, ids
    from portal.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench",
                      "LOGIN_RATE_LIMIT": "1000000 per second", "PASSWORD_HASHER": "fast"})
    with app.app_context():
        upgrade()
        domain_pk, token = generate_users(domains, users)
        public = ids.encode(domain_pk)
        from portal.models import Admin
        from portal.services.passwords import hash_password

        root = db.session.query(Admin).filter_by(login="users-bench-root").one()
        root.password_hash = hash_password("bench password")
        db.session.commit()
        engine = db.engine
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    api_url = f"/api/domains/{public}/users?{QUERY}"
    first = client.get(api_url, headers=headers)
    assert first.status_code == 200, first.text
    total = int(first.headers["X-Total-Count"])
    page_client = app.test_client()
    login_page = page_client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)
    page_client.post("/login", data={"csrf_token": csrf, "login": "users-bench-root", "password": "bench password"})
    page_url = f"/admin/domains/{public}/users?{QUERY}"
    assert page_client.get(page_url).status_code == 200

    raw_conn = engine.raw_connection()
    cursor = raw_conn.cursor()
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    like = "LIKE" if engine.dialect.name == "sqlite" else "ILIKE"
    where = f"domain_id = {mark} AND email {like} {mark}"
    page_sql = f"SELECT * FROM users WHERE {where} ORDER BY email DESC LIMIT 40 OFFSET 50000"
    count_sql = f"SELECT count(*) FROM users WHERE {where}"

    def raw() -> None:
        cursor.execute(page_sql, (domain_pk, "%ann%"))
        cursor.fetchall()
        cursor.execute(count_sql, (domain_pk, "%ann%"))
        cursor.fetchall()

    raw_ms = median_ms(raw, runs)
    api_ms = median_ms(lambda: client.get(api_url, headers=headers), runs)
    page_ms = median_ms(lambda: page_client.get(page_url), runs)
    raw_conn.close()
    return {"benchmark": "users-page", "database": label, "domains": domains, "users": users,
            "filtered_total": total, "raw_ms": round(raw_ms, 2), "api_ms": round(api_ms, 2),
            "page_ms": round(page_ms, 2), "api_ratio": round(api_ms / raw_ms, 2),
            "page_ratio": round(page_ms / raw_ms, 2)}
