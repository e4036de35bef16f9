"""GET /api/mailtracking: the mail log's messages with their path, paged, filtered; bad input is a problem+json 400
naming the parameter; the mail queue's operators only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.services.test_tracking import LOG, indexed_log
from tests.world import World

RANGE = {"start": "2026-11-28T00:00:00Z", "end": "1795910400000"}  # the whole of 28 November 2026


@pytest.fixture
def indexed(app: Flask, tmp_path: Path) -> Iterator[None]:
    with indexed_log(app, tmp_path / "mail.log", LOG):
        yield


def test_search_pages_and_paths(client: FlaskClient, world: World, indexed: None) -> None:
    answer = client.get("/api/mailtracking", query_string={**RANGE, "pageSize": 1}, headers=world.headers("sysadmin"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Total-Count"] == "2" and answer.headers["Access-Control-Expose-Headers"] == "X-Total-Count"
    (newest,) = answer.json
    assert newest["queueId"] == "4F1A2B3C4D" and newest["sender"] == "root@gw" and newest["removed"] is False
    answer = client.get("/api/mailtracking", query_string={**RANGE, "recipient": "*@c.example"},
                        headers=world.headers("broker"))
    (message,) = answer.json
    assert message["messageId"] == "abc@example.org" and message["status"] == "bounced" and message["removed"]
    assert message["receivedAt"] == int(datetime(2026, 11, 28, 9, 56, 2, tzinfo=UTC).timestamp() * 1000)
    bounced = [e for e in message["events"] if e["status"] == "bounced"]
    assert bounced == [{"at": bounced[0]["at"], "kind": "delivery", "recipient": "carol@c.example",
                        "relay": "c.example[203.0.113.9]:25", "dsn": "5.1.1", "status": "bounced", "delay": 240.0,
                        "text": "host c.example said: 550 5.1.1 no such user"}]
    by_id = client.get("/api/mailtracking", query_string={**RANGE, "messageId": "<abc@example.org>"},
                       headers=world.headers("sysadmin"))
    assert [m["queueId"] for m in by_id.json] == ["4F1A2B3C4D"]
    before = client.get("/api/mailtracking", query_string={"start": "2026-10-01", "end": "2026-10-02"},
                        headers=world.headers("sysadmin"))
    assert before.json == [] and before.headers["X-Total-Count"] == "0"


@pytest.mark.parametrize(("args", "field"), [
    ({"queueId": "not an id!"}, "queueId"), ({"start": "tomorrow"}, "start"), ({"end": "2026-13-01"}, "end"),
    ({"start": "2026-01-01", "end": "2026-06-01"}, "start"), ({"start": "2026-06-02", "end": "2026-06-01"}, "start"),
    ({"sender": "x" * 300}, "sender"), ({"pageSize": "0"}, "pageSize"), ({"offset": "-1"}, "offset"),
])
def test_bad_input_is_a_problem(client: FlaskClient, world: World, args: dict[str, str], field: str) -> None:
    answer = client.get("/api/mailtracking", query_string=args, headers=world.headers("sysadmin"))
    assert answer.status_code == 400 and answer.mimetype == "application/problem+json"
    assert field in {e["field"] for e in answer.json["errors"]}


@pytest.mark.parametrize("role", ["customer", "domainA", "domainB", "enduser"])
def test_only_the_queues_operators(client: FlaskClient, world: World, role: str) -> None:
    assert client.get("/api/mailtracking", headers=world.headers(role)).status_code == 403
