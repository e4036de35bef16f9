"""The portal as it runs in production: real processes (gunicorn, the worker, the scheduler) with Redis
down or silent."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from redis import Redis

from tests.services_runtime import free_port, gunicorn_app, redis_url, silent_server
from tests.world import PASSWORD, World

ROOT = Path(__file__).resolve().parent.parent.parent


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _login(base: str, login: str, password: str) -> tuple[int, str]:
    """POST /login as a browser would; (status, Location)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect)
    page = opener.open(f"{base}/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    data = urllib.parse.urlencode({"csrf_token": token.group(1), "login": login, "password": password}).encode()
    try:
        response = opener.open(urllib.request.Request(f"{base}/login", data=data), timeout=30)
        return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")


def _env(database_url: str, tmp_path: Path, redis: str) -> dict[str, str]:
    return {"POSTERN_DATABASE_URL": database_url, "POSTERN_INSTANCE_DIR": str(tmp_path), "REDIS_URL": redis,
            "POSTERN_RQ_QUEUE": f"postern-test-{os.getpid()}-{free_port()}"}


@pytest.mark.parametrize("redis_state", ["stopped", "silent"])
def test_login_works_while_redis_is_down(database_url: str, world: World, tmp_path: Path, redis_state: str) -> None:
    if redis_state == "stopped":
        with gunicorn_app(_env(database_url, tmp_path, f"redis://127.0.0.1:{free_port()}/0"), workers=1) as base:
            status, location = _login(base, "root", PASSWORD)
    else:
        with silent_server() as port, gunicorn_app(_env(database_url, tmp_path,
                                                        f"redis://127.0.0.1:{port}/0"), workers=1) as base:
            status, location = _login(base, "root", PASSWORD)
    assert status == 302 and not location.endswith("/login"), (status, location)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _registered(connection: Redis, command: str, pid: int) -> bool:
    from rq.cron_scheduler_registry import get_registry_key

    if command == "worker":
        return any(connection.hget(key, "pid") == str(pid).encode() for key in connection.smembers("rq:workers"))
    return any(f":{pid}:" in name.decode() for name in connection.zrange(get_registry_key(), 0, -1))


@pytest.mark.parametrize("command", ["worker", "scheduler"])
def test_worker_and_scheduler_leave_no_orphan(database_url: str, world: World, tmp_path: Path, command: str) -> None:
    """Each is one process without children, so a `kill -9` (or a supervisor's stop) leaves nothing behind."""
    with redis_url() as url:
        env = {**os.environ, **_env(database_url, tmp_path, url), "POSTERN_SECRET_KEY": "x" * 32}
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "portal", command], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            connection = Redis.from_url(url)
            ready = threading.Event()
            for _ in range(300):  # up to 30 s: registered in Redis, so past its start-up
                if proc.poll() is not None or _registered(connection, command, proc.pid):
                    break
                ready.wait(0.1)
            assert _registered(connection, command, proc.pid), "the process did not register in Redis"
            ready.wait(1.0)  # a scheduler child, if any, would be forked by now
            assert proc.poll() is None, "the process died"
            assert _children(proc.pid) == []
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
