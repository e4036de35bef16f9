"""Statistics: held mail counted from crafted Maildir stores (by reason, idempotent, a failing store skipped),
events counted as they happen (a release once, even done twice), retention, tenancy, the job and the command."""

from __future__ import annotations

import mailbox
import os
import shutil
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.clock import utcnow
from portal.extensions import db
from portal.integrations.mailstore import maildir_root
from portal.jobs import run_now
from portal.models import Admin, Domain, MailUser, Platform, StatCount, StatSender
from portal.schemas.rules import FilterSenderAdd, SenderRuleType
from portal.services import quarantine, statistics, wblist
from portal.services.principal import principal_for_admin
from tests.services_runtime import SmtpSink, free_port, smtp_server
from tests.world import World

DAY = date(2026, 3, 10)


@pytest.fixture(autouse=True)
def _fresh_stores(app: Flask) -> None:
    """The mailboxes these tests file into start empty (the world refills user@a.example's own)."""
    for email in ("other@a.example", "good@b.example", "user@b.example"):
        shutil.rmtree(maildir_root(Path(app.config["MAIL_ROOT"]), email), ignore_errors=True)


def _held(app: Flask, email: str, day: date, reason: str | None, sender: str, n: int = 1, fuglu: str = "") -> None:
    """File `n` held messages into a mailbox's Maildir quarantine, arrived on `day` (the file's mtime)."""
    root = maildir_root(Path(app.config["MAIL_ROOT"]), email)
    root.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(str(root), create=True)
    folder = box.get_folder("Quarantine") if "Quarantine" in box.list_folders() else box.add_folder("Quarantine")
    stamp = datetime.combine(day, time(12)).timestamp()
    for i in range(n):
        head = f"From: {sender}\nTo: {email}\nSubject: held {i}\nMessage-ID: <{fuglu or 'm'}{i}.{day}@x>\n"
        if reason:
            head += f"X-Quarantine-Reason: {reason}\n"
        if fuglu:
            head += f"X-Fuglu-Id: {fuglu}{i}\n"
        key = folder.add(mailbox.MaildirMessage(head + "\nbody\n"))
        path = Path(folder._path) / folder._lookup(key)  # type: ignore[attr-defined]
        os.utime(path, (stamp, stamp))


def _counts(domain_id: int, kind: str = statistics.HELD, day: date = DAY) -> dict[str, int]:
    return {k: n for k, n in db.session.execute(select(StatCount.key, StatCount.count).where(
        StatCount.domain_id == domain_id, StatCount.kind == kind, StatCount.day == day))}


def test_collect_counts_held_mail_by_reason_and_again_replaces(app: Flask, world: World) -> None:
    _held(app, "user@a.example", DAY, "SPAM", "spammer@bad.example", 3)
    _held(app, "user@a.example", DAY, "VIRUS", "Worm@Evil.example", 1)
    _held(app, "other@a.example", DAY, "spam", "spammer@bad.example", 2)
    _held(app, "other@a.example", DAY, None, "odd@bad.example", 1)
    _held(app, "other@a.example", DAY, "NEW_KIND", "odd@bad.example", 1)
    _held(app, "user@a.example", DAY - timedelta(days=1), "SPAM", "yesterday@bad.example", 4)  # another day
    with app.app_context():
        a = world.pk["A"]
        done = statistics.collect(a, DAY)
        db.session.commit()
        assert done.held == 8 and not done.failed
        assert _counts(a) == {"SPAM": 5, "VIRUS": 1, "OTHER": 2}
        senders = dict(db.session.execute(select(StatSender.sender, StatSender.count).where(
            StatSender.domain_id == a, StatSender.day == DAY, StatSender.kind == statistics.HELD)).all())
        assert senders == {"spammer@bad.example": 5, "worm@evil.example": 1, "odd@bad.example": 2}
        statistics.collect(a, DAY)  # counted again: replaced, not added
        db.session.commit()
        assert _counts(a) == {"SPAM": 5, "VIRUS": 1, "OTHER": 2}
        assert _counts(a, day=DAY - timedelta(days=1)) == {}  # only the day asked for


