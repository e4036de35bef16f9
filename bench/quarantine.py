"""quarantine: a Dovecot Quarantine folder of 10,000 messages read through the API and the HTML page,
against raw imapclient doing the minimal SORT/SEARCH + FETCH of the same 40 messages; and release
throughput to an aiosmtpd peer against raw smtplib sending the same messages. In-process medians."""

from __future__ import annotations

import random
import re
import smtplib
import statistics
import time
from collections.abc import Callable
from typing import Any

SUBJECTS = ("Cheap watches", "Your invoice", "Meeting notes", "You won", "Newsletter", "Re: hello", "Offer")
FETCH = ["FLAGS", "RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (X-FUGLU-ID X-SPAM-SCORE X-QUARANTINE-REASON "
         "X-VIRUS-NAME MESSAGE-ID X-ORIGINAL-TO IMPORTANCE X-PRIORITY DATE FROM TO CC SUBJECT CONTENT-TYPE)]"]


def paired_ms(fns: dict[str, Callable[[], Any]], runs: int) -> dict[str, float]:
    """Medians of several ways to do the same thing, run in turns (no one profits from a warmer server)."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm caches
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: round(statistics.median(values), 2) for name, values in samples.items()}


def _message(i: int, rng: random.Random) -> bytes:
    day = 1 + i % 28
    return (f"From: sender{rng.randrange(500)}@spam{i % 37}.example\r\nTo: user@a.example\r\n"
            f"Subject: {rng.choice(SUBJECTS)} {i}\r\n"
            f"Date: Sun, {day:02d} Feb 2026 {i % 24:02d}:{i % 60:02d}:00 +0000\r\n"
            f"Message-ID: <m{i}@spam.example>\r\nX-Fuglu-Id: q{i:06d}\r\nX-Spam-Score: {rng.uniform(5, 30):.1f}\r\n"
            f"X-Quarantine-Reason: SPAM\r\nX-Original-To: user@a.example\r\n\r\n"
            f"Buy now, offer number {i}.\r\n" + "lorem ipsum dolor sit amet " * 20 + "\r\n").encode()


def _fill(server: dict[str, Any], count: int) -> None:
    from imapclient import IMAPClient

    rng = random.Random(11)
    client = IMAPClient(server["host"], port=server["port"], ssl=False, timeout=30)
    client.login("user@a.example", "user password")
    batch: list[bytes] = []
    for i in range(count):
        batch.append(_message(i, rng))
        if len(batch) == 500:
            client.multiappend("Quarantine", batch)
            batch = []
    if batch:
        client.multiappend("Quarantine", batch)
    client.logout()


def run(label: str, *, messages: int, runs: int, releases: int) -> dict[str, Any]:
    import tempfile
    from pathlib import Path

    from flask_migrate import upgrade
    from imapclient import IMAPClient

    from portal import create_app, ids
    from portal.extensions import db
    from portal.models import Admin, Broker, Customer, Domain, MailUser, Platform
    from portal.permissions import END_USER_PERMISSIONS
    from portal.services import policies, tokens
    from portal.services.passwords import hash_password
    from tests.services_runtime import dovecot, smtp_server

    workdir = Path(tempfile.mkdtemp())
    with dovecot({"user@a.example": "user password"}) as server, smtp_server() as (sink, smtp_port):
        start = time.perf_counter()
        _fill(server, messages)
        fill_s = time.perf_counter() - start
        master, secret = server["master"]
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.db'}", "SECRET_KEY": "bench",
                          "LOGIN_RATE_LIMIT": "1000000 per second", "PASSWORD_HASHER": "fast",
                          "INSTANCE_DIR": str(workdir)})
        with app.app_context():
            upgrade()
            broker = Broker(name="Quarantine Bench")
            db.session.add(broker)
            db.session.flush()
            customer = Customer(broker_id=broker.id, name="Quarantine Bench")
            db.session.add(customer)
            db.session.flush()
            domain = Domain(customer_id=customer.id, name="a.example",
                            end_user_permissions=" ".join(END_USER_PERMISSIONS))
            db.session.add(domain)
            db.session.flush()
            domain.policies = [policies.default_policy(domain, quarantine=True, retention=False, archive=False)]
            domain.platforms = [Platform(name="dovecot", transport_dest="127.0.0.1", transport_port=smtp_port,
                                         transport_type="SMTP", is_default=True)]
            user = MailUser(domain=domain, email="user@a.example", password_hash=hash_password("bench password"),
                            session_nonce="x")
            root = Admin(login="quarantine-bench-root", email="root@bench.example", sys_admin=True, session_nonce="x")
            db.session.add_all([user, root])
            db.session.flush()
            _, token = tokens.issue(root, "bench")
            user_id, domain_id, platform_id = ids.encode(user.id), ids.encode(domain.id), ids.encode(
                domain.platforms[0].id)
            db.session.commit()
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        patched = client.patch(f"/api/domains/{domain_id}", headers=headers, json={"platforms": [{
            "id": platform_id, "name": "dovecot", "transportDest": "127.0.0.1", "transportPort": smtp_port,
            "transportType": "SMTP", "apiType": "IMAP", "default": True,
            "apiData": {"host": server["host"], "port": server["port"], "login": master, "password": secret}}]})
        assert patched.status_code == 204, patched.text
        base = f"/api/users/{user_id}/emails/Quarantine"
        page1 = client.get(f"{base}?pageSize=40", headers=headers)
        assert page1.status_code == 200 and page1.headers["X-Total-Count"] == str(messages), page1.text
        searched = client.get(f"{base}?pageSize=40&subject=invoice", headers=headers)
        found = int(searched.headers["X-Total-Count"])

        page_client = app.test_client()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page_client.get("/me/login").text).group(1)
        page_client.post("/me/login", data={"csrf_token": csrf, "email": "user@a.example",
                                            "password": "bench password"})
        html = page_client.get("/me/quarantine?pageSize=40")
        assert html.status_code == 200 and f"{messages} messages" in html.text, html.text[:500]

        imap = IMAPClient(server["host"], port=server["port"], ssl=False, timeout=30)
        imap.login(f"user@a.example*{master}", secret)

        imap.select_folder("Quarantine", readonly=True)

        def raw(offset: int, criteria: list[object]) -> None:
            """The minimum: SORT and FETCH on a logged-in connection with the folder selected."""
            uids = imap.sort(["REVERSE DATE"], criteria)
            imap.fetch(uids[offset:offset + 40], FETCH)

        def raw_connected(offset: int, criteria: list[object]) -> None:
            """The same, on a connection opened and logged in for the request (what a stateless app does)."""
            fresh = IMAPClient(server["host"], port=server["port"], ssl=False, timeout=30)
            fresh.login(f"user@a.example*{master}", secret)
            fresh.select_folder("Quarantine", readonly=True)
            uids = fresh.sort(["REVERSE DATE"], criteria)
            fresh.fetch(uids[offset:offset + 40], FETCH)
            fresh.logout()

        cases = {
            "page1": (f"{base}?pageSize=40", 0, ["ALL"]),
            "page100": (f"{base}?pageSize=40&offset=3960", 3960, ["ALL"]),
            "subject": (f"{base}?pageSize=40&subject=invoice", 0, ["SUBJECT", "invoice"]),
        }
        result: dict[str, Any] = {"benchmark": "quarantine", "store": label, "messages": messages,
                                  "subject_matches": found, "fill_s": round(fill_s, 1)}
        for name, (url, offset, criteria) in cases.items():
            timed = paired_ms({
                "raw": lambda o=offset, c=criteria: raw(o, c),
                "raw_login": lambda o=offset, c=criteria: raw_connected(o, c),
                "api": lambda u=url: client.get(u, headers=headers),
                **({"html": lambda: page_client.get("/me/quarantine?pageSize=40")} if name == "page1" else {}),
            }, runs)
            result.update({f"{name}_raw_ms": timed["raw"], f"{name}_raw_login_ms": timed["raw_login"],
                           f"{name}_api_ms": timed["api"], f"{name}_ratio": round(timed["api"] / timed["raw"], 2),
                           f"{name}_ratio_to_login": round(timed["api"] / timed["raw_login"], 2)})
            if "html" in timed:
                result.update({"html_ms": timed["html"], "html_ratio": round(timed["html"] / timed["raw"], 2),
                               "html_ratio_to_login": round(timed["html"] / timed["raw_login"], 2)})
        imap.logout()

        # release throughput: each release reads the message, delivers it, records it and flags the copy
        start = time.perf_counter()
        for i in range(releases):
            answer = client.post(f"{base}/q{i:06d}/release", headers=headers)
            assert answer.status_code == 204, answer.text
        release_s = time.perf_counter() - start
        assert len(sink.messages) == releases
        payloads = [sink.messages[i][2] for i in range(releases)]
        start = time.perf_counter()
        for payload in payloads:
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=20) as smtp:
                smtp.sendmail("postern@localhost", ["user@a.example"], payload)
        raw_send_s = time.perf_counter() - start
        result.update({"releases": releases, "release_per_s": round(releases / release_s, 1),
                       "raw_smtp_per_s": round(releases / raw_send_s, 1),
                       "release_ratio": round(raw_send_s / release_s, 2)})
    return result
