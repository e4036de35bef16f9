"""Tenancy: brokers -> customers -> domains (aliases, platforms, policies) -> mailbox users."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    inspect,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session, relationship
from sqlalchemy.orm.util import identity_key

from ..clock import utcnow
from ..extensions import db


class Broker(db.Model):
    __tablename__ = "brokers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customers: Mapped[list[Customer]] = relationship(back_populates="broker")


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("broker_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broker_id: Mapped[int] = mapped_column(ForeignKey("brokers.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(1024))
    external_id: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    broker: Mapped[Broker] = relationship(back_populates="customers")
    domains: Mapped[list[Domain]] = relationship(back_populates="customer")


domain_outgoing_providers = Table(
    "domain_outgoing_providers",
    db.metadata,
    Column("domain_id", ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
    Column("provider_id", ForeignKey("outgoing_providers.id", ondelete="CASCADE"), primary_key=True),
)


class OutgoingProvider(db.Model):
    """A third-party sender (e.g. Microsoft 365) whose SPF a domain allows for outgoing mail."""

    __tablename__ = "outgoing_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    spf_provider: Mapped[str] = mapped_column(String(253))
    active: Mapped[bool] = mapped_column(default=True)


class Domain(db.Model):
    """A mail domain of a customer."""

    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)  # lower-case, IDNs as punycode
    description: Mapped[str | None] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16), default="ENABLED", index=True)
    wblist_priority: Mapped[str] = mapped_column(String(8), default="USER")
    default_language: Mapped[str] = mapped_column(String(2), default="EN")
    auto_provisioning_on: Mapped[bool] = mapped_column(default=False)
    sender_verify_on: Mapped[bool] = mapped_column(default=True)
    external_id: Mapped[str | None] = mapped_column(String(255), index=True)
    outgoing_subnets: Mapped[list[str]] = mapped_column(JSON, default=list)
    end_user_permissions: Mapped[str] = mapped_column(Text, default="")  # space-separated
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deletion_date: Mapped[datetime | None] = mapped_column()
    purge_date: Mapped[datetime | None] = mapped_column(index=True)
    # Its ENABLED users, kept by the flush that changes a user (`_count_active_users` below): a list of
    # domains shows it without counting a table of users.
    active_users: Mapped[int] = mapped_column(default=0, server_default="0")
    users_count: Mapped[int] = mapped_column(default=0, server_default="0")  # all its users, kept alike

    customer: Mapped[Customer] = relationship(back_populates="domains")
    aliases: Mapped[list[DomainAlias]] = relationship(
        back_populates="domain", cascade="all, delete-orphan", passive_deletes=True, order_by="DomainAlias.name")
    platforms: Mapped[list[Platform]] = relationship(
        back_populates="domain", cascade="all, delete-orphan", passive_deletes=True, order_by="Platform.id")
    policies: Mapped[list[Policy]] = relationship(
        back_populates="domain", cascade="all, delete-orphan", passive_deletes=True, order_by="Policy.id")
    outgoing_providers: Mapped[list[OutgoingProvider]] = relationship(
        secondary=domain_outgoing_providers, order_by="OutgoingProvider.id")

    @property
    def default_policy(self) -> Policy | None:
        return next((p for p in self.policies if p.is_default), None)

    @property
    def default_platform(self) -> Platform | None:
        return next((p for p in self.platforms if p.is_default), self.platforms[0] if self.platforms else None)

    def grants(self, permission: str) -> bool:
        """Whether the domain lets its mailbox users do this (an end-user permission)."""
        return str(permission) in self.end_user_permissions.split()


class DomainAlias(db.Model):
    """Another name of a domain; a name is unique across domains and aliases (checked in services)."""

    __tablename__ = "domain_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)

    domain: Mapped[Domain] = relationship(back_populates="aliases")


class Platform(db.Model):
    """An SMTP relay (with its fallback) that delivers a domain's mail, and how its users log in."""

    __tablename__ = "platforms"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    transport_dest: Mapped[str] = mapped_column(String(253))
    transport_type: Mapped[str] = mapped_column(String(16), default="SMTP")
    transport_port: Mapped[int] = mapped_column(default=25)
    fallback_transport_dest: Mapped[str | None] = mapped_column(String(253))
    fallback_transport_type: Mapped[str | None] = mapped_column(String(16))
    fallback_transport_port: Mapped[int | None] = mapped_column()
    api_type: Mapped[str | None] = mapped_column(String(16))
    api_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # secret fields encrypted
    auth_type: Mapped[str] = mapped_column(String(16), default="local")
    auth_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # secret fields encrypted
    is_default: Mapped[bool] = mapped_column("is_default", default=False)

    domain: Mapped[Domain] = relationship(back_populates="platforms")