def test_only_the_busiest_senders_are_kept(app: Flask, world: World) -> None:
    for n in range(5):
        _held(app, "user@a.example", DAY, "SPAM", f"s{n}@bad.example", n + 1)
    app.config["STATS_TOP_SENDERS"] = 2
    try:
        with app.app_context():
            for n in range(4):  # released senders counted as events, trimmed by the job
                statistics.count(world.pk["A"], statistics.RELEASED, sender=f"r{n}@ok.example", n=n + 1, day=DAY)
            statistics.collect(world.pk["A"], DAY)
            db.session.commit()
            kept = {(k, s) for k, s in db.session.execute(select(StatSender.kind, StatSender.sender))}
            assert kept == {("held", "s4@bad.example"), ("held", "s3@bad.example"),
                            ("released", "r3@ok.example"), ("released", "r2@ok.example")}
    finally:
        app.config["STATS_TOP_SENDERS"] = 50


def test_a_failing_store_is_skipped_and_named(app: Flask, world: World) -> None:
    _held(app, "user@a.example", DAY, "SPAM", "spammer@bad.example", 2)
    with app.app_context():
        b = db.session.get(Domain, world.pk["B"])
        down = Platform(domain_id=b.id, name="imap-down", transport_dest="127.0.0.1", transport_port=9,
                        api_type="IMAP", api_data={"host": "127.0.0.1", "port": free_port()})
        db.session.add(down)
        db.session.flush()
        user_b = db.session.get(MailUser, world.pk["userB"])
        user_b.platform = down
        good = MailUser(domain_id=b.id, email="good@b.example")
        db.session.add(good)
        db.session.commit()
    _held(app, "good@b.example", DAY, "ADVERT", "ads@shop.example", 2)
    with app.app_context():
        result = run_now("collect_statistics_batch", [world.pk["A"], world.pk["B"]], DAY.isoformat())
        assert result["held"] == 4 and list(result["failed"]) == ["user@b.example"]
        assert _counts(world.pk["A"]) == {"SPAM": 2} and _counts(world.pk["B"]) == {"ADVERT": 2}


def test_concurrent_counts_add_up_and_retention_purges(app: Flask, world: World) -> None:
    with app.app_context():
        a = world.pk["A"]
        for _ in range(3):
            statistics.count(a, statistics.DELETED, n=2, day=DAY)
        statistics.count(a, statistics.DELETED, n=0, day=DAY)
        old = utcnow().date() - timedelta(days=app.config["STATS_RETENTION_DAYS"] + 1)
        statistics.count(a, statistics.DELETED, day=old, sender="x@old.example")
        statistics.count(a, statistics.DELETED, day=old + timedelta(days=2))
        db.session.commit()
        assert _counts(a, statistics.DELETED) == {"": 6}
        assert run_now("purge_statistics") == 2
        assert db.session.scalar(select(func.count()).select_from(StatCount)) == 2


def test_events_are_counted_as_they_happen(app: Flask, world: World) -> None:
    today = utcnow().date()
    with app.app_context():
        a = world.pk["A"]
        root = principal_for_admin(db.session.scalar(select(Admin).where(Admin.login == "admin-a")))
        owner = wblist.domain_owner(root, a, write=True)
        wblist.add(owner, [FilterSenderAdd(value="friend@ok.example", type="ALLOW", spf_on=False),
                           FilterSenderAdd(value="bad@x.example", type="BLOCK")])
        wblist.put(owner, "bad@x.example", SenderRuleType.BLOCK, "again")  # exists: not a new rule
        wblist.replace_all(owner, [FilterSenderAdd(value="bad@x.example", type="BLOCK"),  # kept: not new
                                   FilterSenderAdd(value="worse@x.example", type="BLOCK")])
        user = db.session.get(MailUser, world.pk["userA"])
        done = quarantine.apply(root, user, quarantine.Action.DELETE, ["quarantined-0@bad.example"])
        assert done.deleted == 1
        db.session.commit()
        assert _counts(a, statistics.RULE_ADDED, today) == {"ALLOW": 1, "BLOCK": 2}
        assert _counts(a, statistics.DELETED, today) == {"": 1}


SPAM = ("From: Winner@Lottery.example\nTo: user@a.example\nSubject: You won\nX-Fuglu-Id: st1\n"
        "X-Quarantine-Reason: SPAM\n\nclaim it\n")


@pytest.fixture
def relay(app: Flask, world: World) -> Iterator[SmtpSink]:
    with smtp_server() as (sink, port), app.app_context():
        db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = port
        root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
        mailbox.Maildir(str(root)).get_folder("Quarantine").add(mailbox.MaildirMessage(SPAM))
        db.session.commit()
        yield sink


