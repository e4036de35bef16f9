"""The mails the portal writes itself are in the recipient's language (issue 11, item 6)."""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

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
def test_the_welcome_mail_speaks_the_users_language(app: Flask, world: World, monkeypatch: pytest.MonkeyPatch,
                                                     language: str, subject: str, words: str) -> None:
    sent: list[bytes] = []

    def deliver(_user: Any, _sender: str, _to: list[str], raw: bytes) -> None:
        sent.append(raw)

    monkeypatch.setattr(notifications.delivery, "deliver", deliver)
    with app.app_context():  # a job: no request, no session, no browser to ask
        user = db.session.get(MailUser, world.pk["userA"])
        user.language = language
        db.session.commit()
        notifications.send_welcome(user.id)
    (raw,) = sent
    mail = message_from_bytes(raw, policy=policy.default)
    assert mail["Subject"] == subject
    body = mail.get_content()
    assert words in body and "user@a.example" in body and "/me/login" in body