class Policy(db.Model):
    """Filtering and storage settings of a domain, assigned to the domain (default) and its users."""

    __tablename__ = "policies"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(default=False)
    quarantine: Mapped[bool] = mapped_column(default=False)
    retention: Mapped[bool] = mapped_column(default=False)
    archive: Mapped[bool] = mapped_column(default=False)
    incoming: Mapped[bool] = mapped_column(default=True)
    outgoing: Mapped[bool] = mapped_column(default=False)
    mail_size_limit: Mapped[int] = mapped_column(default=21)  # MB
    spam_score: Mapped[float] = mapped_column(default=5.0)
    relay_props: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    quarantine_props: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    retention_props: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    archive_props: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    domain: Mapped[Domain] = relationship(back_populates="policies")


class MailUser(db.Model):
    """A mailbox account of a domain: the end user of the portal."""

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_domain_email", "domain_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    firstname: Mapped[str | None] = mapped_column(String(255))
    lastname: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="ENABLED")
    language: Mapped[str] = mapped_column(String(2), default="EN")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id", ondelete="RESTRICT"), index=True)
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platforms.id", ondelete="RESTRICT"), index=True)
    sender_verify_on: Mapped[bool] = mapped_column(default=True)
    mfa_type: Mapped[str | None] = mapped_column(String(8))
    totp_secret: Mapped[str | None] = mapped_column(Text)
    sign: Mapped[str | None] = mapped_column(Text)  # sanitized HTML
    session_nonce: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_connection_date: Mapped[datetime | None] = mapped_column()

    domain: Mapped[Domain] = relationship()
    policy: Mapped[Policy | None] = relationship()
    platform: Mapped[Platform | None] = relationship()

    @property
    def enabled(self) -> bool:
        return self.status == "ENABLED" and self.domain.status == "ENABLED"


def _add_users(connection: Connection, domain_id: int | None, enabled: int, users: int) -> None:
    if domain_id is not None and (enabled or users):
        domains = Domain.__table__
        connection.execute(update(domains).where(domains.c.id == domain_id).values(
            active_users=domains.c.active_users + enabled, users_count=domains.c.users_count + users))


def _count_active_users(kind: str) -> Callable[[Any, Connection, MailUser], None]:
    """Mapper events keeping Domain.active_users and Domain.users_count in the flush that writes the user (the
    same transaction): one atomic `count = count ± 1` per change, so concurrent writers add up. The loaded Domain
    objects of the session see the new counts after the flush (`_expire_counted`). Core statements on users
    bypass this: the one there is (a domain's purge) deletes the domain too; `recount_active_users` repairs."""

    def handler(_mapper: Any, connection: Connection, user: MailUser) -> None:
        counted = object_session(user).info.setdefault("active_users_counted", set())  # type: ignore[union-attr]
        if kind == "insert":
            _add_users(connection, user.domain_id, int(user.status == "ENABLED"), 1)
            counted.add(user.domain_id)
            return
        if kind == "delete":
            was = inspect(user).attrs.status.history
            status = was.deleted[0] if was.deleted else user.status
            _add_users(connection, user.domain_id, -int(status == "ENABLED"), -1)
            counted.add(user.domain_id)
            return
        status, domain = inspect(user).attrs.status.history, inspect(user).attrs.domain_id.history
        if not (status.has_changes() or domain.has_changes()):
            return
        old_status = status.deleted[0] if status.deleted else user.status
        old_domain = domain.deleted[0] if domain.deleted else user.domain_id
        if old_domain == user.domain_id:
            _add_users(connection, user.domain_id, int(user.status == "ENABLED") - int(old_status == "ENABLED"), 0)
        else:
            _add_users(connection, old_domain, -int(old_status == "ENABLED"), -1)
            _add_users(connection, user.domain_id, int(user.status == "ENABLED"), 1)
        counted.update({old_domain, user.domain_id})

    return handler


for _kind in ("insert", "update", "delete"):
    event.listen(MailUser, f"after_{_kind}", _count_active_users(_kind))


@event.listens_for(Session, "after_flush_postexec")
def _expire_counted(session: Session, _context: Any) -> None:
    """The domains whose count a flush changed are read again when next used."""
    for domain_id in session.info.pop("active_users_counted", ()):
        domain = session.identity_map.get(identity_key(Domain, domain_id))
        if domain is not None:
            session.expire(domain, ["active_users", "users_count"])


class OptionValue(db.Model):
    """A value of a scoped option (definitions live in portal/options.py)."""

    __tablename__ = "option_values"
    __table_args__ = (UniqueConstraint("scope", "object_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # PLATFORM (object 0), CUSTOMER, DOMAIN, USER
    object_id: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
