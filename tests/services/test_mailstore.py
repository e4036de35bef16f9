"""One contract, two stores: a real Dovecot (master-user login) and a Maildir tree give the same folders."""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from imapclient import IMAPClient

from portal.errors import NotFound, Unavailable
from portal.extensions import db
from portal.integrations.mailstore import RELEASED, ImapStore, MaildirStore, MailStore, Search
from portal.models import Domain
from tests.conftest import csrf_token
from tests.mime import nested
from tests.services_runtime import dovecot, free_port
from tests.world import PASSWORD, World

MESSAGE = b"From: sender@bad.example\r\nTo: user@a.example\r\nSubject: %d\r\n\r\nbody\r\n"
QUARANTINE = [  # (headers, body, seen)
    ("From: Alice <alice@bad.example>\r\nTo: user@a.example\r\nSubject: Cheap watches\r\n"
     "Date: Thu, 01 Jan 2026 10:00:00 +0000\r\nX-Fuglu-Id: f1\r\nX-Spam-Score: 9.5\r\n", "buy now", False),
    ("From: bob@spam.example\r\nTo: user@a.example\r\nCc: boss@a.example\r\nSubject: Invoice\r\n"
     "Date: Sun, 01 Feb 2026 10:00:00 +0000\r\nX-Fuglu-Id: f2\r\nMessage-ID: <m2@spam.example>\r\n", "pay me", True),
    ("From: carol@bad.example\r\nTo: user@a.example\r\nSubject: Re: hello\r\nImportance: high\r\n"
     "Date: Sun, 01 Mar 2026 10:00:00 +0000\r\nX-Fuglu-Id: f3\r\n"
     "Content-Type: multipart/mixed; boundary=b\r\n", "--b\r\n\r\nhi\r\n--b--", False),
]


def _raw(headers: str, body: str) -> bytes:
    return (headers + "\r\n" + body + "\r\n").encode()


@pytest.fixture(scope="module")
def imap_server() -> Iterator[dict[str, object]]:
    with dovecot({"user@a.example": "user password"}) as server:
        client = IMAPClient(server["host"], port=server["port"], ssl=False, timeout=5)
        client.login("user@a.example", "user password")
        client.create_folder("Archive")
        client.create_folder("Archive/2025")
        for headers, body, seen in QUARANTINE:
            client.append("Quarantine", _raw(headers, body), flags=[b"\\Seen"] if seen else [])
        client.append("Archive/2025", MESSAGE % 3, flags=[b"\\Seen"])
        client.logout()
        yield server


def _maildir(root: Path) -> MaildirStore:
    box = mailbox.Maildir(str(root), create=True)
    quarantine = box.add_folder("Quarantine")
    for headers, body, seen in QUARANTINE:
        message = mailbox.MaildirMessage(_raw(headers, body))
        if seen:
            message.set_subdir("cur")
            message.set_flags("S")
        quarantine.add(message)
    for name in ("Sent", "Archive"):
        box.add_folder(name)
    archived = mailbox.MaildirMessage(MESSAGE % 3)
    archived.set_flags("S")
    box.get_folder("Archive").add_folder("2025").add(archived)
    return MaildirStore(root)


