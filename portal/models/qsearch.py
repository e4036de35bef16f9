"""Domain-wide quarantine searches (issue 15): the search, its hits and the mailboxes whose store failed.

A search belongs to the administrator who started it (`admin_id`); its rows expire (`expires_at`) and the
maintenance job deletes them. Hits and progress are written by the search job mailbox by mailbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db

RUNNING, DONE, CANCELLED = "RUNNING", "DONE", "CANCELLED"


class QuarantineSearch(db.Model):
    __tablename__ = "quarantine_searches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, public
    admin_id: Mapped[int] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON)
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default=RUNNING)
    mailboxes_total: Mapped[int] = mapped_column(default=0)
    mailboxes_done: Mapped[int] = mapped_column(default=0)
    hits_total: Mapped[int] = mapped_column(default=0)
    truncated: Mapped[bool] = mapped_column(default=False)  # the cap on hits was reached
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)


class QuarantineSearchHit(db.Model):
    __tablename__ = "quarantine_search_hits"
    __table_args__ = (Index("ix_quarantine_search_hits_search", "search_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    search_id: Mapped[str] = mapped_column(ForeignKey("quarantine_searches.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column()
    user_email: Mapped[str] = mapped_column(String(320))
    folder: Mapped[str] = mapped_column(String(255))
    message_key: Mapped[str] = mapped_column(String(998))  # the id the message page takes
    sender: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    sent_date: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str] = mapped_column(String(32), default="")


class QuarantineSearchFailure(db.Model):
    __tablename__ = "quarantine_search_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    search_id: Mapped[str] = mapped_column(ForeignKey("quarantine_searches.id", ondelete="CASCADE"), index=True)
    mailbox: Mapped[str] = mapped_column(String(320))
    why: Mapped[str] = mapped_column(Text)
