"""Administrator accounts, their authorities and personal API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db

LANGUAGES = ("EN", "FR", "DE", "ES", "DA", "NB", "RU")


class Admin(db.Model):
    __tablename__ = "admins"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(255), unique=True)  # stored lower-case
    display_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(default=True)
    language: Mapped[str] = mapped_column(String(2), default="EN")
    sys_admin: Mapped[bool] = mapped_column(default=False)
    totp_secret: Mapped[str | None] = mapped_column(Text)  # encrypted (portal.crypto)
    totp_last_counter: Mapped[int | None] = mapped_column()  # a TOTP code is accepted once
    session_nonce: Mapped[str] = mapped_column(String(32), default="")  # changes log sessions out
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_connection_date: Mapped[datetime | None] = mapped_column()

    authorities: Mapped[list[Authority]] = relationship(
        back_populates="admin", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Authority.id",
    )
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="admin", cascade="all, delete-orphan", passive_deletes=True,
    )

    @property
    def totp(self) -> bool:
        return self.totp_secret is not None


class Authority(db.Model):
    """Permissions of an admin on one broker, customer or domain."""

    __tablename__ = "authorities"
    __table_args__ = (
        UniqueConstraint("admin_id", "object_type", "object_id"),
        Index("ix_authorities_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"))
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[int] = mapped_column()
    permissions_text: Mapped[str] = mapped_column("permissions", Text, default="")

    admin: Mapped[Admin] = relationship(back_populates="authorities")

    @property
    def permissions(self) -> list[str]:
        return self.permissions_text.split()

    @permissions.setter
    def permissions(self, values: list[str]) -> None:
        self.permissions_text = " ".join(sorted(set(values)))


class ApiToken(db.Model):
    """A personal bearer token of an admin or of a mailbox user; only its digest is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("(admin_id IS NULL) <> (user_id IS NULL)", name="one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    expiration: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_use: Mapped[datetime | None] = mapped_column()

    admin: Mapped[Admin | None] = relationship(back_populates="tokens")


class LoginThrottle(db.Model):
    """Failed sign-ins of one account name (a login, an address, an admin's TOTP step), whoever tried.

    `key` is a digest of the kind and the name as typed, so unknown names are counted (and refused)
    like real accounts, and what people typed in the login field is not kept."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    blocked_until: Mapped[datetime | None] = mapped_column()
    last_failure: Mapped[datetime] = mapped_column(default=utcnow, index=True)
