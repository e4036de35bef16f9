"""Hand a mail to a user's platform relay, then to its fallback when the first cannot be reached."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from ..errors import MaybeDelivered, Unavailable
from ..extensions import db
from ..integrations import outbox, smtp
from ..integrations.mailstore import MaildirStore, maildir_root
from ..models import MailUser
from ..words import _l


@dataclass
class Handed:
    relay: str  # host:port that answered
    refused: dict[str, str]  # recipient -> the relay's answer; empty: every recipient got a 250


def relays_of(user: MailUser) -> list[tuple[str, int, str]]:
    platform = user.platform or user.domain.default_platform
    if platform is None:
        raise Unavailable(_l("The user's domain has no relay to deliver to."))
    relays = [(platform.transport_dest, platform.transport_port, platform.transport_type)]
    if platform.fallback_transport_dest:
        relays.append((platform.fallback_transport_dest, platform.fallback_transport_port or 25,
                       platform.fallback_transport_type or platform.transport_type))
    return relays


def deliver(user: MailUser, sender: str, recipients: list[str], data: bytes) -> Handed:
    """Send through the first relay that takes the connection; a relay that refuses recipients
    answered, so the fallback is not tried for them (it would refuse them too, or deliver twice).

    With POSTERN_DELIVERY=local (the embedded default of `make run`), nothing leaves the host: mail for
    a mailbox of this portal lands in its local INBOX, the rest in instance/outbox/."""
    if current_app.config.get("DELIVERY") == "local":
        return _deliver_locally(sender, recipients, data)
    timeout = float(current_app.config.get("SMTP_TIMEOUT", 20))
    last_error: Unavailable | None = None
    for host, port, transport in relays_of(user):
        try:
            refused = smtp.deliver(host, port, transport, sender, recipients, data, timeout=timeout)
        except MaybeDelivered:
            raise  # the relay may have it: the fallback would make a second copy
        except Unavailable as error:
            last_error = error
            continue
        return Handed(f"{host}:{port}", {r: f"{code} {msg.decode(errors='replace')}"
                                         for r, (code, msg) in refused.items()})
    raise last_error or Unavailable(_l("No relay took the message."))


def _deliver_locally(sender: str, recipients: list[str], data: bytes) -> Handed:
    base = Path(current_app.config["MAIL_ROOT"])
    known = set(db.session.scalars(select(MailUser.email).where(MailUser.email.in_(recipients))))
    for recipient in recipients:
        if recipient in known:
            MaildirStore(maildir_root(base, recipient)).append("INBOX", data)
    others = [r for r in recipients if r not in known]
    if others:
        outbox.write_raw(data, sender=sender, recipients=others)
    return Handed("local", {})
