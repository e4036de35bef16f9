"""Concurrent duplicates are conflicts, never 500s: a row another request commits between a service's
check and its insert gives the form's message next to the field, or a 409 problem; and ten clients
creating the same rule at once against gunicorn -w 4 get one 201 and nine 409s."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, text

from portal.extensions import db
from portal.models import SenderRule
from tests.conftest import csrf_token, login
from tests.services_runtime import gunicorn_app
from tests.world import PASSWORD, World


@contextmanager
def duplicate_behind(app: Flask, table: str, row: dict[str, Any]) -> Iterator[list[str]]:
    """Insert `row` into `table` just before this process's next INSERT INTO `table` runs: after the
    service's check, as a concurrent request would. Yields how it was written ("elsewhere": another
    connection, committed; "here": this connection, when it holds SQLite's write lock and a second
    writer would only wait for it)."""
    columns = ", ".join(row)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(':' + c for c in row)})"
    how: list[str] = []
    with app.app_context():
        engine = db.engine

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if how or not statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "):
            return
        raw = conn.connection.dbapi_connection
        if engine.dialect.name == "sqlite" and raw.in_transaction:
            how.append("here")
            raw.execute(sql, row)
            return
        how.append("elsewhere")
        with engine.connect() as other:
            other.execute(text(sql), row)
            other.commit()

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield how
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _row(world: World, value: str) -> dict[str, Any]:
    return {"owner_key": f"d:{world.pk['A']}", "domain_id": world.pk["A"], "value": value, "type": "BLOCK",
            "created_at": "2026-01-01 00:00:00"}


def _count(app: Flask, world: World, value: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SenderRule).where(
            SenderRule.owner_key == f"d:{world.pk['A']}", SenderRule.value == value))


def test_a_page_shows_a_concurrent_duplicate_next_to_the_field(app: Flask, client: FlaskClient, world: World) -> None:
    assert login(client, "admin-a", PASSWORD).status_code == 302
    token = csrf_token(client.get("/").text)
    with duplicate_behind(app, "sender_rules", _row(world, "race@bad.example")) as how:
        page = client.post(f"/admin/domains/{world.id('A')}/rules/senders",
                           data={"csrf_token": token, "value": "race@bad.example", "type": "BLOCK"})
    assert how, "the page did not insert"
    assert page.status_code == 409
    assert 'aria-invalid="true" aria-describedby="e-value"' in page.text
    assert "A rule for this sender already exists." in page.text
    assert _count(app, world, "race@bad.example") == (1 if how == ["elsewhere"] else 0)


def test_the_api_answers_a_concurrent_duplicate_with_409(app: Flask, client: FlaskClient, world: World) -> None:
    with duplicate_behind(app, "sender_rules", _row(world, "race@bad.example")) as how:
        answer = client.post(f"/api/domains/{world.id('A')}/wblist", json=[{"value": "race@bad.example",
                                                                              "type": "BLOCK"}],
                             headers=world.headers("domainA"))
    assert how, "the API did not insert"
    assert answer.status_code == 409 and answer.mimetype == "application/problem+json"
    assert answer.json["errors"] == [{"field": "value", "message": "A rule for this sender already exists."}]
    assert _count(app, world, "race@bad.example") == (1 if how == ["elsewhere"] else 0)


BURSTS = 12  # before the fix, about one burst in five had a 500


def _post(url: str, body: bytes, headers: dict[str, str], start: threading.Barrier) -> tuple[int, dict[str, Any]]:
    start.wait(timeout=60)
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_parallel_creations_of_one_rule_under_gunicorn(app: Flask, database_url: str, world: World,
                                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    """gunicorn -w 4 on the test database (PostgreSQL under POSTERN_TEST_DATABASE_URL): 10 parallel POSTs
    of the same rule, for each of BURSTS rules, give one 201 and nine 409s, never a 500, and one row."""
    environment = {
        "POSTERN_DATABASE_URL": database_url, "POSTERN_SECRET_KEY": "test-secret-key-not-for-production",
        "POSTERN_INSTANCE_DIR": str(tmp_path_factory.mktemp("gunicorn")), "POSTERN_BASE_URL": "http://postern.test",
        "POSTERN_EXPORT_ON_CHANGE": "false",
    }
    headers = {**world.headers("domainA"), "Content-Type": "application/json"}
    with gunicorn_app(environment, workers=4) as base:
        for burst in range(BURSTS):
            value = f"race-{burst}@bad.example"
            body = json.dumps([{"value": value, "type": "BLOCK"}]).encode()
            start = threading.Barrier(10)
            url = f"{base}/api/domains/{world.id('A')}/wblist"
            with ThreadPoolExecutor(10) as pool:
                futures = [pool.submit(_post, url, body, headers, start) for _ in range(10)]
                answers = [future.result() for future in futures]
            statuses = sorted(status for status, _ in answers)
            assert statuses == [201] + [409] * 9, answers
            for status, problem in answers:
                if status == 409:
                    assert problem["errors"][0]["field"].endswith("value"), problem
            assert _count(app, world, value) == 1


def test_a_domain_and_an_alias_of_one_name_are_never_both_created(app: Flask, client: FlaskClient,
                                                                    world: World) -> None:
    """No constraint spans domains and domain aliases: a request adding the alias `both.example` that has not
    committed yet, and another creating the domain `both.example`, must not both succeed (probe: 10 clients
    under gunicorn -w 4 made both, on PostgreSQL and on SQLite)."""
    from sqlalchemy.orm import Session

    from portal.models import Domain, DomainAlias

    writer = threading.current_thread
    held, alias_thread = threading.Event(), {}

    def pause_before_commit(session: Session) -> None:
        if writer() is alias_thread.get("t") and any(isinstance(o, DomainAlias) for o in session.identity_map.values()):
            held.set()
            threading.Event().wait(1.0)  # the other request runs meanwhile (and, holding the name, must wait)

    answers: dict[str, int] = {}

    def add_alias() -> None:
        answers["alias"] = client.post(f"/api/domains/{world.id('A')}/aliases", json=["both.example"],
                                       headers=world.headers("sysadmin")).status_code

    for role in ("sysadmin", "broker"):  # each token's last use is written now: the requests below write nothing else
        assert client.get("/api/domains", headers=world.headers(role)).status_code == 200
    event.listen(Session, "before_commit", pause_before_commit)
    try:
        alias_thread["t"] = thread = threading.Thread(target=add_alias)
        thread.start()
        assert held.wait(30)
        answers["domain"] = client.post("/api/domains", json={"name": "both.example", "customerId": world.id("C1")},
                                        headers=world.headers("broker")).status_code
        thread.join(30)
    finally:
        event.remove(Session, "before_commit", pause_before_commit)
    assert answers == {"alias": 201, "domain": 409}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Domain).where(Domain.name == "both.example")) == 0
        assert db.session.scalar(select(func.count()).select_from(DomainAlias)
                                 .where(DomainAlias.name == "both.example")) == 1
