"""Mails to users. The notifications issue adds SMTP delivery; until then they go to the outbox."""

from __future__ import annotations

from ..extensions import db
from ..integrations import outbox
from ..models import MailUser


def send_welcome(user_id: int) -> str | None:
    """Tell a new user that their account exists; returns the outbox file name (None: user gone)."""
    user = db.session.get(MailUser, user_id)
    if user is None:
        return None
    body = (
        f"Hello {user.firstname or user.email},\n\n"
        f"Your account {user.email} on the Postern mail-security portal is ready.\n"
        "There you can see the messages held for you, release them and choose your senders.\n"
    )
    return outbox.write(to=user.email, subject="Your Postern account", body=body,
                        idempotency_key=f"welcome-{user.id}")
