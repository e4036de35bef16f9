"""Quarantine digests: one row per user and period, claimed before the mail is sent (never twice)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class DigestRun(db.Model):
    """The digest of one user for one period ("2026-11-27" daily, "2026-W48" weekly).

    `state`: sending (claimed; `claimed_at` says since when), sent, empty (nothing was held: no mail).
    `covers_until`: the listing's moment; the next digest lists what arrived after it."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("user_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    claim: Mapped[str] = mapped_column(String(32))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    covers_until: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    messages: Mapped[int] = mapped_column(default=0)
    message_id: Mapped[str | None] = mapped_column(String(255))
