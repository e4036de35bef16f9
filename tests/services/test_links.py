"""Links sent by mail: single use (also under parallel requests), expiry, purpose, stored hashed."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from portal.clock import utcnow
from portal.extensions import db
from portal.models import LinkToken, MailUser
from portal.services import links
from portal.services.links import LinkRefused, Purpose
from tests.world import World


def _user(world: World) -> MailUser:
    return db.session.get(MailUser, world.pk["userA"])


def test_a_link_is_used_once_for_its_purpose(ctx: None, world: World) -> None:
    value = links.issue(Purpose.LOGIN, user=_user(world), valid_for=timedelta(hours=4))
    assert len(value) >= 43  # 256 bits
    assert db.session.scalar(select(LinkToken.digest)) != value  # only the digest is kept
    with pytest.raises(LinkRefused) as wrong:
        links.look(value, Purpose.PASSWORD_RESET)
    assert "not valid" in str(wrong.value)
    assert links.look(value, Purpose.LOGIN).user_id == world.pk["userA"]
    assert links.look(value, Purpose.LOGIN).used_at is None  # looking changes nothing
    token = links.use(value, Purpose.LOGIN)
    assert token.used_at is not None
    with pytest.raises(LinkRefused) as again:
        links.use(value, Purpose.LOGIN)
    assert "used already" in str(again.value)


def test_expired_tampered_and_unknown_links_are_refused(ctx: None, world: World) -> None:
    value = links.issue(Purpose.LOGIN, user=_user(world), expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(LinkRefused, match="expired"):
        links.look(value, Purpose.LOGIN)
    for bad in ("", value[:-1] + ("A" if value[-1] != "A" else "B"), "x" * 500, "é" * 43):
        with pytest.raises(LinkRefused, match="not valid"):
            links.use(bad, Purpose.LOGIN)


def test_a_link_is_for_one_account(ctx: None, world: World) -> None:
    with pytest.raises(ValueError):
        links.issue(Purpose.LOGIN, valid_for=timedelta(hours=1))


def test_a_failed_request_gives_the_use_back(app: Flask, world: World) -> None:
    with app.app_context():
        value = links.issue(Purpose.LOGIN, user=_user(world), valid_for=timedelta(hours=1))
        db.session.commit()
        links.use(value, Purpose.LOGIN)
        db.session.rollback()  # what the request boundary does with a failed answer
        assert links.use(value, Purpose.LOGIN).used_at is not None
        db.session.commit()


def test_parallel_uses_let_one_through(app: Flask, world: World) -> None:
    with app.app_context():
        value = links.issue(Purpose.LOGIN, user=_user(world), valid_for=timedelta(hours=1))
        db.session.commit()
    start, outcomes = threading.Barrier(6), []

    def one() -> None:
        with app.app_context():
            start.wait(timeout=10)
            try:
                links.use(value, Purpose.LOGIN)
                db.session.commit()
                outcomes.append("used")
            except LinkRefused:
                db.session.rollback()
                outcomes.append("refused")
            except Exception as error:  # SQLite: a writer waiting too long is a 503, not a second use
                db.session.rollback()
                outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes.count("used") == 1, outcomes


def test_purge_removes_old_links(ctx: None, world: World) -> None:
    links.issue(Purpose.LOGIN, user=_user(world), expires_at=utcnow() - timedelta(days=40))
    kept = links.issue(Purpose.LOGIN, user=_user(world), valid_for=timedelta(hours=1))
    db.session.flush()
    assert links.purge(timedelta(days=30)) == 1
    assert links.look(kept, Purpose.LOGIN)


def test_the_nightly_token_purge_takes_old_links_too(ctx: None, world: World) -> None:
    from portal.jobs.maintenance import purge_expired_tokens

    links.issue(Purpose.LOGIN, user=_user(world), expires_at=utcnow() - timedelta(days=40))
    db.session.flush()
    assert purge_expired_tokens(30) == 1
    assert db.session.scalar(select(LinkToken)) is None
