"""The quarantine digest (issue 13, item 4): what it lists, in the user's language, hostile headers escaped, its
one-click links and List-Unsubscribe; due by the user's time zone and time; never twice for a period, under a
retried job, parallel jobs (a real RQ worker on a real Redis) and the hand-run command; a refused send is retried."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select

from portal import jobs
from portal.clock import utcnow
from portal.errors import Invalid, Unavailable
from portal.extensions import db
from portal.integrations.mailstore import MaildirStore, maildir_root
from portal.models import DigestRun, LinkToken, MailServer, MailUser, OptionValue, StatCount
from portal.options import Scope
from portal.services import digest, links, options
from portal.services.principal import principal_for_user
from tests.services.test_jobs import _redis_config
from tests.services_runtime import SmtpSink, redis_url, smtp_server
from tests.world import World

ROOT = Path(__file__).resolve().parent.parent.parent
HOSTILE_SUBJECT = "=?utf-8?q?Win_<script>alert(1)</script>_=0D=0ABcc:_x@evil.example?="


def held(app: Flask, email: str, n: int, *, reason: str = "SPAM", subject: str = "offer") -> list[str]:
    """`n` messages held for `email` now (X-Fuglu-Id, score, reason); returns their quarantine ids."""
    made = []
    with app.app_context():
        store = MaildirStore(maildir_root(Path(app.config["MAIL_ROOT"]), email))
        for i in range(n):
            fid = f"fid-{reason.lower()}-{i}-{len(made)}-{id(store) % 9999}"
            store.append("Quarantine", (
                f"From: Sender {i} <s{i}@spam.example>\r\nTo: {email}\r\nSubject: {subject} {i}\r\n"
                f"Date: {datetime.now(ZoneInfo('UTC')).strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
                f"Message-ID: <{fid}@spam.example>\r\nX-Fuglu-Id: {fid}\r\nX-Spam-Score: 7.5\r\n"
                f"X-Quarantine-Reason: {reason}\r\n\r\nbody {i}\r\n").encode())
            made.append(fid)
    return made


@pytest.fixture
def sink(app: Flask) -> Iterator[SmtpSink]:
    """aiosmtpd as the enabled SMTP server of Postern's own mail."""
    with smtp_server() as (received, port):
        with app.app_context():
            db.session.add(MailServer(name="out", protocol="SMTP", host="127.0.0.1", port=port, security="NONE",
                                      auth="NO_AUTH", sender_address="digest@ops.example", enabled=True))
            db.session.commit()
        yield received


def _mail(raw: bytes) -> EmailMessage:
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def _daily(app: Flask, user_id: int, at: str = "00:00", zone: str = "UTC") -> None:
    with app.app_context():
        user = db.session.get(MailUser, user_id)
        chain = options.user_chain(user)
        for name, value in (("DIGEST_FREQUENCY", "DAILY"), ("DIGEST_TIME", at), ("TIMEZONE", zone)):
            options.set_value(principal_for_user(user), chain, name, value)
        db.session.commit()


def _runs(app: Flask) -> list[tuple[int, str, str]]:
    with app.app_context():
        rows = db.session.execute(select(DigestRun.user_id, DigestRun.period, DigestRun.state))
        return [(r[0], r[1], r[2]) for r in rows]


# --- what is due ----------------------------------------------------------------------------------------------

def test_a_period_is_due_after_the_users_local_time() -> None:
    paris = ZoneInfo("Europe/Paris")
    daily = digest.Settings("DAILY", datetime.strptime("08:00", "%H:%M").time(), 0, paris)
    assert digest.period(daily, datetime(2026, 11, 27, 6, 59)) is None  # 07:59 in Paris
    assert digest.period(daily, datetime(2026, 11, 27, 7, 0)) == "2026-11-27"
    assert digest.period(daily, datetime(2026, 11, 27, 23, 30)) is None  # 00:30 on the 28th in Paris: not yet
    tokyo = digest.Settings("DAILY", datetime.strptime("00:30", "%H:%M").time(), 0, ZoneInfo("Asia/Tokyo"))
    assert digest.period(tokyo, datetime(2026, 11, 27, 15, 31)) == "2026-11-28"
    weekly = digest.Settings("WEEKLY", datetime.strptime("09:00", "%H:%M").time(), 4, ZoneInfo("UTC"))  # Friday
    assert digest.period(weekly, datetime(2026, 11, 26, 12, 0)) is None  # Thursday of week 48
    assert digest.period(weekly, datetime(2026, 11, 27, 9, 0)) == "2026-W48"
    assert digest.period(weekly, datetime(2026, 11, 29, 23, 0)) == "2026-W48"  # Sunday: still week 48
    never = digest.Settings("NEVER", datetime.strptime("00:00", "%H:%M").time(), 0, ZoneInfo("UTC"))
    assert digest.period(never, datetime(2026, 11, 27, 12, 0)) is None


