"""The mail servers Postern talks to (seeds 000, 002, 003): the SMTP server its own mail leaves through,
and POP3 / IMAP servers kept and checked the same way."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class MailServer(db.Model):
    """One server's settings; `password` and `oauth_client_secret` are encrypted (portal.crypto).

    At most one SMTP server is enabled (a partial unique index): it is the one in use. The last check is
    kept with the server; `check_started_at` is the claim that rate-limits checks across processes."""

    __tablename__ = "mail_servers"
    __table_args__ = (
        Index("uq_mail_servers_enabled_smtp", "protocol", unique=True,
              sqlite_where=text("enabled AND protocol = 'SMTP'"),
              postgresql_where=text("enabled AND protocol = 'SMTP'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    remark: Mapped[str | None] = mapped_column(String(1024))
    protocol: Mapped[str] = mapped_column(String(8), index=True)  # SMTP | POP3 | IMAP
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int]
    security: Mapped[str] = mapped_column(String(8))  # NONE | SSL_TLS | STARTTLS
    certificate: Mapped[str] = mapped_column(String(8), default="DEFAULT")  # DEFAULT | CUSTOM
    certificate_pem: Mapped[str | None] = mapped_column(Text)
    auth: Mapped[str] = mapped_column(String(20), default="NO_AUTH")  # NO_AUTH | USERNAME_PASSWORD | OAUTH2
    username: Mapped[str | None] = mapped_column(String(320))
    password: Mapped[str | None] = mapped_column(Text)  # encrypted
    oauth_tenant_id: Mapped[str | None] = mapped_column(String(255))
    oauth_client_id: Mapped[str | None] = mapped_column(String(255))
    oauth_client_secret: Mapped[str | None] = mapped_column(Text)  # encrypted
    oauth_token_url: Mapped[str | None] = mapped_column(String(2048))
    oauth_scope: Mapped[str | None] = mapped_column(String(1024))
    sender_name: Mapped[str | None] = mapped_column(String(255))
    sender_address: Mapped[str | None] = mapped_column(String(320))
    subject_prefix: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    check_started_at: Mapped[datetime | None] = mapped_column()
    checked_at: Mapped[datetime | None] = mapped_column()
    check_ok: Mapped[bool | None] = mapped_column()
    check_stage: Mapped[str | None] = mapped_column(String(16))
    check_message: Mapped[str | None] = mapped_column(String(1024))  # English; pages translate it
    check_transcript: Mapped[list[str] | None] = mapped_column(JSON)  # secrets redacted
