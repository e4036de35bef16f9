"""Mails to users, sent by jobs (RQ workers, or in-process without Redis).

They go where the portal's other mail goes (`services.delivery`): through the user's platform relay,
or — with POSTERN_DELIVERY=local, the embedded default of `make run` — into the user's local INBOX.
A relay that cannot be reached fails the job, which RQ retries and the *Jobs* page then shows."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from flask import current_app
from flask_babel import force_locale, gettext

from ..extensions import db
from ..models import MailUser
from ..services import delivery
from .registry import job


@job("send_welcome")
def send_welcome(user_id: int) -> str | None:
    """Tell a new user that their account exists; returns the Message-ID (None: the user is gone)."""
    user = db.session.get(MailUser, user_id)
    if user is None:
        return None
    base = current_app.config["BASE_URL"]
    sender = current_app.config.get("MAIL_FROM", "postern@localhost")
    with force_locale(user.language.lower()):  # the words are ours: in the recipient's language
        subject = gettext("Your Postern account")
        text = gettext("Hello %(name)s,\n\nYour account %(email)s on the Postern mail-security portal is ready: "
                       "%(url)s\nThere you can see the messages held for you, release them and choose your "
                       "senders.\n", name=user.firstname or user.email, email=user.email, url=f"{base}/me/login")
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = user.email
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(text)
    delivery.deliver(user, sender, [user.email], message.as_bytes())
    return str(message["Message-ID"])