def test_settings_are_options_inherited_from_the_domain(app: Flask, world: World) -> None:
    with app.app_context():
        user = db.session.get(MailUser, world.pk["userA"])
        assert digest.settings_of(user).frequency == "DAILY"  # the installation's default
        db.session.add(OptionValue(scope=str(Scope.DOMAIN), object_id=world.pk["A"], name="DIGEST_FREQUENCY",
                                   value="WEEKLY"))
        db.session.add(OptionValue(scope=str(Scope.DOMAIN), object_id=world.pk["A"], name="DIGEST_DAY",
                                   value="FRIDAY"))
        db.session.flush()
        got = digest.settings_of(user)
        assert (got.frequency, got.day) == ("WEEKLY", 4)
        options.set_value(principal_for_user(user), options.user_chain(user), "DIGEST_FREQUENCY", "NEVER")
        assert digest.settings_of(user).frequency == "NEVER"
        for name, bad in (("DIGEST_TIME", "25:00"), ("DIGEST_TIME", "8h"), ("TIMEZONE", "Mars/Olympus"),
                          ("DIGEST_DAY", "FUNDAY"), ("DIGEST_TIME", "08:00\r\nBcc: x@y")):
            with pytest.raises(Invalid):
                options.set_value(principal_for_user(user), options.user_chain(user), name, bad)
        db.session.rollback()


def test_due_lists_each_user_once_and_not_after_a_claim(app: Flask, world: World) -> None:
    _daily(app, world.pk["userA"], "00:00")
    with app.app_context():
        due = digest.due()
        assert (world.pk["userA"], utcnow().date().isoformat()) in due
        user = db.session.get(MailUser, world.pk["userA"])
        assert digest.claim(user, utcnow().date().isoformat(), utcnow()) is not None
        assert world.pk["userA"] not in {u for u, _ in digest.due()}


# --- the mail -------------------------------------------------------------------------------------------------

