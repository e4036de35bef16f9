"""/api/mailqueue against a private Postfix (tests/services_runtime.py `postfix_queue`): every action reaches the
real queue; bad ids are refused before any tool runs; no Postfix is a 503; who may use the queue."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from tests.services_runtime import PostfixQueue, postfix_configured, postfix_queue
from tests.world import World

ALLOWED = ("sysadmin", "broker")  # the broker role holds every broker permission, QUEUE_MANAGE included
REFUSED = ("customer", "domainA", "domainB", "enduser")


@pytest.fixture(scope="module")
def postfix() -> Iterator[PostfixQueue]:
    with postfix_queue() as instance:
        yield instance


@pytest.fixture(autouse=True)
def _configured(app: Flask, postfix: PostfixQueue) -> Iterator[None]:
    with postfix_configured(app, postfix):
        yield


def _ids(postfix: PostfixQueue, queue: str | None = None) -> list[str]:
    return sorted(e["queue_id"] for e in postfix.queue() if queue is None or e["queue_name"] == queue)


def test_list_count_and_filters(client: FlaskClient, world: World, postfix: PostfixQueue) -> None:
    postfix.inject("alice@a.example", ["bob@b.example"], count=2)
    postfix.inject("carol@c.example", ["dave@d.example", "erin@b.example"])
    entries = postfix.deferred(3)
    headers = world.headers("sysadmin")
    listed = client.get("/api/mailqueue", headers=headers)
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "3"
    body = listed.get_json()
    assert sorted(m["queueId"] for m in body) == sorted(e["queue_id"] for e in entries)
    first = body[0]
    assert first["queueName"] == "deferred" and first["arrivalTime"] % 1000 == 0 and first["size"] > 0
    assert "Connection refused" in first["recipients"][0]["delayReason"]
    assert client.get("/api/mailqueue/count", headers=headers).get_json() == {
        "active": 0, "deferred": 3, "hold": 0, "incoming": 0, "maildrop": 0, "total": 3}
    by_sender = client.get("/api/mailqueue?sender=ALICE@*", headers=headers)
    assert by_sender.headers["X-Total-Count"] == "2"
    by_recipient = client.get("/api/mailqueue?recipient=*@b.example", headers=headers)
    assert by_recipient.headers["X-Total-Count"] == "3"
    both = client.get("/api/mailqueue?recipient=*d.example&queue=deferred", headers=headers).get_json()
    assert [m["sender"] for m in both] == ["carol@c.example"]
    assert client.get("/api/mailqueue?queue=hold", headers=headers).get_json() == []
    assert client.get("/api/mailqueue?minAge=3600", headers=headers).headers["X-Total-Count"] == "0"
    paged = client.get("/api/mailqueue?offset=1&pageSize=1", headers=headers)
    assert paged.headers["X-Total-Count"] == "3" and paged.get_json() == [body[1]]
    bad = client.get("/api/mailqueue?queue=frozen&minAge=-1", headers=headers)
    assert bad.status_code == 400 and {e["field"] for e in bad.get_json()["errors"]} >= {"queue", "minAge"}


def test_message_view_hold_release_delete(app: Flask, client: FlaskClient, world: World,
                                          postfix: PostfixQueue) -> None:
    postfix.inject("alice@a.example", ["bob@b.example"], subject="Привет")
    (entry,) = postfix.deferred(1)
    queue_id, headers = entry["queue_id"], world.headers("broker")
    one = client.get(f"/api/mailqueue/{queue_id}", headers=headers)
    assert one.status_code == 200, one.text
    assert "Subject:" in one.get_json()["headers"] and "body 0" in one.get_json()["body"]
    assert one.get_json()["truncated"] is False
    assert client.post(f"/api/mailqueue/{queue_id}/hold", headers=headers).status_code == 204
    assert _ids(postfix, "hold") == [queue_id]
    assert client.post(f"/api/mailqueue/{queue_id}/release", headers=headers).status_code == 204
    assert _ids(postfix, "hold") == []
    assert client.delete(f"/api/mailqueue/{queue_id}", headers=headers).status_code == 204
    assert _ids(postfix) == []
    gone = client.delete(f"/api/mailqueue/{queue_id}", headers=headers)
    assert gone.status_code == 404 and gone.mimetype == "application/problem+json"
    assert client.get(f"/api/mailqueue/{queue_id}", headers=headers).status_code == 404
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.actor == "broker1")
                                                         .order_by(AuditEvent.id))]
        targets = [e.target for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("MAILQ%")))]
    assert actions[-4:] == ["MAILQUEUE_READ", "MAILQUEUE_HOLD", "MAILQUEUE_RELEASE", "MAILQUEUE_DELETE"]
    assert all(queue_id in t for t in targets[-4:])


def test_resend_reports_the_new_queue_id(client: FlaskClient, world: World, postfix: PostfixQueue) -> None:
    postfix.inject("alice@a.example", ["bob@b.example"])
    (entry,) = postfix.deferred(1)
    answer = client.post(f"/api/mailqueue/{entry['queue_id']}/resend", headers=world.headers("sysadmin"))
    assert answer.status_code == 200, answer.text
    new_id = answer.get_json()["queueId"]
    assert new_id and new_id != entry["queue_id"]
    (again,) = postfix.wait_for(lambda q: len(q) == 1 and q[0]["queue_id"] == new_id)
    assert again["sender"] == "alice@a.example"


def test_bulk_actions(client: FlaskClient, world: World, postfix: PostfixQueue) -> None:
    postfix.inject(count=4)
    ids = sorted(e["queue_id"] for e in postfix.deferred(4))
    headers = world.headers("sysadmin")
    held = client.post("/api/mailqueue/hold", json={"ids": [*ids[:3], "ABCDEF0123"]}, headers=headers)
    assert held.status_code == 200 and sorted(held.get_json()["ids"]) == ids[:3]  # the unknown id is skipped
    assert _ids(postfix, "hold") == ids[:3]
    released = client.post("/api/mailqueue/release", json={"ids": ids[:1]}, headers=headers)
    assert released.get_json() == {"ids": ids[:1]} and _ids(postfix, "hold") == ids[1:3]
    resent = client.post("/api/mailqueue/resend", json={"ids": ids[3:]}, headers=headers).get_json()["resent"]
    assert list(resent) == ids[3:] and resent[ids[3]] not in (None, ids[3])
    deleted = client.post("/api/mailqueue/delete", json={"ids": ids[:2]}, headers=headers)
    assert sorted(deleted.get_json()["ids"]) == ids[:2]
    assert ids[0] not in _ids(postfix) and ids[1] not in _ids(postfix)


def test_clear_held_deferred_and_everything(client: FlaskClient, world: World, postfix: PostfixQueue) -> None:
    postfix.inject(count=3)
    ids = sorted(e["queue_id"] for e in postfix.deferred(3))
    headers = world.headers("sysadmin")
    client.post("/api/mailqueue/hold", json={"ids": ids[:1]}, headers=headers)
    assert client.delete("/api/mailqueue?queue=hold", headers=headers).status_code == 204
    assert _ids(postfix) == ids[1:]
    client.post("/api/mailqueue/hold", json={"ids": ids[1:2]}, headers=headers)
    assert client.delete("/api/mailqueue", headers=headers).status_code == 204  # deferred only
    assert _ids(postfix) == ids[1:2]
    assert client.delete("/api/mailqueue?force=true", headers=headers).status_code == 204
    assert _ids(postfix) == []
    assert client.post("/api/mailqueue/flush", headers=headers).status_code == 204
    assert client.delete("/api/mailqueue?queue=frozen", headers=headers).status_code == 400


@pytest.mark.parametrize("bad", ["abc", "ZZZZZZ", "-d", "ALL", "1234", "ABCDEF%2Fx", "A" * 40, "abc-def-ghij"])
def test_bad_ids_refused_before_any_tool_runs(app: Flask, client: FlaskClient, world: World, bad: str,
                                              tmp_path: os.PathLike[str]) -> None:
    spy = os.path.join(tmp_path, "ran")
    for tool in ("postqueue", "postsuper", "postcat"):  # tools that leave a trace if they are ever run
        path = os.path.join(tmp_path, tool)
        with open(path, "w") as fh:
            fh.write(f"#!/bin/sh\necho \"$0 $*\" >> {spy}\n")
        os.chmod(path, stat.S_IRWXU)
    app.config["POSTFIX_BIN"] = str(tmp_path)
    headers = world.headers("sysadmin")
    for method, url in (("GET", ""), ("DELETE", ""), ("POST", "/hold"), ("POST", "/release"), ("POST", "/resend")):
        assert client.open(f"/api/mailqueue/{bad}{url}", method=method, headers=headers).status_code in (404, 405)
    for action in ("delete", "hold", "release", "resend"):
        answer = client.post(f"/api/mailqueue/{action}", json={"ids": ["ABCDEF0123", bad]}, headers=headers)
        assert answer.status_code == 400 and answer.get_json()["errors"][0]["field"] == "ids"
    assert not os.path.exists(spy)


def test_no_postfix_is_a_503(app: Flask, client: FlaskClient, world: World, tmp_path: os.PathLike[str]) -> None:
    app.config["POSTFIX_BIN"] = str(tmp_path)  # an empty directory: no Postfix tools here
    headers = world.headers("sysadmin")
    for method, url in (("GET", "/api/mailqueue"), ("GET", "/api/mailqueue/count"),
                        ("GET", "/api/mailqueue/ABCDEF0123"), ("POST", "/api/mailqueue/flush"),
                        ("DELETE", "/api/mailqueue?force=true")):
        answer = client.open(url, method=method, headers=headers)
        assert answer.status_code == 503, (url, answer.text)
        assert answer.get_json()["detail"] == "The mail queue is not available here."


def test_a_hanging_tool_is_cut_at_the_deadline(app: Flask, client: FlaskClient, world: World,
                                               tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "postqueue")
    with open(path, "w") as fh:
        fh.write("#!/bin/sh\nsleep 60 &\nwait\n")  # a child in the group, too: the whole group is killed
    os.chmod(path, stat.S_IRWXU)
    app.config["POSTFIX_BIN"], app.config["POSTFIX_TIMEOUT"] = str(tmp_path), 0.5
    try:
        answer = client.get("/api/mailqueue/count", headers=world.headers("sysadmin"))
    finally:
        app.config["POSTFIX_TIMEOUT"] = 30.0
    assert answer.status_code == 503 and "did not answer within 0.5 s" in answer.get_json()["detail"]


@pytest.mark.parametrize("role", ALLOWED + REFUSED)
def test_who_may_use_the_queue(client: FlaskClient, world: World, postfix: PostfixQueue, role: str) -> None:
    postfix.inject()
    (entry,) = postfix.deferred(1)
    status = client.post(f"/api/mailqueue/{entry['queue_id']}/hold", headers=world.headers(role)).status_code
    assert status == (204 if role in ALLOWED else 403)
    assert _ids(postfix, "hold") == ([entry["queue_id"]] if role in ALLOWED else [])


def test_not_permitted_is_not_available(app: Flask, client: FlaskClient, world: World,
                                        tmp_path: os.PathLike[str]) -> None:
    """postsuper run by a non-root account: Postfix's refusal is the same 503, not its text or a traceback."""
    line = ('{"queue_name": "deferred", "queue_id": "ABCDEF0123", "arrival_time": 1, "message_size": 9, '
            '"sender": "a@a.example", "recipients": [{"address": "b@b.example"}]}')
    for tool, script in (("postqueue", f"echo '{line}'"),
                         ("postsuper", "echo 'postsuper: fatal: use of this command is reserved for the superuser' >&2"
                                       "; exit 1")):
        path = os.path.join(tmp_path, tool)
        with open(path, "w") as fh:
            fh.write(f"#!/bin/sh\n{script}\n")
        os.chmod(path, stat.S_IRWXU)
    app.config["POSTFIX_BIN"] = str(tmp_path)
    headers = world.headers("sysadmin")
    assert client.get("/api/mailqueue", headers=headers).headers["X-Total-Count"] == "1"
    answer = client.post("/api/mailqueue/ABCDEF0123/hold", headers=headers)
    assert answer.status_code == 503 and answer.get_json()["detail"] == "The mail queue is not available here."
