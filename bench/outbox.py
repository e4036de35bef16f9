"""outbox: what the job outbox costs a rule write.

`POST /api/domains/{id}/wblist` with one new rule (in-process test client, one request after another),
median and p90 over BENCH_WRITES writes, in four set-ups:
- no job: the write alone (EXPORT_ON_CHANGE off) — the bare component underneath;
- in-process: the write plus its export job written to the outbox and run after the commit (export off
  disk: a stub directory, so the job's own work is measured too; shown for reference);
- RQ: the write plus the outbox row, handed to a real Redis after the commit (claim, enqueue, delete);
- Redis down: the write plus the outbox row left waiting (the process does not retry Redis for 10 s).
The ratio that matters is RQ / no job: what a change pays for "never lost".
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from typing import Any


def _world(app: Any) -> tuple[str, str]:
    from portal import ids
    from portal.extensions import db
    from portal.models import Admin, Broker, Customer, Domain
    from portal.services import tokens

    with app.app_context():
        broker = Broker(name=f"bench-{uuid.uuid4().hex[:6]}")
        db.session.add(broker)
        db.session.flush()
        customer = Customer(broker_id=broker.id, name="bench")
        db.session.add(customer)
        db.session.flush()
        domain = Domain(customer_id=customer.id, name=f"{uuid.uuid4().hex[:8]}.bench.example")
        admin = Admin(login=f"bench-{uuid.uuid4().hex[:6]}", email="bench@example.org", sys_admin=True, enabled=True,
                      session_nonce="x")
        db.session.add_all([domain, admin])
        db.session.flush()
        _, token = tokens.issue(admin, "bench", None)
        db.session.commit()
        return ids.encode(domain.id), token


def _writes(app: Any, domain: str, token: str, n: int, tag: str) -> list[float]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    timings = []
    for i in range(n):
        body = [{"value": f"{tag}-{i}@spam.example", "type": "BLOCK"}]
        started = time.perf_counter()
        response = client.post(f"/api/domains/{domain}/wblist", json=body, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 201), response.text
    return timings


def run(database_url: str, label: str, *, writes: int, redis_url: str) -> dict[str, Any]:
    from flask_migrate import upgrade
    from sqlalchemy import delete

    from portal import create_app, jobs
    from portal.extensions import db
    from portal.models import OutboxJob

    export_dir = tempfile.mkdtemp()
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench", "EXPORT_ON_CHANGE": False,
                      "EXPORT_DIR": export_dir, "RATELIMIT_STORAGE_URI": "memory://", "REDIS_URL": None,
                      "RQ_QUEUE": f"bench-{uuid.uuid4().hex[:6]}"})
    with app.app_context():
        upgrade()
    domain, token = _world(app)
    result: dict[str, Any] = {"bench": "outbox", "database": label, "writes": writes}
    setups = (("no_job", False, None), ("in_process", True, None), ("rq", True, redis_url),
              ("redis_down", True, "redis://127.0.0.1:9/0"))
    _writes(app, domain, token, 20, "warm")
    timings: dict[str, list[float]] = {name: [] for name, _, _ in setups}
    for round_ in range(writes):  # round-robin, so that the machine's load drifts alike for every set-up
        for name, export, redis in setups:
            app.config.update(EXPORT_ON_CHANGE=export, REDIS_URL=redis)
            jobs._state.update(redis_paused_until=0.0 if name != "redis_down" or round_ == 0 else
                               time.monotonic() + 3600, next_sweep=time.monotonic() + 3600)
            timings[name] += _writes(app, domain, token, 1, f"{name}-{round_}")
    with app.app_context():
        waiting = db.session.query(OutboxJob).count()
        db.session.execute(delete(OutboxJob))
        db.session.commit()
    for name, values in timings.items():
        values.sort()
        result[name] = {"median_ms": round(statistics.median(values), 2),
                        "p90_ms": round(values[int(len(values) * 0.9)], 2)}
    result["redis_down"]["left_waiting"] = waiting
    base = result["no_job"]["median_ms"]
    for name in ("in_process", "rq", "redis_down"):
        result[name]["ratio_to_no_job"] = round(result[name]["median_ms"] / base, 2)
    if redis_url:
        from redis import Redis
        from rq import Queue

        Queue(app.config["RQ_QUEUE"], connection=Redis.from_url(redis_url)).delete(delete_jobs=True)
    return result