def test_the_digest_lists_what_was_held_with_its_links(app: Flask, world: World, sink: SmtpSink) -> None:
    ids = held(app, "user@a.example", 2, reason="SPAM") + held(app, "user@a.example", 1, reason="VIRUS")
    with app.app_context():
        store = MaildirStore(maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example"))
        store.append("Quarantine", (f"From: =?utf-8?q?Evil_<b>=0D=0ABcc:_x@y?= <evil@spam.example>\r\n"
                                    f"Subject: {HOSTILE_SUBJECT}\r\nX-Fuglu-Id: fid-hostile\r\n"
                                    "X-Spam-Score: 99\r\nX-Quarantine-Reason: SPAM\r\n\r\nbody\r\n").encode())
        result = digest.send(world.pk["userA"], "2026-11-27")
        db.session.commit()
    assert result.state == "sent" and result.listed == 6  # the world's 2 + ours (the world's have no reason)
    (mail_from, rcpts, raw), = sink.messages
    assert rcpts == ["user@a.example"] and mail_from == "digest@ops.example"
    mail = _mail(raw)
    assert mail["Subject"] == "Quarantine digest: 6 messages held for you"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<http://postern\.test/me/digest/off/[\w-]{43}>", mail["List-Unsubscribe"])
    assert mail["Bcc"] is None and b"\nBcc:" not in raw
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    for fid in ids:
        assert fid not in text  # ids are in the tokens' subjects, not in the mail
    assert "offer 0" in text and "Sender 0 <s0@spam.example>" not in text and "s0@spam.example" in text
    assert "Score: 7.5" in text and "== virus (1) ==" in text and "== spam (3) ==" in text
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>" not in html
    assert "\r\nBcc" not in text and "Win <script>alert(1)</script> Bcc: x@evil.example" in text  # one line
    assert len(re.findall(r"/me/digest/release/[\w-]{43}", text)) == 6
    assert len(re.findall(r"/me/digest/block/[\w-]{43}", html)) == 6
    assert "/me/link/" in text and "/me/digest/off/" in html
    with app.app_context():
        tokens = list(db.session.scalars(select(LinkToken).where(LinkToken.purpose == "DIGEST_RELEASE")))
        assert {t.subject for t in tokens} >= {f"Quarantine/{fid}" for fid in ids}
        policy_days = 31
        for token in tokens:  # expiring with the message's retention (the default 31 days)
            assert utcnow() + timedelta(days=policy_days - 1) < token.expires_at <= utcnow() + timedelta(
                days=policy_days, minutes=5)


def test_the_next_digest_lists_only_what_is_new(app: Flask, world: World, sink: SmtpSink) -> None:
    held(app, "user@a.example", 2)
    with app.app_context():
        assert digest.send(world.pk["userA"], "2026-11-26").listed == 4
        db.session.commit()
    fresh = held(app, "user@a.example", 1, subject="newer")
    with app.app_context():
        second = digest.send(world.pk["userA"], "2026-11-27")
        db.session.commit()
        assert second.listed == 1
        third = digest.send(world.pk["userA"], "2026-11-28")
        db.session.commit()
    assert third.state == "empty" and len(sink.messages) == 2  # nothing new: no mail
    assert "newer 0" in _mail(sink.messages[1][2]).get_body(("plain",)).get_content() and fresh


def test_links_follow_what_the_domain_grants(app: Flask, world: World, sink: SmtpSink) -> None:
    with app.app_context():
        user = db.session.get(MailUser, world.pk["userA"])
        user.domain.end_user_permissions = "QUARANTINE_VIEW"  # no release, no sender rules
        db.session.commit()
        digest.send(user.id, "2026-11-27")
        db.session.commit()
    text = _mail(sink.messages[0][2]).get_body(("plain",)).get_content()
    assert "/me/digest/" in text and "/me/digest/release" not in text and "/me/digest/block" not in text


@pytest.mark.parametrize(("language", "subject"), [
    ("EN", "Quarantine digest: 2 messages held for you"),
    ("FR", "Résumé de la quarantaine : 2 messages retenus pour vous"),
    ("DE", "Quarantäne-Übersicht: 2 Nachrichten für Sie zurückgehalten"),
    ("ES", "Resumen de la cuarentena: 2 mensajes retenidos para usted"),
    ("DA", "Karantæneoversigt: 2 beskeder tilbageholdt til dig"),
    ("NB", "Karanteneoversikt: 2 meldinger holdt tilbake for deg"),
    ("RU", "Сводка карантина: 2 сообщения задержаны для вас"),
])
def test_the_digest_in_every_language(app: Flask, world: World, sink: SmtpSink, language: str,
                                      subject: str) -> None:
    with app.app_context():
        user = db.session.get(MailUser, world.pk["userA"])
        user.language = language
        db.session.commit()
        digest.send(user.id, "2026-11-27")
        db.session.commit()
    mail = _mail(sink.messages[0][2])
    assert mail["Subject"] == subject and mail["Content-Language"] == language.lower()
    html = mail.get_body(("html",)).get_content()
    assert f'<html lang="{language.lower()}">' in html and "offer 1" in html
    text = mail.get_body(("plain",)).get_content()
    assert "/me/digest/release/" in text and "/me/link/" in text  # readable without HTML: every link in the text


def test_the_brand_colour_and_logo(app: Flask, world: World, sink: SmtpSink) -> None:
    with app.app_context():
        for name, value in (("BRAND_COLOR", "#7b1fa2"), ("LOGO_URL", "https://cdn.example/logo.png")):
            db.session.add(OptionValue(scope=str(Scope.DOMAIN), object_id=world.pk["A"], name=name, value=value))
        db.session.commit()
        digest.send(world.pk["userA"], "2026-11-27")
        db.session.commit()
    html = _mail(sink.messages[0][2]).get_body(("html",)).get_content()
    assert "#7b1fa2" in html and 'src="https://cdn.example/logo.png"' in html


# --- never twice --------------------------------------------------------------------------------------------

def test_a_retried_job_sends_nothing_twice(app: Flask, world: World, sink: SmtpSink) -> None:
    with app.app_context():
        first = jobs.run_now("send_digest", world.pk["userA"], "2026-11-27")
        again = jobs.run_now("send_digest", world.pk["userA"], "2026-11-27")
    assert first["state"] == "sent" and again["state"] == "skipped" and len(sink.messages) == 1
    with app.app_context():  # the statistics count the digest once, with its run
        assert db.session.execute(select(StatCount.domain_id, StatCount.count).where(
            StatCount.kind == "digest_sent")).all() == [(world.pk["A"], 1)]


def test_a_refused_send_fails_the_job_and_the_retry_sends(app: Flask, world: World, sink: SmtpSink) -> None:
    sink.refuse.add("user@a.example")
    with app.app_context(), pytest.raises(Unavailable):
        jobs.run_now("send_digest", world.pk["userA"], "2026-11-27")
    assert _runs(app) == [] and sink.messages == []  # the claim was dropped: nothing was sent
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LinkToken)) == 0  # the job rolled back
    sink.refuse.clear()
    with app.app_context():
        assert jobs.run_now("send_digest", world.pk["userA"], "2026-11-27")["state"] == "sent"
    assert len(sink.messages) == 1 and _runs(app)[0][2] == "sent"


