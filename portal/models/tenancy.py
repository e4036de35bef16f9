"""Tenancy: brokers -> customers -> domains -> mailbox users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

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


class Domain(db.Model):
    """A mail domain of a customer. The issue "Domains" adds its settings."""

    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="ENABLED")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="domains")


class MailUser(db.Model):
    """A mailbox account of a domain: the end user of the portal."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="ENABLED")
    language: Mapped[str] = mapped_column(String(2), default="EN")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    session_nonce: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    domain: Mapped[Domain] = relationship()

    @property
    def enabled(self) -> bool:
        return self.status == "ENABLED" and self.domain.status == "ENABLED"
