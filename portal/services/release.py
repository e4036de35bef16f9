"""Release a quarantined message to its recipient, losing nothing and sending nothing twice.

- An infected message (X-Virus-Name, or reason VIRUS) needs `X-Virus-Lover`; that header on a clean
  message is refused too (412, as the seed says).
- The copy sent has no spam subject prefix (the user's policy) and no verdict headers, and carries
  `X-Postern-Released`; it goes to the platform's relay, then its fallback.
- A release is recorded per recipient only after the relay accepted it (250); a recipient already
  served is skipped (a double click or a retry sends nothing more) unless `force` is given.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser

from flask import current_app
from sqlalchemy import select

from ..clock import utcnow
from ..errors import Forbidden, NotFound, PreconditionFailed, Unavailable
from ..extensions import db
from ..integrations.mailstore import RELEASED, MailStore, Summary
from ..models import MailUser, Release
from ..permissions import EndUserPermission
from . import delivery, mailboxes, scanner
from .principal import Principal

log = logging.getLogger(__name__)

VERDICT_HEADERS = ("X-Spam-Score", "X-Spam-Status", "X-Spam-Flag", "X-Spam-Level", "X-Quarantine-Reason",
                   "X-Virus-Name", "X-Virus-Status")


@dataclass
class Outcome:
    delivered: list[str]
    already: list[str]
    refused: dict[str, str] = field(default_factory=dict)  # recipient -> the relay's answer
    sender: str = ""  # who sent the released message (for an allow rule that follows)


def _who(principal: Principal) -> str:
    if principal.user is not None:
        return principal.user.email
    return principal.admin.login if principal.admin else "?"


def _prepare(raw: bytes, user: MailUser) -> bytes:
    message = BytesParser(policy=policy.SMTP).parsebytes(raw)
    props = (user.policy or user.domain.default_policy)
    prefixes = [p for p in ((props.relay_props or {}).get("prefixSpam"), (props.relay_props or {}).get("advertPrefix"))
                if p] if props else []
    subject = str(message.get("Subject", ""))
    for prefix in prefixes:
        subject = re.sub(r"^\s*" + re.escape(prefix) + r"\s*", "", subject)
    if "Subject" in message:
        message.replace_header("Subject", subject)
    for name in VERDICT_HEADERS:
        del message[name]
    message["X-Postern-Released"] = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    return message.as_bytes()


def release(principal: Principal, user_ref: str, folder: str, message_id: str, *, virus_lover: bool,
            force: bool = False) -> Outcome:
    user = mailboxes.user_by_id_or_email(principal, user_ref, release=True, folder=folder)
    if principal.user is not None and not user.domain.grants(EndUserPermission.QUARANTINE_RELEASE):
        raise Forbidden("Your domain does not let you release messages.")
    with mailboxes.store_for(user) as store:
        summary, raw = store.message(folder, message_id)
        infected = (bool(summary.headers.get("X-Virus-Name")) or summary.headers.get("X-Quarantine-Reason") == "VIRUS"
                    or scanner.infected(raw) is not None)
        if infected and not virus_lover:
            raise PreconditionFailed("The message is infected: send X-Virus-Lover to release it anyway.")
        if virus_lover and not infected:
            raise PreconditionFailed("X-Virus-Lover was sent but the message is not infected.")
        key = message_key(summary)
        recipients = [summary.headers.get("X-Original-To") or user.email]
        done = set(db.session.scalars(select(Release.recipient).where(
            Release.user_id == user.id, Release.message_key == key, Release.recipient.in_(recipients))))
        todo = recipients if force else [r for r in recipients if r not in done]
        if todo:
            handed = delivery.deliver(user, current_app.config.get("MAIL_FROM", "postern@localhost"), todo,
                                      _prepare(raw, user))
            delivered = [r for r in todo if r not in handed.refused]
            for recipient in delivered:
                if recipient not in done:
                    db.session.add(Release(user_id=user.id, message_key=key, recipient=recipient,
                                           relay=handed.relay, released_by=_who(principal)))
            # Durable before anything else can fail: a retry after a crash finds it and sends nothing.
            db.session.commit()
            outcome = Outcome(delivered, sorted(done), handed.refused, summary.sender)
        else:
            outcome = Outcome([], sorted(done), sender=summary.sender)
        if not outcome.refused and not summary.released:
            _flag(store, folder, summary)
    return outcome


def _flag(store: MailStore, folder: str, summary: Summary) -> None:
    """Mark the quarantine copy released; the releases table stays the record when the store fails."""
    try:
        store.add_flag(folder, summary.key, RELEASED, by_key=True)
    except (Unavailable, NotFound) as error:
        log.warning("released %s but could not flag it in %s: %s", summary.key, folder, error)


def message_key(summary: Summary) -> str:
    """What a release is recorded under: the quarantine id, else the Message-ID, else the store's key."""
    return summary.headers.get("X-Fuglu-Id") or summary.headers.get("Message-ID", "").strip("<>") or summary.key


def was_released(user: MailUser, summary: Summary) -> bool:
    """Whether a held message was delivered by a release: its flag, else the record."""
    return summary.released or db.session.scalar(select(Release.id).where(
        Release.user_id == user.id, Release.message_key == message_key(summary)).limit(1)) is not None


def released_keys(user: MailUser) -> set[str]:
    return set(db.session.scalars(select(Release.message_key).where(Release.user_id == user.id)))
