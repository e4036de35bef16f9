"""Files uploaded to be attached to a mail, the audit trail of administrators, failed jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
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
    """Who did what, on what, from where: an administrator's write (pages and API), its read of a user's
    mail, and "view as" (its start, end and every change made as the user). See `services/audit.py`."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_actor_at", "actor", "at"),)  # the trail of one administrator

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))  # the admin's login
    action: Mapped[str] = mapped_column(String(64))  # IMPERSONATE_START, MAIL_READ, or the view's name
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    target: Mapped[str] = mapped_column(String(320))  # what it was about, readable (kept when it is gone)
    detail: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str] = mapped_column(String(8), default="", server_default="")  # of the request
    route: Mapped[str] = mapped_column(String(255), default="", server_default="")  # its URL rule
    client: Mapped[str] = mapped_column(String(64), default="", server_default="")  # the client's address


class JobFailure(db.Model):
    """A job run in-process (no Redis) that raised: shown to system administrators until dismissed.
    (With RQ, failed jobs are in RQ's own failed-job registry.)"""

    __tablename__ = "job_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    function: Mapped[str] = mapped_column(String(255))
    arguments: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
