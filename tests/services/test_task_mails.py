"""The mails of the tasks (issue 13, item 5): welcome with its setup link, login link, password reset, spam and
not-spam reports — each in every interface language, text (readable alone, the link in it) and HTML (the same
link, every word escaped), sent through the aiosmtpd peer as the enabled SMTP server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from flask import Flask

from portal import jobs
from portal.extensions import db
from portal.models import Admin, MailServer, MailUser, OptionValue
from portal.models.accounts import LANGUAGES
from tests.services_runtime import SmtpSink, smtp_server
from tests.world import World

QUARANTINED = "quarantined-0@bad.example"
ENGLISH = {  # job -> (subject, words of the body) in English
    "send_welcome": ("Your Postern account", "To choose your password"),
    "send_token_mail": ("Your Postern sign-in link", "Here is a link to sign in"),
    "send_password_reset_mail": ("Reset your Postern password", "Someone asked to reset the password"),
    "send_spam_report": ("Spam report from user@a.example", "reports the attached message as spam"),
    "send_ham_report": ("Not-spam report from user@a.example", "reports the attached message as not spam"),
}
LINKS = {"send_welcome": "/password/setup/", "send_token_mail": "/me/link/", "send_password_reset_mail":
         "/password/reset/"}


@pytest.fixture
def sink(app: Flask, world: World) -> Iterator[SmtpSink]:
    with smtp_server() as (received, port):
        with app.app_context():
            db.session.add(MailServer(name="outgoing", protocol="SMTP", host="127.0.0.1", port=port,
                                      security="NONE", auth="NO_AUTH", enabled=True))
            for name in ("SPAM_REPORT_ADDRESS", "HAM_REPORT_ADDRESS"):
                db.session.add(OptionValue(scope="DOMAIN", object_id=world.pk["A"], name=name,
                                           value="reports@ops.example"))
            db.session.commit()
        yield received


def _run(app: Flask, world: World, job: str, language: str) -> None:
    with app.app_context():
        user = db.session.get(MailUser, world.pk["userA"])
        user.language = language
        user.firstname = "<b>Ann & Bob</b>"  # escaped in the HTML part
        user.domain.default_language = language  # the reports speak the domain's language
        db.session.commit()
        if job in ("send_spam_report", "send_ham_report"):
            jobs.run_now(job, user.id, "Quarantine", QUARANTINED)
        elif job == "send_password_reset_mail":
            jobs.run_now(job, user_id=user.id, hours=2)
        else:
            jobs.run_now(job, user.id)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("job", ENGLISH)
def test_every_task_mail_in_every_language(app: Flask, world: World, sink: SmtpSink, job: str,
                                           language: str) -> None:
    _run(app, world, job, language)
    (_, _, raw), = sink.messages
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    subject, words = ENGLISH[job]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert mail["Content-Language"] == language.lower()
    if language == "EN":
        assert mail["Subject"] == subject and words in text and words in html
    else:  # translated: not the English words
        assert mail["Subject"] != subject and words not in text and words not in html
    if job in LINKS:
        (url,) = re.findall(r"http://postern\.test/[\w/-]+/[A-Za-z0-9_-]{43}", text)  # the link with its token
        assert LINKS[job] in url and f'href="{url}"' in html
        assert "Ann &amp; Bob" in html and "<b>Ann" not in html and "<b>Ann & Bob</b>" in text
    else:
        assert "Quarantine" in text and QUARANTINED in text


def test_the_reset_mail_of_an_administrator_speaks_their_language(app: Flask, world: World,
                                                                  sink: SmtpSink) -> None:
    with app.app_context():
        admin = db.session.get(Admin, world.pk["readerA"])
        admin.language = "DE"
        db.session.commit()
        jobs.run_now("send_password_reset_mail", admin_id=admin.id)
    (_, recipients, raw), = sink.messages
    mail = message_from_bytes(raw, policy=policy.default)
    assert recipients == ["reader-a@example.org"] and mail["Content-Language"] == "de"
    assert mail["Subject"] == "Setzen Sie Ihr Postern-Passwort zurück"
    assert "reader-a" in mail.get_body(("plain",)).get_content()
