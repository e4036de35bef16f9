"""The bare component underneath: a Flask route returning fixed bytes (same server, same load)."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
TOTAL = os.environ.get("BENCH_TOTAL", "0")

app = Flask(__name__)


@app.get("/api/security/admins")
def admins() -> Response:
    return Response(BODY, mimetype="application/json", headers={"X-Total-Count": TOTAL})
