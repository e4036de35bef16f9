"""Exactly-once release across processes: a real gunicorn with 4 workers on the suite's database (a SQLite
file, or PostgreSQL with POSTERN_TEST_DATABASE_URL), a relay that takes a moment, parallel requests; and the
claim's edge cases in-process (a stale claim, one in flight, a refusal, a forced re-send)."""

from __future__ import annotations

import json
import mailbox
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.clock import utcnow
from portal.extensions import db
from portal.integrations.mailstore import maildir_root
from portal.models import Domain, Release
from portal.services import release
from tests.services_runtime import SlowSmtpSink, gunicorn_app, slow_smtp_server
from tests.world import World

SPAM = ("From: winner@lottery.example\nTo: user@a.example\nSubject: You won\nX-Fuglu-Id: once1\n"
        "X-Spam-Score: 12.5\nX-Quarantine-Reason: SPAM\nX-Original-To: user@a.example\n\nclaim it\n")
PARALLEL = 10


@pytest.fixture
def slow_relay(app: Flask, world: World) -> Iterator[SlowSmtpSink]:
    """user@a.example's platform relays to an aiosmtpd that takes half a second per message."""
    with slow_smtp_server(0.5) as (sink, port), app.app_context():
        db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = port
        root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
        mailbox.Maildir(str(root)).get_folder("Quarantine").add(mailbox.MaildirMessage(SPAM))
        db.session.commit()
        yield sink


