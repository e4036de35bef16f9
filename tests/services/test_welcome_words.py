"""The mails the portal writes itself are in the recipient's language (issue 11, item 6), both parts."""

from __future__ import annotations

import mailbox
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from flask import Flask

from portal.extensions import db
from portal.jobs import notifications
from portal.models import MailUser
from tests.world import World


@pytest.mark.parametrize(("language", "subject", "words"), [
    ("EN", "Your Postern account", "is ready"),
    ("FR", "Votre compte Postern", "est prêt"),
    ("RU", "Ваша учётная запись Postern", "готова"),
])
def test_the_welcome_mail_speaks_the_users_language(app: Flask, world: World, language: str, subject: str,
                                                     words: str) -> None:
    app.config["DELIVERY"] = "local"  # the embedded default: the mail lands in the user's INBOX here
    try:
        with app.app_context():  # a job: no request, no session, no browser to ask
            user = db.session.get(MailUser, world.pk["userA"])
            user.language = language
            db.session.commit()
            message_id = notifications.send_welcome(user.id)
    finally:
        app.config["DELIVERY"] = "smtp"
    inbox = mailbox.Maildir(str(Path(app.config["MAIL_ROOT"]) / "a.example" / "user" / "Maildir"), create=False)
    mails = [message_from_bytes(inbox.get_file(key).read(), policy=policy.default) for key in inbox.iterkeys()]
    (mail,) = [m for m in mails if m["Message-ID"] == message_id]  # the file as written, not re-folded
    assert mail["Subject"] == subject and mail["Content-Language"] == language.lower()
    for kind in ("plain", "html"):
        body = mail.get_body((kind,)).get_content()
        assert words in body and "user@a.example" in body and "/me/login" in body
