"""release-once: deliveries per 10 parallel releases of one message, the portal under gunicorn -w 4, a relay
(aiosmtpd) that takes 0.5 s per message. Exactly-once means 1.0 delivery per round and no 5xx.

`python bench/release_once.py [--root TREE]` runs it on a fresh SQLite file and, when reachable, a fresh
PostgreSQL database; `--root` serves another checkout (e.g. the code before release claims:
`git worktree add /tmp/old eeb5db3; python bench/release_once.py --root /tmp/old`). The data are set up by
that tree's own code (migrations, tests/world.py), in a subprocess.

Environment: BENCH_RELEASE_ROUNDS (5 messages, each released by 10 parallel requests), BENCH_PARALLEL (10),
BENCH_PG_URL (postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETUP = r'''
import json, mailbox, sys
from pathlib import Path
from flask_migrate import upgrade
from portal import create_app
from portal.extensions import db
from portal.integrations.mailstore import maildir_root
from portal.models import Domain
url, instance, port, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "INSTANCE_DIR": instance,
                  "PASSWORD_HASHER": "fast"})
with app.app_context():
    upgrade()
    from tests.world import build_world
    world = build_world()
    db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = port
    root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
    folder = mailbox.Maildir(str(root)).get_folder("Quarantine")
    for n in range(rounds):
        folder.add(mailbox.MaildirMessage(
            f"From: winner@lottery.example\nTo: user@a.example\nSubject: You won {n}\nX-Fuglu-Id: bench{n}\n"
            f"X-Quarantine-Reason: SPAM\nX-Original-To: user@a.example\n\nclaim it\n"))
    db.session.commit()
    print(json.dumps({"token": world.token["enduser"], "user": world.id("userA"),
                      "mail_root": app.config["MAIL_ROOT"]}))
'''


def _post(url: str, token: str) -> int:
    request = urllib.request.Request(url, method="POST", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def run(label: str, database_url: str, root: Path, *, rounds: int, parallel: int) -> dict[str, Any]:
    from tests.services_runtime import gunicorn_app, slow_smtp_server

    instance = tempfile.mkdtemp(prefix="bench-release-")
    with slow_smtp_server(0.5) as (sink, port):
        setup = subprocess.run([sys.executable, "-c", SETUP, database_url, instance, str(port), str(rounds)],
                               cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True,
                               text=True, timeout=300, check=True)
        data = json.loads(setup.stdout.strip().splitlines()[-1])
        env = {"POSTERN_DATABASE_URL": database_url, "POSTERN_SECRET_KEY": "bench", "POSTERN_INSTANCE_DIR": instance,
               "POSTERN_MAIL_ROOT": data["mail_root"], "POSTERN_DELIVERY": "smtp", "POSTERN_SMTP_TIMEOUT": "10"}
        statuses: Counter[int] = Counter()
        deliveries: list[int] = []
        seconds: list[float] = []
        with gunicorn_app(env, workers=4, root=str(root)) as base:
            for n in range(rounds):
                url = f"{base}/api/users/{data['user']}/emails/Quarantine/bench{n}/release"
                barrier = threading.Barrier(parallel)

                def one(_i: int, url: str = url, barrier: threading.Barrier = barrier) -> int:
                    barrier.wait(timeout=60)
                    return _post(url, data["token"])

                start = time.perf_counter()
                with ThreadPoolExecutor(parallel) as pool:
                    statuses.update(pool.map(one, range(parallel)))
                seconds.append(time.perf_counter() - start)
                time.sleep(0.2)  # let a straggling delivery land before counting
                deliveries.append(sum(1 for _f, _r, raw in sink.messages if f"X-Fuglu-Id: bench{n}\r\n".encode() in raw
                                      or f"X-Fuglu-Id: bench{n}\n".encode() in raw))
    return {"benchmark": "release-once", "database": label, "tree": str(root), "rounds": rounds,
            "parallel": parallel, "deliveries_per_round": deliveries,
            "mean_deliveries": round(sum(deliveries) / len(deliveries), 2),
            "statuses": dict(sorted(statuses.items())),
            "round_seconds_median": round(sorted(seconds)[len(seconds) // 2], 2)}


def main() -> None:
    from bench.run import on_databases

    root = ROOT
    if "--root" in sys.argv:
        root = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
    rounds = int(os.environ.get("BENCH_RELEASE_ROUNDS", "5"))
    parallel = int(os.environ.get("BENCH_PARALLEL", "10"))

    def one(label: str, url: str) -> dict[str, Any]:
        result = run(label, url, root, rounds=rounds, parallel=parallel)
        print(json.dumps(result))
        return result

    on_databases("release", one)


if __name__ == "__main__":
    main()
