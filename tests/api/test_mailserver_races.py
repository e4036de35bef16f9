"""Mail servers across processes: a real gunicorn with 4 workers on the suite's database, parallel requests.
Enabling many SMTP servers at once leaves exactly one in use; a server is checked once per interval however
many requests ask at the same moment."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from portal import ids
from portal.extensions import db
from portal.models import MailServer
from tests.services_runtime import gunicorn_app, smtp_server
from tests.world import World

PARALLEL = 10


def _post(url: str, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, method="POST", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _environment(app: Flask, database_url: str, **extra: str) -> dict[str, str]:
    return {"POSTERN_DATABASE_URL": database_url, "POSTERN_SECRET_KEY": app.config["SECRET_KEY"],
            "POSTERN_INSTANCE_DIR": str(app.config["INSTANCE_DIR"]), "POSTERN_ALLOW_PRIVATE_TARGETS": "true",
            "POSTERN_LOGIN_RATE_LIMIT": "1000 per second", "POSTERN_MAILSERVER_PORTS": "1024-65535", **extra}


def _in_parallel(urls: list[str], token: str) -> list[tuple[int, dict[str, Any]]]:
    start = threading.Barrier(len(urls))

    def one(url: str) -> tuple[int, dict[str, Any]]:
        start.wait(timeout=30)
        return _post(url, token)

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(one, urls))


def test_enabling_many_smtp_servers_at_once_leaves_one_in_use(app: Flask, world: World, database_url: str) -> None:
    with app.app_context():
        servers = [MailServer(name=f"smtp-{i}", protocol="SMTP", host="127.0.0.1", port=25, security="NONE",
                              auth="NO_AUTH") for i in range(PARALLEL)]
        db.session.add_all(servers)
        db.session.commit()
        public = [ids.encode(s.id) for s in servers]
    with gunicorn_app(_environment(app, database_url), workers=4) as base:
        answers = _in_parallel([f"{base}/api/mailservers/{pid}/enable" for pid in public], world.token["sysadmin"])
    statuses = sorted(status for status, _body in answers)
    assert set(statuses) <= {200, 409} and 200 in statuses, statuses  # refused or done, never a 500
    with app.app_context():
        enabled = db.session.scalar(select(func.count()).select_from(MailServer)
                                    .where(MailServer.protocol == "SMTP", MailServer.enabled))
        assert enabled == 1


def test_parallel_checks_of_one_server_run_once(app: Flask, world: World, database_url: str) -> None:
    with smtp_server() as (_sink, port), app.app_context():
        server = db.session.get(MailServer, world.pk["server"])
        server.port = port
        db.session.commit()
        env = _environment(app, database_url, POSTERN_MAILSERVER_CHECK_INTERVAL="600")
        with gunicorn_app(env, workers=4) as base:
            url = f"{base}/api/mailservers/{world.id('server')}/check"
            answers = _in_parallel([url] * PARALLEL, world.token["sysadmin"])
        statuses = sorted(status for status, _body in answers)
        assert statuses.count(200) == 1 and statuses.count(429) == PARALLEL - 1, statuses
        (checked,) = [body for status, body in answers if status == 200]
        assert checked["ok"] is True, checked
        db.session.expire_all()
        assert db.session.get(MailServer, world.pk["server"]).check_ok is True