@pytest.fixture(params=["maildir", "imap", "imaps"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MailStore]:
    if request.param == "maildir":
        yield _maildir(tmp_path / "Maildir")
        return
    server = request.getfixturevalue("imap_server")
    master, secret = server["master"]
    tls = request.param == "imaps"
    opened = ImapStore(server["host"], server["tls_port" if tls else "port"], f"user@a.example*{master}", secret,
                       timeout=5, use_ssl=tls, cadata=server["cert_pem"] if tls else None)
    yield opened
    opened.close()


def test_root_folders_with_stats(store: MailStore) -> None:
    folders = {f.path: f for f in store.folders(stats=True)}
    assert next(iter(folders)) == "INBOX"
    assert set(folders) == {"INBOX", "Archive", "Quarantine", "Sent"}
    assert (folders["Quarantine"].messages, folders["Quarantine"].unseen) == (3, 2)
    assert folders["Archive"].has_children and not folders["Quarantine"].has_children
    assert folders["INBOX"].messages == 0


def test_inbox_has_no_sub_folders(store: MailStore) -> None:
    assert store.folders("INBOX") == []
    assert store.messages("INBOX", Search(), "-sentDate", 0, 10)[1] >= 0


def test_sub_folders(store: MailStore) -> None:
    (year,) = store.folders("Archive", stats=True)
    assert (year.path, year.name, year.messages, year.unseen) == ("Archive/2025", "2025", 1, 0)
    assert store.folders("Quarantine") == []
    assert all(f.messages is None for f in store.folders())


def _ids(store: MailStore, search: Search | None = None, sort: str = "-sentDate", offset: int = 0,
         limit: int = 40) -> tuple[list[str], int]:
    found, total = store.messages("Quarantine", search or Search(), sort, offset, limit)
    return [m.headers.get("X-Fuglu-Id", "") for m in found], total


def test_messages_sorted_and_paged(store: MailStore) -> None:
    assert _ids(store) == (["f3", "f2", "f1"], 3)
    assert _ids(store, sort="sentDate")[0] == ["f1", "f2", "f3"]
    assert _ids(store, sort="subject")[0] == ["f1", "f3", "f2"]  # "Re: hello" sorts as "hello" (RFC 5256)
    assert _ids(store, sort="-from")[0] == ["f3", "f2", "f1"]
    assert _ids(store, offset=1, limit=1) == (["f2"], 3)
    assert _ids(store, offset=5) == ([], 3)


def test_message_summaries(store: MailStore) -> None:
    found, _ = store.messages("Quarantine", Search(), "sentDate", 0, 40)
    first, second, third = found
    assert (first.sender, first.subject, first.headers["X-Spam-Score"]) == ("alice@bad.example", "Cheap watches", "9.5")
    assert first.sent_date.isoformat() == "2026-01-01T10:00:00"
    assert second.seen and not first.seen and second.cc == ["boss@a.example"] and second.to == ["user@a.example"]
    assert third.important and third.has_attachments and not first.has_attachments
    assert all(m.size > 0 for m in found)


def test_message_search(store: MailStore) -> None:
    assert _ids(store, Search(sender="bad.example"))[0] == ["f3", "f1"]
    assert _ids(store, Search(subject="invoice"))[0] == ["f2"]
    assert _ids(store, Search(body="pay"))[0] == ["f2"]
    assert _ids(store, Search(id="f2"))[0] == ["f2"]
    assert _ids(store, Search(id="m2@spam.example"))[0] == ["f2"]
    assert _ids(store, Search(cc="boss@a.example"))[0] == ["f2"]
    assert _ids(store, Search(sender="alice", subject="invoice", operator="OR"))[0] == ["f2", "f1"]
    assert _ids(store, Search(sender="alice", subject="invoice"))[0] == []
    assert _ids(store, Search(sender="bad.example", operator="NOT"))[0] == ["f2"]
    assert _ids(store, Search(received_after=datetime(2000, 1, 1)))[1] == 3
    assert _ids(store, Search(received_before=datetime(2000, 1, 1)))[1] == 0


def test_unknown_folder(store: MailStore) -> None:
    with pytest.raises(NotFound):
        store.messages("Nope", Search(), "-sentDate", 0, 10)
    with pytest.raises(NotFound):
        store.folders("Nope")


def test_unreachable_imap_is_a_clear_error() -> None:
    with pytest.raises(Unavailable):
        ImapStore("127.0.0.1", free_port(), "x", "y", timeout=1).folders()


def test_untrusted_certificate_is_refused(imap_server: dict[str, object]) -> None:
    master, secret = imap_server["master"]
    store = ImapStore(imap_server["host"], imap_server["tls_port"], f"user@a.example*{master}", secret,
                      use_ssl=True, timeout=5)
    with pytest.raises(Unavailable, match="cannot be reached"):
        store.folders()
    garbage = ImapStore(imap_server["host"], imap_server["tls_port"], f"user@a.example*{master}", secret,
                        use_ssl=True, timeout=5, cadata="not a certificate")
    with pytest.raises(Unavailable):
        garbage.folders()


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
    assert quarantine == {"name": "Quarantine", "path": "Quarantine", "unreadMessageCount": 2, "messageCount": 3,
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
        listing = client.get(f"/api/users/{world.id('userA')}/emails/Quarantine", headers=world.headers("enduser"))
        page_client = app.test_client()
        token = csrf_token(page_client.get("/me/login").text)
        page_client.post("/me/login", data={"csrf_token": token, "email": "user@a.example", "password": PASSWORD})
        page = page_client.get("/me/quarantine")
    finally:
        app.config["IMAP_TIMEOUT"] = 10.0
    # the seed's 500 ("Possibly unable to connect to Imap") with a problem body that says what failed
    assert down.status_code == 500 and "cannot be reached" in down.json["detail"]
    assert down.mimetype == "application/problem+json" and listing.status_code == 500
    assert page.status_code == 500 and "Your messages cannot be read now" in page.text and "<nav" in page.text


def test_folder_content_api(client: FlaskClient, world: World) -> None:
    url = f"/api/users/{world.id('userA')}/emails/Quarantine"
    response = client.get(f"{url}?sort=subject&pageSize=1", headers=world.headers("enduser"))
    assert response.status_code == 200 and response.headers["X-Total-Count"] == "2"
    (message,) = response.json
    assert list(message) == ["headers", "attachments", "id", "uri", "seen", "answered", "recent", "deleted",
                             "hasAttachments", "important", "sentDate", "subject", "from", "to", "cc", "bcc", "size",
                             "released"]
    assert message["subject"] == "offer 0" and message["from"] == "spam0@bad.example"
    assert message["uri"].startswith(f"/api/users/{world.id('userA')}/emails/Quarantine/")
    for query, field in (("sort=color", "sort"), ("operator=XOR", "operator"), ("receivedAfter=soon", "receivedAfter"),
                         ("pageSize=0", "pageSize"), ("subject=a%0Ab", "subject")):
        bad = client.get(f"{url}?{query}", headers=world.headers("enduser"))
        assert bad.status_code == 400 and bad.json["errors"][0]["field"] == field, query
    missing = client.get(f"/api/users/{world.id('userA')}/emails/Nope", headers=world.headers("enduser"))
    assert missing.status_code == 404


def test_one_message(store: MailStore) -> None:
    summary, raw = store.message("Quarantine", "f2")
    assert summary.subject == "Invoice" and summary.seen and b"pay me" in raw
    by_message_id, _ = store.message("Quarantine", "<m2@spam.example>")
    assert by_message_id.headers["X-Fuglu-Id"] == "f2"
    with pytest.raises(NotFound):
        store.message("Quarantine", "nope")
    assert store.is_folder("Archive/2025") and not store.is_folder("Archive/1999")


def test_message_api(client: FlaskClient, world: World) -> None:
    listing = client.get(f"/api/users/{world.id('userA')}/emails/Quarantine?sort=subject",
                         headers=world.headers("enduser")).json
    uri = listing[0]["uri"]  # offer 0: no attachment
    response = client.get(f"{uri}?fields=HEADERS,BODY,ATTACHMENTS,SOURCE", headers=world.headers("enduser"))
    assert response.status_code == 200, response.json
    body = response.json
    assert body["id"] == listing[0]["id"] and body["content"].strip() == "body"
    assert body["source"].startswith("From:") and body["attachments"] == []
    admin = client.get(f"{uri}?fields=SOURCE", headers=world.headers("domainA")).json
    assert admin["source"] is None and admin["headers"] == {}  # the source is the owner's only
    assert client.get(f"/api/users/{world.id('userA')}/emails/Quarantine/nope",
                      headers=world.headers("enduser")).status_code == 404


def test_attachments_api(client: FlaskClient, world: World) -> None:
    import io
    import zipfile

    base = f"/api/users/{world.id('userA')}/emails/Quarantine/quarantined-1@bad.example/attachments"
    listed = client.get(base, headers=world.headers("enduser"))
    assert listed.status_code == 200 and listed.json["count"] == 1
    (item,) = listed.json["attachments"]
    assert (item["filename"], item["contentType"]) == ("price list.html", "text/html")
    part = client.get(item["uri"], headers=world.headers("enduser"))
    assert part.status_code == 200 and part.mimetype == "application/octet-stream"
    assert part.headers["Content-Disposition"] == (
        "attachment; filename=\"price list.html\"; filename*=UTF-8''price%20list.html")
    assert part.headers["X-Content-Type-Options"] == "nosniff" and b"<script>" in part.data
    archive = client.get(listed.json["uri"], headers=world.headers("enduser"))
    assert zipfile.ZipFile(io.BytesIO(archive.data)).namelist() == ["price list.html"]
    assert client.get(f"{base}/99", headers=world.headers("enduser")).status_code == 404


def test_append_flag_and_delete(store: MailStore) -> None:
    """What a release and a send write: a sent copy, the released keyword, a removal of those only."""
    folder = "Work"
    store.append(folder, _raw("From: a@bad.example\r\nSubject: kept\r\nX-Fuglu-Id: w1\r\n", "one"), ("\\Seen",))
    store.append(folder, _raw("From: b@bad.example\r\nSubject: gone\r\nX-Fuglu-Id: w2\r\n", "two"))
    found, total = store.messages(folder, Search(), "subject", 0, 10)
    assert total == 2 and [(s.subject, s.seen, s.released) for s in found] == [("gone", False, False),
                                                                               ("kept", True, False)]
    store.add_flag(folder, "w1", RELEASED)
    assert store.message(folder, "w1")[0].released
    assert store.delete(folder, ["w2"]) == 1
    found, total = store.messages(folder, Search(), "subject", 0, 10)
    assert total == 1 and found[0].released and found[0].seen
    with pytest.raises(NotFound):
        store.delete(folder, ["w2"])
    with pytest.raises(NotFound):
        store.add_flag("Nowhere", "w1", RELEASED)
    store.delete(folder, ["w1"])


def test_end_user_folder_grants(app: Flask, client: FlaskClient, world: World) -> None:
    """QUARANTINE_VIEW opens the quarantine only; FOLDERS_VIEW the other folders only."""
    base = f"/api/users/{world.id('userA')}/emails"
    for granted, quarantine, inbox in (("QUARANTINE_VIEW", 200, 403), ("FOLDERS_VIEW", 403, 200)):
        with app.app_context():
            db.session.get(Domain, world.pk["A"]).end_user_permissions = granted
            db.session.commit()
        assert client.get(f"{base}/Quarantine", headers=world.headers("enduser")).status_code == quarantine
        assert client.get(f"{base}/INBOX", headers=world.headers("enduser")).status_code == inbox
        assert client.get(f"{base}/Quarantine/quarantined-0@bad.example",
                          headers=world.headers("enduser")).status_code == quarantine
    assert client.get(f"{base}/Quarantine?reason=SPAM", headers=world.headers("domainA")).json == []
    assert client.get(f"{base}/Quarantine?reason=nonsense", headers=world.headers("domainA")).status_code == 400


def test_connections_are_pooled_checked_and_dropped_after_errors(imap_server: dict[str, object]) -> None:
    from imapclient.exceptions import IMAPClientError

    from portal.integrations.mailstore import POOL

    master, secret = imap_server["master"]

    def opened() -> ImapStore:
        return ImapStore(imap_server["host"], imap_server["port"], f"user@a.example*{master}", secret, timeout=5)

    POOL.forget()
    first = opened()
    first.folders()
    connection = first._client
    first.close()
    second = opened()
    second.folders()
    assert second._client is connection  # reused, no new login
    second.close()
    connection.shutdown()  # the server side went away while it was idle
    third = opened()
    assert next(f.path for f in third.folders()) == "INBOX"  # NOOP failed: a fresh connection
    failed = third._client
    assert failed is not connection
    with pytest.raises(Unavailable), third._command():
        raise IMAPClientError("the server said BAD")
    third.close()  # a connection that failed is not lent again
    fourth = opened()
    fourth.folders()
    assert fourth._client is not failed and fourth._client is not None
    fourth.close()
    POOL.forget()


def test_summaries_of_awkward_headers() -> None:
    from portal.integrations.mailstore import summarize

    raw = (b"Subject: =?utf-8?q?Caf=C3=A9_=0D=0ABcc=3A_x?=\r\n\tcontinued\r\nFrom: \"Ren\xc3\xa9\" <rene@a.example>\r\n"
           b"From: second@a.example\r\nTo: a@b.example,\r\n c@d.example\r\nDate: not a date\r\n"
           b"Content-Type: Multipart/Mixed; boundary=x\r\nX-Priority: 2 (High)\r\n\r\nbody: not a header\r\n")
    summary = summarize("7", raw, {"\\Seen", RELEASED}, 42)
    assert summary.subject == "Café   Bcc: x continued"  # decoded, CR/LF made spaces, folding undone
    assert summary.sender == "rene@a.example" and summary.headers["From"] == '"René" <rene@a.example>'
    assert summary.to == ["a@b.example", "c@d.example"] and summary.sent_date is None
    assert summary.has_attachments and summary.important and summary.seen and summary.released
    assert "body" not in summary.headers


@pytest.mark.parametrize("value", [
    "a@b.example", "A <a@b.example>, c@d.example", '"Doe, John" <j@d.example>, x@y.example',
    "(comment) a@b.example", "=?utf-8?q?R=C3=A9?= <r@e.example>", "undisclosed-recipients:;", "",
    "bad address, <ok@x.example>", "a@b.example (Alice), B <b@c.example>",
])
def test_address_lists_read_like_the_stdlib(value: str) -> None:
    from email.utils import getaddresses

    from portal.integrations.mailstore import _addresses

    expected = [addr for _name, addr in getaddresses([value]) if "@" in addr]
    assert _addresses(value) == expected


@pytest.mark.parametrize("path", ["../../etc", "Quarantine/..", "Quarantine%00", "Quarantine%0D%0AA1 LOGOUT",
                                  "%2E%2E", "Quarantine//x"])
def test_folder_path_tricks(client: FlaskClient, world: World, path: str) -> None:
    base = f"/api/users/{world.id('userA')}/emails"
    for url in (f"{base}/{path}", f"{base}/folders/{path}", f"{base}/{path}/quarantined-0@bad.example"):
        response = client.get(url, headers=world.headers("enduser"))
        assert response.status_code in (400, 404), (url, response.status_code)
        assert response.mimetype == "application/problem+json"


def test_hostile_structure_is_only_bytes_to_the_store(store: MailStore) -> None:
    """3,000 nested multiparts: listed, found by id and read back whole, without parsing the structure."""
    raw = nested(b"From: a@bad.example\r\nSubject: abyss\r\nX-Fuglu-Id: abyss\r\nMIME-Version: 1.0\r\n", b"x", 3000)
    store.append("Deep", raw)
    found, total = store.messages("Deep", Search(subject="abyss"), "-sentDate", 0, 10)
    assert total == 1 and found[0].subject == "abyss"
    summary, read = store.message("Deep", "abyss")
    assert summary.sender == "a@bad.example" and read.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    store.delete("Deep", ["abyss"])


def test_a_maildir_file_renamed_by_another_process_mid_read_is_read_again(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Probe: two sessions' bulk releases of one message under gunicorn -w 4; one request flagged it (renamed its
    file new/ -> cur/:2,P) between the other's scan of the folder and its open: FileNotFoundError, a 500. Here the
    other process's rename happens right after this one's first scan."""
    store = _maildir(tmp_path / "Maildir")
    scan = MaildirStore._files
    renamed: list[str] = []

    def scan_then_renamed_elsewhere(directory: Path) -> list:
        files = scan(directory)
        if not renamed:
            for file in files:
                os.replace(file.path, file.path.parent.parent / "cur" / f"{file.key}:2,{file.flags}P")
                renamed.append(file.key)
        return files

    monkeypatch.setattr(MaildirStore, "_files", staticmethod(scan_then_renamed_elsewhere))
    summary, raw = store.message("Quarantine", "f1")
    assert summary.released and b"buy now" in raw
    renamed.clear()
    store.add_flag("Quarantine", "f2", RELEASED)
    renamed.clear()
    assert len(store.messages("Quarantine", Search(), "-sentDate", 0, 10)[0]) == 3
