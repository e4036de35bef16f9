"""Filter rules of domains and mailboxes, and email aliases (groups)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class SenderRule(db.Model):
    """An allow / block / protected rule for a sender address or domain, owned by a domain or a mailbox.

    `owner_key` is "d:<domain id>" or "u:<user id>": one rule per owner and value."""

    __tablename__ = "sender_rules"
    __table_args__ = (
        UniqueConstraint("owner_key", "value"),
        Index("ix_sender_rules_domain_value", "domain_id", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_key: Mapped[str] = mapped_column(String(24))
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))  # owner or owner's domain
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(String(320))  # lower-case address or domain
    type: Mapped[str] = mapped_column(String(16))  # ALLOW, BLOCK, PROTECTED
    expire_at: Mapped[datetime | None] = mapped_column(index=True)
    description: Mapped[str | None] = mapped_column(String(1024))
    spf_on: Mapped[bool | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttachmentRule(db.Model):
    __tablename__ = "attachment_rules"
    __table_args__ = (UniqueConstraint("domain_id", "action", "check_type", "filter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(8))  # ALLOW, DENY
    check_type: Mapped[str] = mapped_column(String(24))  # FILENAME, CONTENTTYPE, ARCHIVE-FILENAME, ...
    filter: Mapped[str] = mapped_column(String(256))  # a regular expression
    priority: Mapped[int] = mapped_column(default=1)
    description: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UriRule(db.Model):
    __tablename__ = "uri_rules"
    __table_args__ = (UniqueConstraint("domain_id", "action", "filter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(24))  # URIDNSBL_SKIP_DOMAIN, WHITELIST_URI_HOST, BLACKLIST_URI_HOST
    filter: Mapped[str] = mapped_column(String(253))  # a host or domain name
    priority: Mapped[int] = mapped_column(default=1)
    description: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmailAlias(db.Model):
    """An address of a domain that delivers to a list of recipients (a group)."""

    __tablename__ = "email_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    domain: Mapped[Domain] = relationship()  # noqa: F821 (tenancy model)
    recipients: Mapped[list[EmailAliasRecipient]] = relationship(
        back_populates="alias", cascade="all, delete-orphan", passive_deletes=True,
        order_by="EmailAliasRecipient.id")


class EmailAliasRecipient(db.Model):
    __tablename__ = "email_alias_recipients"
    __table_args__ = (UniqueConstraint("alias_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alias_id: Mapped[int] = mapped_column(ForeignKey("email_aliases.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320), index=True)
    type: Mapped[str] = mapped_column(String(20))  # USER, ALIAS, EXTERNAL_ADDRESS (derived when added)

    alias: Mapped[EmailAlias] = relationship(back_populates="recipients")





class Release(db.Model):
    """A claim on delivering a quarantined message to one recipient, then the record that it was delivered.

    The row is written (state `sending`) and committed before anything is sent, so the unique constraint
    lets one request in the whole installation deliver; it becomes `delivered` once the relay said 250,
    and is removed again when the relay refused (nothing was sent). `delivered_at` stays set once the
    message reached the recipient, also while a forced re-send holds the row. `claim` is the token of the
    request holding the row: only that request may finish or drop it."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("user_id", "message_key", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    message_key: Mapped[str] = mapped_column(String(320))  # X-Fuglu-Id, else Message-ID
    recipient: Mapped[str] = mapped_column(String(320))
    relay: Mapped[str] = mapped_column(String(300))
    released_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="sending", server_default="delivered")
    claim: Mapped[str] = mapped_column(String(32), default="", server_default="")
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
