"""The whole database as data, to check that a refused request changed nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.extensions import db

VOLATILE = {"last_use", "last_connection_date"}  # bookkeeping of the request itself


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    db.session.expire_all()
    state = {}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if c.name not in VOLATILE]
        rows = db.session.execute(select(*columns).order_by(*table.primary_key.columns)).all()
        state[table.name] = [tuple(r) for r in rows]
    return state
