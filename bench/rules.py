"""rules: 1,000,000 sender rules over 10,000 domains and 200,000 mailboxes.

- decision: `decisions.decide()` for 500 (sender, recipient) pairs, median and p99, against the raw
  indexed SQL lookups it needs (mailbox by address, its domain, the rules of both owners for the
  sender's address and domains) through the bare DB-API cursor;
- replace: `PUT /api/users/{id}/wblist` with 10,000 entries (in-process test client);
- list: `GET /api/domains/{id}/wblist?type=BLOCK&value=*spam1*&sort=-value` (a filtered page).
"""

from __future__ import annotations

import statistics
import time
from typing import Any


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def run(database_url: str, label: str, *, domains: int, users: int, rules: int) -> dict[str, Any]:
    from flask_migrate import upgrade

    from bench.datagen import generate_rules
    from portal import create_app, ids
    from portal.extensions import db
    from portal.models import Admin
    from portal.services import decisions
    from portal.services.principal import principal_for_admin

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "EXPORT_ON_CHANGE": False,
                      "API_MAX_PAGE_SIZE": 500})
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        data = generate_rules(domains, users, rules)
        generation_s = time.perf_counter() - started
        engine = db.engine
        pairs = data["pairs"]
        root = principal_for_admin(db.session.query(Admin).filter_by(login="rules-bench-root").one())
        for sender, recipient in pairs[:20]:
            decisions.decide(root, sender, recipient)
        decide_ms = []
        for sender, recipient in pairs:
            decide_ms.append(_timed(lambda s=sender, r=recipient: decisions.decide(root, s, r)))
            db.session.expire_all()  # no help from the identity map between decisions
        raw_conn = engine.raw_connection()
        cursor = raw_conn.cursor()
        mark = "?" if engine.dialect.name == "sqlite" else "%s"

        def raw(sender: str, recipient: str) -> None:
            cursor.execute(f"SELECT id, domain_id FROM users WHERE email = {mark}", (recipient,))
            user_id, domain_id = cursor.fetchone()
            cursor.execute(f"SELECT id, name, wblist_priority FROM domains WHERE id = {mark}", (domain_id,))
            cursor.fetchone()
            domain = sender.rsplit("@", 1)[1]
            values = [sender, domain]
            cursor.execute(
                f"SELECT id, owner_key, value, type, expire_at, spf_on FROM sender_rules "
                f"WHERE owner_key IN ({mark}, {mark}) AND value IN ({mark}, {mark})",
                (f"u:{user_id}", f"d:{domain_id}", *values))
            cursor.fetchall()

        for sender, recipient in pairs[:20]:
            raw(sender, recipient)
        raw_ms = [_timed(lambda s=sender, r=recipient: raw(s, r)) for sender, recipient in pairs]
        raw_conn.close()
        user_public = ids.encode(data["user_id"])
        from portal.models import Domain

        domain_public = ids.encode(db.session.query(Domain.id).filter_by(name="rb1.example").scalar())
    client = app.test_client()
    headers = {"Authorization": f"Bearer {data['token']}"}
    entries = [{"value": f"bulk{n}@sender{n % 700}.example", "type": "BLOCK"} for n in range(10000)]
    replace_ms = []
    for _ in range(3):
        response = None

        def put() -> None:
            nonlocal response
            response = client.put(f"/api/users/{user_public}/wblist", json=entries, headers=headers)

        replace_ms.append(_timed(put))
        assert response.status_code == 200, response.text[:300]
    list_url = f"/api/domains/{domain_public}/wblist?type=BLOCK&sort=-value&pageSize=40"
    client.get(list_url, headers=headers)
    list_ms = [_timed(lambda: client.get(list_url, headers=headers)) for _ in range(30)]

    def pct(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(q * len(values)))]

    result = {
        "benchmark": "rules", "database": label, "rules": rules, "domains": domains, "users": users,
        "generation_s": round(generation_s, 1),
        "decision_median_ms": round(statistics.median(decide_ms), 3), "decision_p99_ms": round(pct(decide_ms, .99), 3),
        "raw_median_ms": round(statistics.median(raw_ms), 3), "raw_p99_ms": round(pct(raw_ms, .99), 3),
        "decision_ratio": round(statistics.median(decide_ms) / statistics.median(raw_ms), 2),
        "replace_10k_ms": round(statistics.median(replace_ms), 1),
        "list_page_median_ms": round(statistics.median(list_ms), 2),
    }
    return result