def test_a_stale_claim_is_taken_again_a_fresh_one_is_not(app: Flask, world: World, sink: SmtpSink) -> None:
    with app.app_context():
        user = db.session.get(MailUser, world.pk["userA"])
        long_ago = utcnow() - digest.claim_lifetime() - timedelta(seconds=5)
        assert digest.claim(user, "2026-11-27", long_ago) is not None  # a worker that died after claiming
        assert digest.claim(user, "2026-11-27", long_ago + timedelta(seconds=1)) is None  # fresh for it
        assert jobs.run_now("send_digest", user.id, "2026-11-27")["state"] == "sent"
    assert len(sink.messages) == 1


def test_parallel_jobs_on_real_rq_workers_send_once(app: Flask, database_url: str, world: World, sink: SmtpSink,
                                                    tmp_path: Path) -> None:
    """The same digest asked for four times (the scan ran twice, a job was retried): two `portal worker --burst`
    processes on a real Redis take them at once; one mail leaves."""
    with redis_url() as url, _redis_config(app, url) as configured:
        with configured.app_context():
            from portal import outbox

            for _ in range(4):
                outbox.enqueue("send_digest", world.pk["userA"], "2026-11-27")
                db.session.commit()  # one row per unit of work, each its own RQ job
                jobs.dispatch()
            assert jobs.queue().count == 4
        env = {**os.environ, "POSTERN_DATABASE_URL": database_url, "POSTERN_INSTANCE_DIR": str(tmp_path),
               "POSTERN_MAIL_ROOT": str(app.config["MAIL_ROOT"]), "REDIS_URL": url,
               "POSTERN_RQ_QUEUE": configured.config["RQ_QUEUE"], "POSTERN_ALLOW_PRIVATE_TARGETS": "true",
               "POSTERN_MAILSERVER_PORTS": "1024-65535", "POSTERN_BASE_URL": "http://postern.test"}
        workers = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "portal", "worker", "--burst"],
                                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                   for _ in range(2)]
        errors = [w.communicate(timeout=120)[1].decode(errors="replace") for w in workers]
        with configured.app_context():
            queue = jobs.queue()
            assert len(queue.finished_job_registry) == 4, errors
            assert len(queue.failed_job_registry) == 0, errors
    assert len(sink.messages) == 1 and [r[2] for r in _runs(app)] == ["sent"]


def test_the_scheduled_scan_asks_for_each_due_digest(app: Flask, world: World, sink: SmtpSink) -> None:
    _daily(app, world.pk["userA"], "00:00")
    _daily(app, world.pk["otherA"], "23:59", "Pacific/Kiritimati")  # UTC+14: its day may still be early
    with app.app_context():
        asked = jobs.run_now("send_due_digests")  # in-process: the asked-for jobs run after its commit
    assert asked >= 1
    assert any(r == (world.pk["userA"], utcnow().date().isoformat(), "sent") for r in _runs(app))
    with app.app_context():
        assert world.pk["userA"] not in {u for u, _ in digest.due()}
        jobs.run_now("send_due_digests")
    assert len([m for m in sink.messages if m[1] == ["user@a.example"]]) == 1


