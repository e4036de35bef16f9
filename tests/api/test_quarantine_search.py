"""The domain-wide quarantine search (issue 15) against a real Dovecot (master login, several users) and the
Maildir store: hits, tenancy, a failing store named per mailbox, a search cancelled halfway, bad input."""

from __future__ import annotations

import mailbox
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from imapclient import IMAPClient

from portal.clock import utcnow
from portal.extensions import db
from portal.integrations.mailstore import maildir_root
from portal.models import Domain, MailUser, Platform, QuarantineSearch, QuarantineSearchHit
from portal.services import quarantine_search
from tests.services_runtime import dovecot, free_port
from tests.world import World

USERS = {f"u{n}@a.example": "pw" for n in range(5)}


def held(n: int, sender: str, subject: str, reason: str = "SPAM") -> bytes:
    return (f"From: {sender}\r\nTo: rcpt@a.example\r\nSubject: {subject}\r\nX-Fuglu-Id: fid-{n}\r\n"
            f"Message-ID: <m{n}@x.example>\r\nX-Quarantine-Reason: {reason}\r\n"
            f"Date: Thu, 01 Jan 2026 10:00:00 +0000\r\n\r\nbody\r\n").encode()


@pytest.fixture(scope="module")
def imap_server() -> Iterator[dict[str, Any]]:
    """Five mailboxes of a.example; the invoice from supplier.example is in u3's quarantine only."""
    with dovecot({**USERS, "b1@b.example": "pw"}) as server:
        for n, email in enumerate([*USERS, "b1@b.example"]):
            client = IMAPClient(server["host"], port=server["port"], ssl=False, timeout=5)
            client.login(email, "pw")
            client.append("Quarantine", held(n, f"spam{n}@bad.example", f"offer {n}"))
            if email in ("u3@a.example", "b1@b.example"):
                client.append("Quarantine", held(100 + n, "billing@supplier.example", "Invoice 42", "BAD_HEADERS"))
            client.logout()
        yield server


def _imap_platform(server: dict[str, Any], port: int | None = None) -> dict[str, Any]:
    return {"host": server["host"], "port": port or server["port"], "login": server["master"][0],
            "password": server["master"][1], "useSsl": False}


def _on_dovecot(app: Flask, world: World, server: dict[str, Any]) -> None:
    """a.example's and b.example's mailboxes on the Dovecot (u0..u4 in A, b1 in B); A's own users dropped."""
    with app.app_context():
        for name in ("A", "B"):
            domain = db.session.get(Domain, world.pk[name])
            domain.default_platform.api_type, domain.default_platform.api_data = "IMAP", _imap_platform(server)
        db.session.query(MailUser).filter(MailUser.domain_id.in_([world.pk["A"], world.pk["B"]])).delete()
        for email in USERS:
            db.session.add(MailUser(domain_id=world.pk["A"], email=email))
        db.session.add(MailUser(domain_id=world.pk["B"], email="b1@b.example"))
        db.session.commit()


def start(client: FlaskClient, world: World, role: str, **body: Any) -> tuple[str, Any]:
    """POST a search; the response is closed, which runs the in-process job (as the server does once sent)."""
    response = client.post("/api/quarantine/searches", json=body, headers=world.headers(role))
    answer = response.json
    response.close()
    assert response.status_code == 202, answer
    assert response.headers["Location"].endswith(f"/api/quarantine/searches/{answer['id']}")
    return answer["id"], answer


def state(client: FlaskClient, world: World, role: str, search_id: str) -> dict[str, Any]:
    response = client.get(f"/api/quarantine/searches/{search_id}", headers=world.headers(role))
    assert response.status_code == 200, response.json
    return response.json


