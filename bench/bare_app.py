"""The bare components underneath the admins list, each a Flask route in the same gunicorn setup:

- `/api/security/admins`: fixed bytes (the same body Postern answered), nothing else;
- `/bench/admins-sql`: the hand-written route (issue 16): the list's two SQL statements (the filtered count and
  the page) through the bare DB-API driver, one connection per process, the rows through json.dumps.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask, Response

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
TOTAL = os.environ.get("BENCH_TOTAL", "0")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "")
COLUMNS = ("id, login, display_name, email, enabled, language, sys_admin, totp_secret IS NOT NULL AS totp, "
           "last_connection_date, created_at")

app = Flask(__name__)
_connection: Any = None


def _db() -> tuple[Any, str, str]:
    """This process's connection, its parameter mark and its case-insensitive LIKE."""
    global _connection
    if DATABASE_URL.startswith("sqlite:///"):
        if _connection is None:
            _connection = sqlite3.connect(DATABASE_URL[len("sqlite:///"):], check_same_thread=False)
        return _connection, "?", "LIKE"
    import psycopg

    if _connection is None:
        _connection = psycopg.connect(DATABASE_URL, autocommit=True)
    return _connection, "%s", "ILIKE"


@app.get("/api/security/admins")
def admins() -> Response:
    return Response(BODY, mimetype="application/json", headers={"X-Total-Count": TOTAL})


@app.get("/bench/admins-sql")
def admins_sql() -> Response:
    conn, mark, like = _db()
    where = f"login {like} {mark} OR email {like} {mark} OR display_name {like} {mark}"
    cursor = conn.cursor()
    cursor.execute(f"SELECT count(*) FROM admins WHERE {where}", ("%x%",) * 3)
    total = cursor.fetchone()[0]
    cursor.execute(f"SELECT {COLUMNS} FROM admins WHERE {where} ORDER BY login DESC LIMIT 40", ("%x%",) * 3)
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return Response(json.dumps(rows, default=str), mimetype="application/json",
                    headers={"X-Total-Count": str(total)})
