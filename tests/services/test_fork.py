"""A process forked with the app loaded (`gunicorn --preload`: the workers are forks of the master) opens its
own database connections: a pooled connection of the parent is never used by the child, and the parent's
stays good after the child has come and gone."""

from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import text

from portal.extensions import db


def _backend(app: Flask) -> str:
    """Who serves this process's session: PostgreSQL's backend pid, or (SQLite) the pooled connection's id."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            return str(db.session.scalar(text("SELECT pg_backend_pid()")))
        return str(id(db.session.connection().connection.dbapi_connection))


def test_a_forked_process_opens_its_own_connections(app: Flask) -> None:
    parent = _backend(app)  # a connection now pooled in this process
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one query, its backend back through the pipe, then out without cleanup
        code = 1
        try:
            os.close(reading)
            with app.app_context():
                record = db.session.connection().connection._connection_record
                mine = record.info.get("postern_pid") == os.getpid()
            os.write(writing, f"{_backend(app)} {mine}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(writing)
    answer = os.read(reading, 200).decode().split()
    os.close(reading)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    child, opened_by_child = answer
    assert opened_by_child == "True"
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            assert child != parent  # another server process: another connection
    with app.app_context():  # the parent's pooled connections still work (the child closed none of them)
        assert db.session.scalar(text("SELECT 1")) == 1