def test_the_command_line_sends_one_users_digest(app: Flask, world: World, sink: SmtpSink) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["portal", "send-digests", "--user", "user@a.example"])
    assert first.exit_code == 0 and "sent, 2 message(s)" in first.output and "1 digest(s) sent" in first.output
    again = runner.invoke(args=["portal", "send-digests", "--user", "user@a.example"])
    assert "skipped" in again.output and "0 digest(s) sent" in again.output
    unknown = runner.invoke(args=["portal", "send-digests", "--user", "nobody@a.example"])
    assert unknown.exit_code == 1 and len(sink.messages) == 1


def test_own_mail_refuses_a_hostile_extra_header(app: Flask, world: World) -> None:
    from portal.services import own_mail

    with app.app_context():
        for headers in ({"List-Unsubscribe": "<x>\r\nBcc: a@b"}, {"Bcc": "a@b"}, {"X-A: b\r\nC": "d"},
                        {"List-Unsubscribe": "<é>"}):
            with pytest.raises(ValueError):
                own_mail.compose("user@a.example", "s", "t", headers=headers)
        mail = own_mail.compose("user@a.example", "s", "t", headers={"List-Unsubscribe": "<https://x/off>"})
        assert mail["List-Unsubscribe"] == "<https://x/off>"


def test_links_of_the_digest_are_its_purposes_only(app: Flask, world: World, sink: SmtpSink) -> None:
    with app.app_context():
        digest.send(world.pk["userA"], "2026-11-27")
        db.session.commit()
    text = _mail(sink.messages[0][2]).get_body(("plain",)).get_content()
    release = re.search(r"/me/digest/release/([\w-]{43})", text).group(1)  # type: ignore[union-attr]
    with app.app_context():
        for purpose in (links.Purpose.DIGEST_BLOCK, links.Purpose.DIGEST_OFF, links.Purpose.LOGIN):
            with pytest.raises(links.LinkRefused):
                links.look(release, purpose)
        assert links.look(release, links.Purpose.DIGEST_RELEASE).user_id == world.pk["userA"]


def test_a_batch_commits_each_user_and_its_retry_skips_those_done(app: Flask, world: World,
                                                                  sink: SmtpSink) -> None:
    """`send_digests`: each user's digest is its own unit of work; a failure fails the batch after the earlier
    users' digests (and their links) were kept; the retry sends the rest and nothing twice."""
    with app.app_context():
        other = db.session.get(MailUser, world.pk["otherA"])
        sink.refuse.add(other.email)
    held(app, other.email, 2)
    with app.app_context():
        batch = [[world.pk["userA"], "2026-11-27"], [other.id, "2026-11-27"]]
        with pytest.raises(Unavailable):
            jobs.run_now("send_digests", batch)
        kept = db.session.scalar(select(func.count()).select_from(LinkToken).where(
            LinkToken.user_id == world.pk["userA"]))
    assert kept and len(sink.messages) == 1 and _runs(app) == [(world.pk["userA"], "2026-11-27", "sent")]
    sink.refuse.clear()
    with app.app_context():
        assert jobs.run_now("send_digests", batch) == {"skipped": 1, "sent": 1}
    assert len(sink.messages) == 2 and sorted(r[2] for r in _runs(app)) == ["sent", "sent"]


def test_the_scan_asks_for_batches(app: Flask, world: World, sink: SmtpSink) -> None:
    from portal.jobs import digest as digest_jobs
    from portal.models import OutboxJob

    with app.app_context():
        due = [(world.pk["userA"], "2026-11-27")] * (digest_jobs.BATCH + 1)
        original = digest.due
        digest.due = lambda: due  # type: ignore[assignment]  # more due users than one batch holds
        try:
            assert digest_jobs.send_due_digests() == digest_jobs.BATCH + 1
        finally:
            digest.due = original  # type: ignore[assignment]
        rows = [r for r in db.session.new if isinstance(r, OutboxJob) and r.name == "send_digests"]
        assert sorted(len(r.arguments["args"][0]) for r in rows) == [1, digest_jobs.BATCH]
        db.session.rollback()