def test_a_release_is_counted_once_even_done_twice(app: Flask, client: FlaskClient, world: World,
                                                   relay: SmtpSink) -> None:
    url = f"/api/users/{world.id('userA')}/emails/Quarantine/st1/release"
    assert client.post(url, headers=world.headers("enduser")).status_code == 204
    assert client.post(url, headers=world.headers("domainA")).status_code == 204  # done already: nothing sent
    assert len(relay.messages) == 1
    with app.app_context():
        assert _counts(world.pk["A"], statistics.RELEASED, utcnow().date()) == {"": 1}
        assert db.session.execute(select(StatSender.sender, StatSender.count).where(
            StatSender.kind == statistics.RELEASED)).all() == [("winner@lottery.example", 1)]


def test_a_domain_admin_reads_only_its_domains(app: Flask, world: World) -> None:
    with app.app_context():
        for key, n in (("A", 3), ("B", 5), ("C", 7)):
            statistics.count(world.pk[key], statistics.HELD, "SPAM", sender=f"s@{key}.example", n=n, day=DAY)
        db.session.commit()
        span = statistics.Range(DAY, DAY)

        def held(login: str, domain: int | None = None) -> tuple[int, list[str]]:
            who = principal_for_admin(db.session.scalar(select(Admin).where(Admin.login == login)))
            got = statistics.read(who, span, domain)
            return got.totals["held"], [name for _i, name, _n in got.top_domains]

        assert held("admin-a") == (3, ["a.example"])
        assert held("customer1") == (8, ["b.example", "a.example"])
        assert held("root") == (15, ["c.example", "b.example", "a.example"])
        assert held("root", world.pk["C"]) == (7, ["c.example"])
        with pytest.raises(statistics.NotFound):
            held("admin-a", world.pk["B"])
        assert held("reader-a") == (0, [])  # DOMAIN_READ only: no quarantine numbers


def test_date_range_bounds() -> None:
    today = date(2026, 5, 1)
    assert statistics.date_range(None, None, today=today) == statistics.Range(date(2026, 4, 2), today)
    for start, end, field in (("2026-04-31", None, "from"), (None, "2026-05-02", "to"),
                              ("2026-04-10", "2026-04-01", "from"), ("2025-01-01", None, "from")):
        with pytest.raises(statistics.Invalid) as error:
            statistics.date_range(start, end, today=today)
        assert error.value.errors[0].field == field


def test_parallel_counts_add_up(app: Flask, world: World) -> None:
    """Requests counting the same (domain, day, kind) at once: no lost update, no unique violation."""
    import threading

    errors: list[BaseException] = []

    def work() -> None:
        with app.app_context():
            try:
                for _ in range(15):
                    statistics.count(world.pk["A"], statistics.DELETED, day=DAY, sender="same@x.example")
                    db.session.commit()
            except BaseException as error:  # reported below
                errors.append(error)
                db.session.rollback()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        assert _counts(world.pk["A"], statistics.DELETED) == {"": 60}
        assert db.session.scalar(select(StatSender.count)) == 60


def test_the_command_line_counts_a_day(app: Flask, world: World) -> None:
    _held(app, "user@a.example", DAY, "SPAM", "spammer@bad.example", 2)
    runner = app.test_cli_runner()
    done = runner.invoke(args=["portal", "statistics", "--day", DAY.isoformat()])
    assert done.exit_code == 0, done.output
    assert f"{DAY.isoformat()}: 2 held message(s) in 3 domain(s)" in done.output
    assert runner.invoke(args=["portal", "statistics", "--day", "yesterday"]).exit_code == 2
    assert "removed 0 row(s)" in runner.invoke(args=["portal", "purge-statistics"]).output
    with app.app_context():
        assert _counts(world.pk["A"]) == {"SPAM": 2}


def test_the_daily_job_asks_for_batches(app: Flask, world: World) -> None:
    _held(app, "user@a.example", DAY, "VIRUS", "worm@evil.example", 1)
    with app.app_context():  # in-process jobs: the batches run after the job commits
        assert run_now("collect_statistics", DAY.isoformat()) == {"day": DAY.isoformat(), "domains": 3, "batches": 1}
        assert _counts(world.pk["A"]) == {"VIRUS": 1}