def _post(url: str, token: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method="POST", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_parallel_releases_under_gunicorn_deliver_once(app: Flask, world: World, database_url: str,
                                                      slow_relay: SlowSmtpSink) -> None:
    env = {"POSTERN_DATABASE_URL": database_url, "POSTERN_SECRET_KEY": app.config["SECRET_KEY"],
           "POSTERN_INSTANCE_DIR": str(app.config["INSTANCE_DIR"]), "POSTERN_MAIL_ROOT": app.config["MAIL_ROOT"],
           "POSTERN_DELIVERY": "smtp", "POSTERN_SMTP_TIMEOUT": "10", "POSTERN_LOGIN_RATE_LIMIT": "1000 per second"}
    with gunicorn_app(env, workers=4) as base:
        url = f"{base}/api/users/{world.id('userA')}/emails/Quarantine/once1/release"
        start = threading.Barrier(PARALLEL)

        def one(_n: int) -> tuple[int, dict[str, str], bytes]:
            start.wait(timeout=30)
            return _post(url, world.token["enduser"])

        with ThreadPoolExecutor(PARALLEL) as pool:
            answers = list(pool.map(one, range(PARALLEL)))
        statuses = sorted(status for status, _headers, _body in answers)
        assert len(slow_relay.messages) == 1, statuses  # exactly one copy reached the relay
        assert set(statuses) <= {204, 409} and 204 in statuses, statuses  # no 500, one delivered
        for status, headers, body in answers:
            if status == 409:  # another request was delivering: a problem saying to try again
                assert headers["Content-Type"] == "application/problem+json"
                assert int(headers["Retry-After"]) > 0 and "being released" in json.loads(body)["detail"]
        again = _post(url, world.token["domainA"])  # a retry once it is done: answered, not sent
        assert again[0] == 204 and len(slow_relay.messages) == 1
    with app.app_context():
        (record,) = db.session.query(Release).all()
        assert (record.state, record.message_key, record.recipient) == ("delivered", "once1", "user@a.example")
        assert record.delivered_at is not None


def _release(client: FlaskClient, world: World, query: str = ""):
    return client.post(f"/api/users/{world.id('userA')}/emails/Quarantine/once1/release{query}",
                       headers=world.headers("enduser"))


def _claim(app: Flask, world: World, age: timedelta, *, delivered: bool = False) -> None:
    """A `sending` row left by another request `age` ago (a worker busy now, or one that died)."""
    with app.app_context():
        at = utcnow() - age
        db.session.add(Release(user_id=world.pk["userA"], message_key="once1", recipient="user@a.example",
                               relay="", released_by="someone", state="sending", claim="0" * 32, claimed_at=at,
                               created_at=at, delivered_at=at if delivered else None))
        db.session.commit()


def test_a_claim_in_flight_is_a_409_and_sends_nothing(app: Flask, client: FlaskClient, world: World,
                                                      slow_relay: SlowSmtpSink) -> None:
    _claim(app, world, timedelta(seconds=1))
    for query in ("", "?force=true"):  # a forced re-send does not overtake a release in flight either
        busy = _release(client, world, query)
        assert busy.status_code == 409 and busy.headers["Retry-After"] == str(release.RETRY_AFTER_SECONDS)
        assert busy.json["detail"] == release.IN_FLIGHT_DETAIL
    assert slow_relay.messages == []


def test_a_stale_claim_is_retaken(app: Flask, client: FlaskClient, world: World, slow_relay: SlowSmtpSink) -> None:
    """A worker that died while sending leaves its claim; past the SMTP deadlines it may be retaken."""
    with app.app_context():
        lifetime = release.claim_lifetime()
    _claim(app, world, lifetime + timedelta(seconds=5))
    assert _release(client, world).status_code == 204 and len(slow_relay.messages) == 1
    with app.app_context():
        (record,) = db.session.query(Release).all()
        assert record.state == "delivered" and record.claim != "0" * 32 and record.released_by == "user@a.example"
    assert _release(client, world).status_code == 204 and len(slow_relay.messages) == 1


def test_a_stale_forced_resend_still_counts_as_delivered(app: Flask, client: FlaskClient, world: World,
                                                         slow_relay: SlowSmtpSink) -> None:
    """A forced re-send that died leaves a stale claim on a delivered message: a plain release sends nothing."""
    with app.app_context():
        lifetime = release.claim_lifetime()
    _claim(app, world, lifetime + timedelta(seconds=5), delivered=True)
    assert _release(client, world).status_code == 204 and slow_relay.messages == []


def test_refused_then_retried(app: Flask, client: FlaskClient, world: World, slow_relay: SlowSmtpSink) -> None:
    """A 550 drops the claim: nothing was sent, so the next try sends; a refused forced re-send keeps the record."""
    slow_relay.refuse.add("user@a.example")
    refused = _release(client, world)
    assert refused.status_code == 400 and "550" in refused.json["detail"]
    with app.app_context():
        assert db.session.query(Release).count() == 0  # no claim left behind
    slow_relay.refuse.clear()
    assert _release(client, world).status_code == 204 and len(slow_relay.messages) == 1
    slow_relay.full.add("user@a.example")
    assert _release(client, world, "?force=true").status_code == 400
    with app.app_context():
        (record,) = db.session.query(Release).all()
        assert record.state == "delivered" and record.delivered_at is not None  # still delivered once
    slow_relay.full.clear()
    assert _release(client, world).status_code == 204 and len(slow_relay.messages) == 1  # already: not sent
    assert _release(client, world, "?force=true").status_code == 204 and len(slow_relay.messages) == 2


def test_a_relay_that_took_the_message_but_never_answered_keeps_the_claim(app: Flask, client: FlaskClient,
                                                                           world: World) -> None:
    """Probe: a gunicorn worker aborted while the relay held DATA; smtplib's QUIT then read the relay's 250 as a
    wrong QUIT reply, the release counted as 'not taken', its claim was dropped and the retry sent a second copy.
    A failure after DATA was sent is ambiguous: the claim stays (a retry is a 409 until it is stale) and the
    fallback relay is not tried."""
    with slow_smtp_server(3.0) as (_slow, slow_port), slow_smtp_server(0) as (fallback, fallback_port), \
            app.app_context():
        platform = db.session.get(Domain, world.pk["A"]).platforms[0]
        platform.transport_port = slow_port
        platform.fallback_transport_dest, platform.fallback_transport_port = "127.0.0.1", fallback_port
        platform.fallback_transport_type = "SMTP"
        root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
        mailbox.Maildir(str(root)).get_folder("Quarantine").add(mailbox.MaildirMessage(SPAM))
        db.session.commit()
        app.config["SMTP_TIMEOUT"] = 1  # cut while the relay still holds the message's DATA
        try:
            first = _release(client, world)
            assert first.status_code == 503 and "may have been delivered" in first.json["detail"], first.json
            assert _release(client, world).status_code == 409  # no second copy at once
            assert fallback.messages == []
            (record,) = db.session.query(Release).all()
            assert record.state == "sending"
        finally:
            app.config["SMTP_TIMEOUT"] = 20