def all_hits(client: FlaskClient, world: World, role: str, search_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/quarantine/searches/{search_id}/hits?pageSize=100", headers=world.headers(role))
    assert response.status_code == 200
    assert int(response.headers["X-Total-Count"]) == len(response.json)
    return response.json


def test_sender_search_over_dovecot_finds_the_one_mailbox(app: Flask, client: FlaskClient, world: World,
                                                           imap_server: dict[str, Any]) -> None:
    _on_dovecot(app, world, imap_server)
    search_id, answer = start(client, world, "domainA", sender="supplier.example")
    assert answer["state"] == "RUNNING" and answer["mailboxesTotal"] == 5 and answer["mailboxesDone"] == 0
    done = state(client, world, "domainA", search_id)
    assert done["state"] == "DONE" and done["mailboxesDone"] == 5 and done["failed"] == []
    assert done["hitsTotal"] == 1 and done["truncated"] is False
    [hit] = all_hits(client, world, "domainA", search_id)
    assert hit["user"] == "u3@a.example" and hit["folder"] == "Quarantine" and hit["id"] == "fid-103"
    assert hit["from"] == "billing@supplier.example" and hit["subject"] == "Invoice 42"
    assert hit["reason"] == "BAD_HEADERS" and hit["sentDate"] == 1767261600000
    # the hit opens in the user's quarantine (the admin's message page) and its actions are those of that page
    page_user = hit["userId"]
    assert page_user and client.get(f"/api/users/{page_user}/emails/Quarantine/{hit['id']}",
                                    headers=world.headers("domainA")).status_code == 200
    # other criteria: the quarantine id, the reason, the subject; several ANDed
    for body, users in (({"fugluId": "fid-2"}, ["u2@a.example"]), ({"reason": "bad_headers"}, ["u3@a.example"]),
                        ({"subject": "offer", "sender": "spam4@"}, ["u4@a.example"]),
                        ({"messageId": "m103@"}, ["u3@a.example"]), ({"sender": "nobody.example"}, [])):
        found = all_hits(client, world, "domainA", start(client, world, "domainA", **body)[0])
        assert sorted(h["user"] for h in found) == users, body


def test_without_redis_the_search_runs_once_the_answer_is_sent(app: Flask, client: FlaskClient, world: World,
                                                               imap_server: dict[str, Any]) -> None:
    """The embedded runner: the POST answers 202 before the job runs (not in its after_request); the job runs in
    this process once the server has taken the whole answer, or when it closes the answer early (the server
    that drops a reset connection without close(), Werkzeug's, still takes the whole body first)."""
    _on_dovecot(app, world, imap_server)
    for finish in ("read", "close"):
        response = client.post("/api/quarantine/searches", json={"sender": "supplier.example"},
                               headers=world.headers("domainA"))
        assert response.status_code == 202
        search_id = response.headers["Location"].rsplit("/", 1)[1]
        assert state(client, world, "domainA", search_id)["state"] == "RUNNING"
        if finish == "read":
            assert response.get_data()  # the body taken to its end: the job has run
        else:
            response.close()
        assert state(client, world, "domainA", search_id)["state"] == "DONE", finish
        response.close()


def test_a_domain_admin_never_sees_another_domains_mail(app: Flask, client: FlaskClient, world: World,
                                                       imap_server: dict[str, Any]) -> None:
    _on_dovecot(app, world, imap_server)
    mine = start(client, world, "domainA", sender="supplier.example")[0]
    assert [h["user"] for h in all_hits(client, world, "domainA", mine)] == ["u3@a.example"]
    theirs = start(client, world, "domainB", sender="supplier.example")[0]
    assert [h["user"] for h in all_hits(client, world, "domainB", theirs)] == ["b1@b.example"]
    # the customer's scope holds both domains; naming one narrows it
    both = start(client, world, "customer", sender="supplier.example")[0]
    assert sorted(h["user"] for h in all_hits(client, world, "customer", both)) == ["b1@b.example", "u3@a.example"]
    only_b = start(client, world, "customer", sender="supplier.example", domainId=world.id("B"))[0]
    assert [h["user"] for h in all_hits(client, world, "customer", only_b)] == ["b1@b.example"]
    # naming a domain outside the scope is refused; a search is its starter's only
    refused = client.post("/api/quarantine/searches", json={"sender": "x", "domainId": world.id("A")},
                          headers=world.headers("domainB"))
    assert refused.status_code == 400 and refused.json["errors"][0]["field"] == "domainId"
    for role in ("domainB", "customer", "sysadmin"):
        for url in (f"/api/quarantine/searches/{mine}", f"/api/quarantine/searches/{mine}/hits"):
            assert client.get(url, headers=world.headers(role)).status_code == 404
        assert client.delete(f"/api/quarantine/searches/{mine}", headers=world.headers(role)).status_code == 404


def test_a_failing_store_is_named_and_the_search_goes_on(app: Flask, client: FlaskClient, world: World,
                                                         imap_server: dict[str, Any]) -> None:
    """u1's platform is an IMAP server that is down; the others are searched all the same."""
    _on_dovecot(app, world, imap_server)
    with app.app_context():
        down = Platform(domain_id=world.pk["A"], name="down", transport_dest="127.0.0.1", transport_port=9,
                        api_type="IMAP", api_data=_imap_platform(imap_server, free_port()))
        db.session.add(down)
        db.session.flush()
        db.session.query(MailUser).filter_by(email="u1@a.example").update({"platform_id": down.id})
        db.session.commit()
    search_id = start(client, world, "domainA", sender="bad.example")[0]
    done = state(client, world, "domainA", search_id)
    assert done["state"] == "DONE" and done["mailboxesDone"] == 5
    [failed] = done["failed"]
    assert failed["mailbox"] == "u1@a.example" and "cannot be reached" in failed["why"]
    assert sorted(h["user"] for h in all_hits(client, world, "domainA", search_id)) == [
        "u0@a.example", "u2@a.example", "u3@a.example", "u4@a.example"]


def test_maildir_store_and_an_unreadable_maildir(app: Flask, client: FlaskClient, world: World) -> None:
    """The embedded store: user@a.example's two held offers are found; other@a.example's Maildir is broken
    (its Quarantine's new/ is a file): named as failed; user@b.example has no store at all: nothing held."""
    with app.app_context():
        root = maildir_root(Path(app.config["MAIL_ROOT"]), "other@a.example")
        root.parent.mkdir(parents=True, exist_ok=True)
        box = mailbox.Maildir(str(root), create=True)
        box.add_folder("Quarantine")
        os.rmdir(root / ".Quarantine" / "new")
        (root / ".Quarantine" / "new").write_text("not a directory")
    try:
        search_id = start(client, world, "sysadmin", sender="bad.example")[0]
        done = state(client, world, "sysadmin", search_id)
        assert done["state"] == "DONE" and done["mailboxesDone"] == done["mailboxesTotal"] == 3
        assert [f["mailbox"] for f in done["failed"]] == ["other@a.example"]
        assert "cannot be read" in done["failed"][0]["why"]
        found = all_hits(client, world, "sysadmin", search_id)
        assert sorted((h["user"], h["id"]) for h in found) == [
            ("user@a.example", "<quarantined-0@bad.example>"), ("user@a.example", "<quarantined-1@bad.example>")]
        assert {h["reason"] for h in found} == {""}
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def test_the_hits_are_capped_and_paged(app: Flask, client: FlaskClient, world: World,
                                       imap_server: dict[str, Any]) -> None:
    _on_dovecot(app, world, imap_server)
    saved = app.config["QSEARCH_MAX_HITS"]
    app.config["QSEARCH_MAX_HITS"] = 3
    try:
        search_id = start(client, world, "domainA", sender="example")[0]
    finally:
        app.config["QSEARCH_MAX_HITS"] = saved
    done = state(client, world, "domainA", search_id)
    assert done["hitsTotal"] == 3 and done["truncated"] is True and done["state"] == "DONE"
    first = client.get(f"/api/quarantine/searches/{search_id}/hits?pageSize=2", headers=world.headers("domainA"))
    second = client.get(f"/api/quarantine/searches/{search_id}/hits?pageSize=2&offset=2",
                        headers=world.headers("domainA"))
    assert first.headers["X-Total-Count"] == "3" and len(first.json) == 2 and len(second.json) == 1
    assert client.get(f"/api/quarantine/searches/{search_id}/hits?pageSize=0",
                      headers=world.headers("domainA")).status_code == 400


class FrozenImap:
    """An IMAP server that accepts a connection and never greets: the mailbox's deadline ends it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connected = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            while True:
                self.held.append(self.listener.accept()[0])
                self.connected.set()
        except OSError:
            return

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


def test_a_search_cancelled_halfway_searches_no_further_mailbox(app: Flask, client: FlaskClient, world: World,
                                                                imap_server: dict[str, Any]) -> None:
    """One connection at a time; the first mailbox (u0) hangs on a frozen server: the cancel arrives while it is
    searched, and no other mailbox is searched after it."""
    _on_dovecot(app, world, imap_server)
    frozen = FrozenImap()
    with app.app_context():
        hang = Platform(domain_id=world.pk["A"], name="frozen", transport_dest="127.0.0.1", transport_port=9,
                        api_type="IMAP", api_data=_imap_platform(imap_server, frozen.port))
        db.session.add(hang)
        db.session.flush()
        db.session.query(MailUser).filter_by(email="u0@a.example").update({"platform_id": hang.id})
        search = QuarantineSearch(id="cancel-me", admin_id=world.pk["domainA"], domain_id=world.pk["A"],
                                  criteria={"sender": "bad.example", "receivedAfter": 0,
                                            "receivedBefore": 4102444800000},
                                  state="RUNNING", mailboxes_total=5, mailboxes_done=0, hits_total=0,
                                  truncated=False, created_at=utcnow(), expires_at=utcnow().replace(year=2100))
        db.session.add(search)
        db.session.commit()
    saved = (app.config["QSEARCH_CONCURRENCY"], app.config["QSEARCH_MAILBOX_TIMEOUT"])
    app.config["QSEARCH_CONCURRENCY"], app.config["QSEARCH_MAILBOX_TIMEOUT"] = 1, 3.0
    outcome: dict[str, Any] = {}

    def job() -> None:
        with app.app_context():
            outcome["result"] = quarantine_search.run("cancel-me")
            db.session.commit()

    worker = threading.Thread(target=job)
    try:
        worker.start()
        assert frozen.connected.wait(10), "the search never reached the first mailbox"
        assert client.delete("/api/quarantine/searches/cancel-me",
                             headers=world.headers("domainA")).status_code == 204
        worker.join(30)
    finally:
        app.config["QSEARCH_CONCURRENCY"], app.config["QSEARCH_MAILBOX_TIMEOUT"] = saved
        frozen.close()
    assert not worker.is_alive() and outcome["result"] == {"mailboxes": 1, "state": "CANCELLED"}
    done = state(client, world, "domainA", "cancel-me")
    assert done["state"] == "CANCELLED" and done["mailboxesDone"] == 1 and done["mailboxesTotal"] == 5
    assert [f["mailbox"] for f in done["failed"]] == ["u0@a.example"]
    assert all_hits(client, world, "domainA", "cancel-me") == []


@pytest.mark.parametrize(("body", "status", "field"), [
    ({}, 422, "sender"),
    ({"receivedAfter": 0}, 422, "sender"),
    ({"sender": "x", "receivedAfter": 1_700_000_000_000, "receivedBefore": 1_720_000_000_000}, 422, "receivedAfter"),
    ({"sender": "x", "receivedAfter": 1_700_000_000_000, "receivedBefore": 1_600_000_000_000}, 422, "receivedAfter"),
    ({"sender": "x", "receivedBefore": 0}, 422, "receivedAfter"),
    ({"sender": "a\r\nb"}, 400, "sender"),
    ({"sender": "x" * 300}, 400, "sender"),
    ({"reason": "LOVELY"}, 400, "reason"),
    ({"sender": "x", "receivedAfter": "yesterday"}, 400, "receivedAfter"),
    ({"sender": "x", "domainId": "nope"}, 400, "domainId"),
    ({"sender": "x", "color": "red"}, 400, "color"),
])
def test_bad_input_is_refused(client: FlaskClient, world: World, body: dict[str, Any], status: int,
                              field: str) -> None:
    response = client.post("/api/quarantine/searches", json=body, headers=world.headers("domainA"))
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    assert field in [e["field"] for e in response.json["errors"]]


def test_expired_searches_are_purged(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        db.session.get(QuarantineSearch, "qsearchA").expires_at = utcnow()
        db.session.commit()
    assert client.get("/api/quarantine/searches/qsearchA", headers=world.headers("domainA")).status_code == 404
    from portal.jobs import run_now

    with app.app_context():
        assert run_now("purge_expired_searches") == 1
        assert db.session.query(QuarantineSearchHit).count() == 0
