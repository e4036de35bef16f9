"""/api/services/{clamav|spamassassin} (issue 17): status and live self-tests against a real clamd and spamd,
a service that is down answers in bounded time, start/stop command lines that succeed, fail, hang or are
missing, and the audit trail."""

from __future__ import annotations

import shlex
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from tests.services_runtime import clamd, free_port, spamd
from tests.world import World

KEYS = ("CLAMD", "SPAMD", "FILTER_STATUS_TIMEOUT", "FILTER_COMMAND_TIMEOUT", "CLAMAV_START", "CLAMAV_STOP",
        "SPAMASSASSIN_START", "SPAMASSASSIN_STOP")


@contextmanager
def settings(app: Flask, **values: Any) -> Iterator[None]:
    """The filter services' settings for one test (the app is shared by the session)."""
    saved = {key: app.config.get(key) for key in KEYS}
    app.config.update({key: None for key in KEYS if "START" in key or "STOP" in key or key in ("CLAMD", "SPAMD")})
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(saved)


@pytest.fixture(scope="module")
def clamd_address() -> Iterator[str]:
    with clamd() as address:
        yield address


@pytest.fixture(scope="module")
def spamd_address() -> Iterator[str]:
    with spamd() as address:
        yield address


def _events(app: Flask) -> list[tuple[str, str, str, str]]:
    with app.app_context():
        return [(e.actor, e.action, e.target, e.detail)
                for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_clamav_status_version_and_eicar_self_test(app: Flask, client: FlaskClient, world: World,
                                                   clamd_address: str) -> None:
    with settings(app, CLAMD=clamd_address):
        response = client.get("/api/services/clamav", headers=world.headers("sysadmin"))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["name"] == "clamav" and body["running"] is True
    assert body["version"].startswith("ClamAV ")
    assert body["selfTest"]["ok"] is True and "Eicar" in body["selfTest"]["detail"]
    assert _events(app) == [("root", "SERVICE_STATUS", "clamav", "running=True selfTest=True")]


def test_spamassassin_status_version_and_gtube_self_test(app: Flask, client: FlaskClient, world: World,
                                                         spamd_address: str) -> None:
    with settings(app, SPAMD=spamd_address):
        response = client.get("/api/services/spamassassin", headers=world.headers("broker"))  # QUEUE_MANAGE on B1
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body == {"name": "spamassassin", "running": True, "version": "SPAMD/1.5", "selfTest": body["selfTest"]}
    assert body["selfTest"]["ok"] is True and "spam=True" in body["selfTest"]["detail"]
    assert _events(app) == [("broker1", "SERVICE_STATUS", "spamassassin", "running=True selfTest=True")]


@pytest.mark.parametrize("name", ["clamav", "spamassassin"])
def test_a_service_nothing_listens_for_is_not_running(app: Flask, client: FlaskClient, world: World,
                                                      name: str) -> None:
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with settings(app, CLAMD=address, SPAMD=address):
        body = client.get(f"/api/services/{name}", headers=world.headers("sysadmin")).get_json()
    assert time.monotonic() - started < 5
    assert body["running"] is False and body["version"] is None
    assert body["selfTest"]["ok"] is False and "cannot be reached" in body["selfTest"]["detail"]


@pytest.mark.parametrize("name", ["clamav", "spamassassin"])
def test_a_service_that_accepts_but_never_answers_ends_at_the_status_deadline(
        app: Flask, client: FlaskClient, world: World, name: str) -> None:
    with socket.socket() as mute:  # accepts connections (the backlog), never reads or answers
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        address = f"127.0.0.1:{mute.getsockname()[1]}"
        started = time.monotonic()
        with settings(app, CLAMD=address, SPAMD=address, FILTER_STATUS_TIMEOUT=1.0):
            body = client.get(f"/api/services/{name}", headers=world.headers("sysadmin")).get_json()
        assert time.monotonic() - started < 1.0 + 4
    assert body["running"] is False and "did not answer within" in body["selfTest"]["detail"]


@pytest.mark.parametrize(("name", "setting"), [("clamav", "POSTERN_CLAMD"), ("spamassassin", "POSTERN_SPAMD")])
def test_a_service_not_configured_says_which_setting(app: Flask, client: FlaskClient, world: World, name: str,
                                                     setting: str) -> None:
    with settings(app):
        body = client.get(f"/api/services/{name}", headers=world.headers("sysadmin")).get_json()
    assert body["running"] is False and setting in body["selfTest"]["detail"]


def test_an_unknown_service_is_404(client: FlaskClient, world: World) -> None:
    for method in ("get", "put"):
        response = getattr(client, method)("/api/services/postfix", headers=world.headers("sysadmin"),
                                           **({"json": {"enabled": True}} if method == "put" else {}))
        assert response.status_code == 404
        assert "no filter service named postfix" in response.get_json()["detail"]


def _script(tmp_path: Path, text: str) -> str:
    script = tmp_path / "switch.sh"
    script.write_text(text)
    return f"sh {shlex.quote(str(script))}"


def test_start_and_stop_run_the_configured_command_lines(app: Flask, client: FlaskClient, world: World,
                                                         tmp_path: Path) -> None:
    marker = tmp_path / "state"
    start = _script(tmp_path, f'echo "$@" > {shlex.quote(str(marker))}; echo started "$1"\n') + " 'on it'"
    stop = f"{shlex.quote(sys.executable)} -c \"print('stopped')\""
    with settings(app, SPAMASSASSIN_START=start, SPAMASSASSIN_STOP=stop):
        on = client.put("/api/services/spamassassin", json={"enabled": True}, headers=world.headers("sysadmin"))
        assert on.status_code == 200, on.get_data(as_text=True)
        assert on.get_json() == {"name": "spamassassin", "enabled": True, "exitCode": 0, "output": "started on it"}
        assert marker.read_text() == "on it\n"  # one argument, quoted as in a shell, no shell run
        off = client.put("/api/services/spamassassin", json={"enabled": False}, headers=world.headers("sysadmin"))
        assert off.status_code == 200 and off.get_json()["output"] == "stopped"
    actions = [(actor, action, target) for actor, action, target, _detail in _events(app)]
    assert actions == [("root", "SERVICE_START", "spamassassin"), ("root", "SERVICE_STOP", "spamassassin")]


def test_a_failing_command_gives_its_error_and_exit_code_and_changes_nothing(
        app: Flask, client: FlaskClient, world: World) -> None:
    with settings(app, CLAMAV_STOP="sh -c 'echo boom >&2; exit 3'"):
        response = client.put("/api/services/clamav", json={"enabled": False}, headers=world.headers("sysadmin"))
    assert response.status_code == 502
    assert response.mimetype == "application/problem+json"
    detail = response.get_json()["detail"]
    assert "exit code 3" in detail and "boom" in detail
    # the command ran on the host: recorded although the request rolled back
    assert _events(app) == [("root", "SERVICE_STOP", "clamav", "sh -c 'echo boom >&2; exit 3' -> exit 3: boom")]


def test_a_command_that_cannot_run_or_hangs_is_a_502_in_bounded_time(app: Flask, client: FlaskClient,
                                                                     world: World) -> None:
    with settings(app, CLAMAV_START="/nonexistent/clamav-start", CLAMAV_STOP="sleep 30", FILTER_COMMAND_TIMEOUT=1.0):
        missing = client.put("/api/services/clamav", json={"enabled": True}, headers=world.headers("sysadmin"))
        assert missing.status_code == 502 and "/nonexistent/clamav-start" in missing.get_json()["detail"]
        started = time.monotonic()
        hung = client.put("/api/services/clamav", json={"enabled": False}, headers=world.headers("sysadmin"))
        assert time.monotonic() - started < 1.0 + 4
    assert hung.status_code == 502 and "did not finish within 1 s" in hung.get_json()["detail"]
    assert [(action, detail) for _actor, action, _target, detail in _events(app)] == [
        ("SERVICE_START", "/nonexistent/clamav-start -> not run: No such file or directory"),
        ("SERVICE_STOP", "sleep 30 -> killed after 1 s")]


def test_no_command_configured_is_a_409_naming_the_setting(app: Flask, client: FlaskClient, world: World) -> None:
    with settings(app):
        response = client.put("/api/services/spamassassin", json={"enabled": True}, headers=world.headers("sysadmin"))
    assert response.status_code == 409 and "POSTERN_SPAMASSASSIN_START" in response.get_json()["detail"]
    assert _events(app) == []  # nothing ran, nothing recorded


def test_bad_bodies_are_refused_before_anything_runs(app: Flask, client: FlaskClient, world: World,
                                                     tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with settings(app, CLAMAV_START=f"touch {shlex.quote(str(marker))}"):
        for body in ({"enabled": "maybe"}, {}, {"enabled": True, "force": True}, ["enabled"]):
            response = client.put("/api/services/clamav", json=body, headers=world.headers("sysadmin"))
            assert response.status_code == 400, body
    assert not marker.exists()


def test_only_sysadmins_switch_and_operators_only_read(app: Flask, client: FlaskClient, world: World,
                                                       tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with settings(app, CLAMAV_START=f"touch {shlex.quote(str(marker))}"):
        assert client.put("/api/services/clamav", json={"enabled": True},
                          headers=world.headers("broker")).status_code == 403
        assert client.get("/api/services/clamav", headers=world.headers("customer")).status_code == 403
    assert not marker.exists()


def test_a_command_output_is_bounded_and_a_daemon_it_leaves_behind_is_not_waited_for(
        app: Flask, client: FlaskClient, world: World) -> None:
    loud = f"{shlex.quote(sys.executable)} -c \"print('x' * 300000)\""
    spawner = "sh -c 'sleep 5 & echo spawned'"  # the "daemon" keeps the output pipe open after the command ends
    with settings(app, CLAMAV_START=loud, CLAMAV_STOP=spawner):
        on = client.put("/api/services/clamav", json={"enabled": True}, headers=world.headers("sysadmin"))
        started = time.monotonic()
        off = client.put("/api/services/clamav", json={"enabled": False}, headers=world.headers("sysadmin"))
        assert time.monotonic() - started < 4
    assert on.status_code == 200 and 4000 <= len(on.get_json()["output"]) <= 4002
    assert off.status_code == 200 and off.get_json()["output"] == "spawned"
