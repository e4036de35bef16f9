"""Links sent by mail (login, password setup and reset, the digest's one-click actions): single-use,
expiring, bound to one purpose, one account and (for a digest action) one message; only the digest of
the token is stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class LinkToken(db.Model):
    __tablename__ = "link_tokens"
    __table_args__ = (
        CheckConstraint("(admin_id IS NULL) <> (user_id IS NULL)", name="one_account"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(24))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str | None] = mapped_column(String(512))  # what the action is about: folder/message key
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None] = mapped_column()
