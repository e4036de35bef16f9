"""Round trips to the database per list request: each main list stays within a budget (issue 16).

On PostgreSQL the count is the server's own: libpq's protocol trace of every pooled connection, one
ReadyForQuery per exchange (so a BEGIN or a COMMIT counts as much as a SELECT). On SQLite (no round trips:
a library call) the statements SQLAlchemy runs are counted."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, update

from portal import ids
from portal.clock import utcnow
from portal.extensions import db
from portal.models import ApiToken
from portal.services.tokens import token_digest
from tests.conftest import login
from tests.world import PASSWORD, World

BUDGET = 6  # exchanges with the database a list request may cost (issue 16)

@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    """Yields a list that holds, once the block ends, what reached the database inside it."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        seen: list[str] = []

        def statement(_conn: Any, _cursor: Any, text: str, *_args: Any) -> None:
            seen.append(" ".join(text.split())[:100])

        event.listen(engine, "before_cursor_execute", statement)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", statement)
        return
    with tempfile.TemporaryDirectory() as folder:
        trace = Path(folder) / "trace"
        with trace.open("w") as sink:
            def checkout(dbapi: Any, _record: Any, _proxy: Any) -> None:
                dbapi.pgconn.trace(sink.fileno())
                dbapi.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)

            def checkin(dbapi: Any, _record: Any) -> None:
                if dbapi is not None:
                    dbapi.pgconn.untrace()

            engine.pool.dispose()  # every connection from here on is checked out under the trace
            event.listen(engine, "checkout", checkout)
            event.listen(engine, "checkin", checkin)

            sent: list[str] = []
            try:
                yield sent
            finally:
                event.remove(engine, "checkout", checkout)
                event.remove(engine, "checkin", checkin)
                engine.pool.dispose()
                sink.flush()
                for line in trace.read_text().splitlines():  # a Query, or a Parse/Bind ... Sync exchange
                    fields = line.split("\t")
                    if fields[0] == "F" and fields[2] in ("Query", "Parse", "Bind") and (
                            fields[2] != "Bind" or not sent or not sent[-1].startswith("Parse")):
                        sent.append(f"{fields[2]} {fields[3][:100]}")


def _api_lists(world: World) -> list[str]:
    return ["/api/security/admins", "/api/domains", f"/api/domains/{world.id('A')}/users",
            f"/api/domains/{world.id('A')}/aliases"]


@pytest.mark.parametrize("role", ["sysadmin", "domainA"])
def test_each_api_list_stays_within_its_round_trips(app: Flask, client: FlaskClient, world: World,
                                                     role: str) -> None:
    for url in _api_lists(world):
        assert client.get(url, headers=world.headers(role)).status_code == 200  # warm: the token's last use
        with counting(app) as sent:
            assert client.get(url, headers=world.headers(role)).status_code == 200
        assert len(sent) <= BUDGET, "\n".join([url, *sent])


def test_each_list_page_stays_within_its_round_trips(app: Flask, client: FlaskClient, world: World) -> None:
    login(client, "root", PASSWORD)
    for url in ["/admin/domains", f"/admin/domains/{world.id('A')}/users", "/admin/admins"]:
        assert client.get(url).status_code == 200
        with counting(app) as sent:
            assert client.get(url).status_code == 200
        assert len(sent) <= BUDGET, "\n".join([url, *sent])


def test_a_read_only_request_sends_no_begin_or_commit(app: Flask, client: FlaskClient, world: World) -> None:
    url = f"/api/domains/{world.id('A')}/aliases"
    assert client.get(url, headers=world.headers("sysadmin")).status_code == 200
    with counting(app) as sent:
        assert client.get(url, headers=world.headers("sysadmin")).status_code == 200
    assert not [s for s in sent if re.search(r"\b(BEGIN|COMMIT|ROLLBACK)\b", s)], sent


def test_a_read_request_that_writes_is_one_transaction_again(app: Flask, client: FlaskClient, world: World) -> None:
    """A token's last use is written by a GET: in a transaction (BEGIN first), so a GET that fails after
    it (a 404) leaves nothing written, and one that succeeds commits it."""
    long_ago = utcnow() - timedelta(days=3)
    with app.app_context():
        db.session.execute(update(ApiToken).values(last_use=long_ago))
        db.session.commit()

    def last_use() -> datetime | None:
        with app.app_context():
            token = db.session.scalar(select(ApiToken).where(ApiToken.digest == token_digest(world.token["domainA"])))
            return token.last_use if token else None

    with app.app_context():
        missing = ids.encode(999_999)
    with counting(app) as sent:
        assert client.get(f"/api/domains/{missing}", headers=world.headers("domainA")).status_code == 404
    assert last_use() == long_ago
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert [s for s in sent if "BEGIN" in s and "UPDATE" not in s], sent  # the write began a transaction
    assert client.get("/api/domains", headers=world.headers("domainA")).status_code == 200
    assert last_use() != long_ago
