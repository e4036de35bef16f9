"""Message tracking (issue 17, item 5): what the Postfix log says of each message, indexed for searches.

Postfix re-uses queue ids over time, so a message is a queue id *and* the time it was first seen: a queue id's
steps attach to its message still open (no `removed` step yet); a step after `removed` starts a new one. Nothing
is unique but the row id: that a log line is indexed once is the log position's claim (`LogPosition`), and a
hostile log that re-uses a queue id within a second must not stop the indexer.
Addresses are stored lower-case (the searches compare lower-case text, so the indexes serve them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class TrackedMessage(db.Model):
    __tablename__ = "tracked_messages"
    __table_args__ = (
        Index("ix_tracked_messages_received_at", "received_at"),
        Index("ix_tracked_messages_sender", "sender", "received_at"),
        Index("ix_tracked_messages_message_id", "message_id"),
        Index("ix_tracked_messages_open", "queue_id", "closed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column()  # the first step seen
    last_at: Mapped[datetime] = mapped_column()  # the last step seen
    sender: Mapped[str | None] = mapped_column(String(320))
    message_id: Mapped[str | None] = mapped_column(String(500))
    client: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    nrcpt: Mapped[int | None] = mapped_column()
    status: Mapped[str | None] = mapped_column(String(16))  # the last delivery status: sent, deferred, bounced…
    closed: Mapped[bool] = mapped_column(default=False)  # Postfix removed it: its queue id may come back


class TrackingEvent(db.Model):
    __tablename__ = "tracking_events"
    __table_args__ = (
        Index("ix_tracking_events_message", "message_id", "at"),
        Index("ix_tracking_events_recipient", "recipient", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("tracked_messages.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16))  # see portal.integrations.maillog.Entry
    recipient: Mapped[str | None] = mapped_column(String(320))
    relay: Mapped[str | None] = mapped_column(String(255))
    dsn: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str | None] = mapped_column(String(16))
    delay: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(Text)  # the remote answer, or the filter's reason


class LogPosition(db.Model):
    """How far the indexer has read a log file: (inode, offset). The row is the indexers' claim: it is locked
    while a chunk is indexed, and its offset moves only from the value read (services/tracking.py)."""

    __tablename__ = "log_positions"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(1000), unique=True)
    inode: Mapped[int | None] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
