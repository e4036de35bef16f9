"""Mails to users, sent by jobs (RQ workers, or in-process without Redis).

They are Postern's own mail (`services.own_mail`): through the enabled SMTP server of *Mail servers*, else where
the portal's other mail goes — the user's platform relay, or with POSTERN_DELIVERY=local, the embedded default of
`make run`, the user's local INBOX. A server or relay that cannot be reached, or refuses the recipient, fails the
job, which RQ retries and the *Jobs* page then shows."""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale, gettext

from ..extensions import db
from ..models import MailUser
from ..services import own_mail
from .registry import job


@job("send_welcome")
def send_welcome(user_id: int) -> str | None:
    """Tell a new user that their account exists; returns the Message-ID (None: the user is gone)."""
    user = db.session.get(MailUser, user_id)
    if user is None:
        return None
    base = current_app.config["BASE_URL"]
    with force_locale(user.language.lower()):  # the words are ours: in the recipient's language
        subject = gettext("Your Postern account")
        text = gettext("Hello %(name)s,\n\nYour account %(email)s on the Postern mail-security portal is ready: "
                       "%(url)s\nThere you can see the messages held for you, release them and choose your "
                       "senders.\n", name=user.firstname or user.email, email=user.email, url=f"{base}/me/login")
    message = own_mail.compose(user.email, subject, text, language=user.language)
    return own_mail.send(message, user=user)
