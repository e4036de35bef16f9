"""Files uploaded to be attached to a mail, the audit trail of acting as someone else, failed jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class Upload(db.Model):
    """A file waiting to be attached to a mail (seed 6.8 AttachmentFile).

    Kept in the database so that every app process and worker reads it; removed once sent or after
    a time to live. Owned by the mailbox user or the administrator who uploaded it."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("admins.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AuditEvent(db.Model):
    """Who did what as whom: an administrator opening a user's portal, and what they did there."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))  # the admin's login
    action: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    target: Mapped[str] = mapped_column(String(320))  # the user's address (kept when the user is gone)
    detail: Mapped[str] = mapped_column(Text, default="")


class JobFailure(db.Model):
    """A job run in-process (no Redis) that raised: shown to system administrators until dismissed.
    (With RQ, failed jobs are in RQ's own failed-job registry.)"""

    __tablename__ = "job_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    function: Mapped[str] = mapped_column(String(255))
    arguments: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
