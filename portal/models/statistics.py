"""Daily statistics (issue 15): counts per domain and day, and the busiest senders."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class StatCount(db.Model):
    """How many of `kind` (held, released, deleted, rule_added, digest_sent) a domain had on `day`, per `key`
    (the quarantine reason of held mail, the rule type of rules; empty otherwise). One row per (domain, day,
    kind, key): concurrent events add up through an upsert (`services/statistics.count`)."""

    __tablename__ = "stat_counts"
    __table_args__ = (UniqueConstraint("domain_id", "day", "kind", "key"), Index("ix_stat_counts_day", "day"))

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(32), default="")
    count: Mapped[int] = mapped_column(default=0)


class StatSender(db.Model):
    """How many messages of a sender a domain held or released on `day`; the collection job keeps only the
    busiest POSTERN_STATS_TOP_SENDERS senders per domain, day and kind."""

    __tablename__ = "stat_senders"
    __table_args__ = (UniqueConstraint("domain_id", "day", "kind", "sender"), Index("ix_stat_senders_day", "day"))

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(254))
    count: Mapped[int] = mapped_column(default=0)
