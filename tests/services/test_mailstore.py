"""One contract, two stores: a real Dovecot (master-user login) and a Maildir tree give the same folders."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from imapclient import IMAPClient

from portal.errors import NotFound, Unavailable
from portal.extensions import db
from portal.integrations.mailstore import ImapStore, MaildirStore, MailStore
from portal.models import Domain
from tests.services_runtime import dovecot, free_port
from tests.world import World

MESSAGE = b"From: sender@bad.example\r\nTo: user@a.example\r\nSubject: %d\r\n\r\nbody\r\n"


@pytest.fixture(scope="module")
def imap_server() -> Iterator[dict[str, object]]:
    with dovecot({"user@a.example": "user password"}) as server:
        client = IMAPClient(server["host"], port=server["port"], ssl=False, timeout=5)
        client.login("user@a.example", "user password")
        client.create_folder("Archive")
        client.create_folder("Archive/2025")
        client.append("Quarantine", MESSAGE % 1)
        client.append("Quarantine", MESSAGE % 2, flags=[b"\\Seen"])
        client.append("Archive/2025", MESSAGE % 3, flags=[b"\\Seen"])
        client.logout()
        yield server


def _maildir(root: Path) -> MaildirStore:
    box = mailbox.Maildir(str(root), create=True)
    quarantine = box.add_folder("Quarantine")
    first = mailbox.MaildirMessage(MESSAGE % 1)
    second = mailbox.MaildirMessage(MESSAGE % 2)
    second.set_flags("S")
    quarantine.add(first)
    quarantine.add(second)
    for name in ("Sent", "Archive"):
        box.add_folder(name)
    archived = mailbox.MaildirMessage(MESSAGE % 3)
    archived.set_flags("S")
    box.get_folder("Archive").add_folder("2025").add(archived)
    return MaildirStore(root)


@pytest.fixture(params=["maildir", "imap"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MailStore]:
    if request.param == "maildir":
        yield _maildir(tmp_path / "Maildir")
        return
    server = request.getfixturevalue("imap_server")
    master, secret = server["master"]
    opened = ImapStore(server["host"], server["port"], f"user@a.example*{master}", secret, timeout=5)
    yield opened
    opened.close()


def test_root_folders_with_stats(store: MailStore) -> None:
    folders = {f.path: f for f in store.folders(stats=True)}
    assert next(iter(folders)) == "INBOX"
    assert set(folders) == {"INBOX", "Archive", "Quarantine", "Sent"}
    assert (folders["Quarantine"].messages, folders["Quarantine"].unseen) == (2, 1)
    assert folders["Archive"].has_children and not folders["Quarantine"].has_children
    assert folders["INBOX"].messages == 0


def test_sub_folders(store: MailStore) -> None:
    (year,) = store.folders("Archive", stats=True)
    assert (year.path, year.name, year.messages, year.unseen) == ("Archive/2025", "2025", 1, 0)
    assert store.folders("Quarantine") == []
    assert all(f.messages is None for f in store.folders())


def test_unknown_folder(store: MailStore) -> None:
    with pytest.raises(NotFound):
        store.folders("Nope")


def test_unreachable_imap_is_a_clear_error() -> None:
    with pytest.raises(Unavailable):
        ImapStore("127.0.0.1", free_port(), "x", "y", timeout=1).folders()


def test_wrong_master_password(imap_server: dict[str, object]) -> None:
    store = ImapStore(imap_server["host"], imap_server["port"], "user@a.example*postern", "wrong", timeout=5)
    with pytest.raises(Unavailable, match="refused"):
        store.folders()


def test_folders_api_on_the_platform_imap(app: Flask, client: FlaskClient, world: World,
                                          imap_server: dict[str, object]) -> None:
    master, secret = imap_server["master"]
    platform = {"name": "dovecot", "transportDest": "mx.a.example", "apiType": "IMAP",
                "apiData": {"host": imap_server["host"], "port": imap_server["port"], "login": master,
                            "password": secret, "useSsl": False}}
    with app.app_context():
        existing = db.session.get(Domain, world.pk["A"]).platforms[0]
        from portal import ids

        platform["id"] = ids.encode(existing.id)
    assert client.patch(f"/api/domains/{world.id('A')}", json={"platforms": [platform]},
                        headers=world.headers("sysadmin")).status_code == 204
    response = client.get("/api/users/user@a.example/emails/folders?fields=STATS", headers=world.headers("domainA"))
    assert response.status_code == 200, response.json
    quarantine = next(f for f in response.json if f["path"] == "Quarantine")
    assert quarantine == {"name": "Quarantine", "path": "Quarantine", "unreadMessageCount": 1, "messageCount": 2,
                          "messagesUri": f"/api/users/{world.id('userA')}/emails/Quarantine", "childrenUri": None}
    archive = next(f for f in response.json if f["path"] == "Archive")
    assert archive["childrenUri"] == f"/api/users/{world.id('userA')}/emails/folders/Archive"
    children = client.get(f"/api/users/{world.id('userA')}/emails/folders/Archive", headers=world.headers("enduser"))
    assert [f["path"] for f in children.json] == ["Archive/2025"]
    assert client.get(f"/api/users/{world.id('userA')}/emails/folders/Nope",
                      headers=world.headers("enduser")).status_code == 404


def test_folders_api_on_maildir_and_outage(app: Flask, client: FlaskClient, world: World) -> None:
    response = client.get(f"/api/users/{world.id('userA')}/emails/folders?fields=STATS",
                          headers=world.headers("domainA"))
    assert {f["path"]: f["messageCount"] for f in response.json} == {"INBOX": 0, "Quarantine": 2}
    platform = {"name": "down", "transportDest": "mx.a.example", "apiType": "IMAP",
                "apiData": {"host": "127.0.0.1", "port": free_port(), "login": "m", "password": "p"}}
    with app.app_context():
        from portal import ids

        platform["id"] = ids.encode(db.session.get(Domain, world.pk["A"]).platforms[0].id)
        app.config["IMAP_TIMEOUT"] = 1.0
    client.patch(f"/api/domains/{world.id('A')}", json={"platforms": [platform]}, headers=world.headers("sysadmin"))
    try:
        down = client.get(f"/api/users/{world.id('userA')}/emails/folders", headers=world.headers("domainA"))
    finally:
        app.config["IMAP_TIMEOUT"] = 10.0
    assert down.status_code == 503 and "cannot be reached" in down.json["detail"]
