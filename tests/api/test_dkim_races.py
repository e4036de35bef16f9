"""DKIM across processes: a real gunicorn with 4 workers on the suite's database, parallel requests. Many
"generate" at once make one key (the rest 409); many rotations at once prepare one pending key."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from sqlalchemy import select

from portal.extensions import db
from portal.models import DkimKey
from tests.api.test_mailserver_races import _environment
from tests.services_runtime import gunicorn_app
from tests.world import World

PARALLEL = 6


def _tokens(app: Flask, world: World, role: str) -> list[str]:
    """One token per request: requests with one token would take turns on its `lastUse` row, hiding a race."""
    from portal.models import Admin
    from portal.services import tokens

    with app.app_context():
        admin = db.session.get(Admin, world.pk[role])
        values = [tokens.issue(admin, f"race {n}")[1] for n in range(PARALLEL)]
        db.session.commit()
    return values


def _in_parallel(urls: list[str], tokens: list[str], bodies: list[Any] | None = None) -> list[tuple[int, Any]]:
    start = threading.Barrier(len(urls))

    def one(url: str, token: str, body: Any) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method="POST", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        start.wait(timeout=30)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(one, urls, tokens, bodies or [None] * len(urls)))


def _states(app: Flask, world: World, domain: str) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(DkimKey.state).where(DkimKey.domain_id == world.pk[domain])))


def test_parallel_generation_and_rotation_keep_one_key_per_state(app: Flask, world: World, database_url: str) -> None:
    root, admin_b = _tokens(app, world, "sysadmin"), _tokens(app, world, "domainB")
    with gunicorn_app(_environment(app, database_url), workers=4) as base:
        generated = _in_parallel([f"{base}/api/domains/{world.id('A')}/dkim"] * PARALLEL, root)
        statuses = sorted(status for status, _body in generated)
        assert statuses == [201] + [409] * (PARALLEL - 1), statuses
        assert _states(app, world, "A") == ["active"]
        # each rotation asks for another selector: no unique constraint settles it, the domain's lock does
        rotations = _in_parallel([f"{base}/api/domains/{world.id('B')}/dkim/rotation"] * PARALLEL,
                                 admin_b, [{"selector": f"s{n}"} for n in range(PARALLEL)])
    statuses = sorted(status for status, _body in rotations)
    assert statuses == [201] + [409] * (PARALLEL - 1), statuses
    assert _states(app, world, "B") == ["active", "pending"]
