"""DKIM keys and diagnostics reports (issue 14)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class DkimKey(db.Model):
    """A DKIM key pair of a domain, under one selector.

    `state`: `active` (the one that signs; at most one per domain, a partial unique index), `pending` (a rotation's
    new key, prepared; it becomes active once DNS serves it), `retired` (the previous active key after a rotation;
    its DNS record may be removed once `retired_at` is past and the new key is served). The private key is PEM,
    Fernet-encrypted (`portal.crypto`); it is never answered."""

    __tablename__ = "dkim_keys"
    __table_args__ = (
        UniqueConstraint("domain_id", "selector"),
        Index("uq_dkim_keys_active", "domain_id", unique=True,
              sqlite_where=text("state = 'active'"), postgresql_where=text("state = 'active'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    selector: Mapped[str] = mapped_column(String(63))
    state: Mapped[str] = mapped_column(String(16), default="active")
    bits: Mapped[int] = mapped_column(default=2048)
    private_key_enc: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)  # base64 DER SubjectPublicKeyInfo, the p= of the TXT record
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column()
    retired_at: Mapped[datetime | None] = mapped_column()


class HealthReport(db.Model):
    """The last diagnostics of a domain or a platform (one row per entity, replaced by each run).

    `report`: the seed's shape `{"status": bool, "entries": [{"type", "result", "output": [...]}]}`.
    `failing_since`: when the entity started failing (None while it passes); a change from passing to failing
    is what notifies, once. `state`: `done`, or `running` while a job is on it (the page polls)."""

    __tablename__ = "health_reports"
    __table_args__ = (UniqueConstraint("entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(16))  # DOMAIN | PLATFORM
    entity_id: Mapped[int] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="done")
    status: Mapped[bool | None] = mapped_column()
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    performed_at: Mapped[datetime | None] = mapped_column()
    requested_at: Mapped[datetime | None] = mapped_column()
    failing_since: Mapped[datetime | None] = mapped_column()
    notified_at: Mapped[datetime | None] = mapped_column()
