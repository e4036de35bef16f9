"""Domain-wide quarantine search (issue 15), a Postern extension."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import ApiModel, EpochMillis, OutModel


class QuarantineSearchIn(ApiModel):
    domain_id: str | None = Field(None, max_length=64, description="One domain; without it, every domain the "
                                  "caller holds QUARANTINE_READ on")
    sender: str | None = Field(None, max_length=255, description="A part of the From header")
    recipient: str | None = Field(None, max_length=255, description="A part of the To header")
    subject: str | None = Field(None, max_length=255, description="A part of the subject")
    message_id: str | None = Field(None, max_length=255, description="A part of the Message-ID header")
    fuglu_id: str | None = Field(None, max_length=255, description="A part of the quarantine id (X-Fuglu-Id)")
    reason: str | None = Field(None, max_length=32, description="SPAM, VIRUS, ADVERT, BLACKLISTED, SENDER_VERIFY, "
                               "BAD_HEADERS, BAD_ENCODING or BAD_ATTACHMENTS")
    received_after: EpochMillis | None = Field(None, description="Arrived on or after this day (default: 30 days "
                                               "before receivedBefore)")
    received_before: EpochMillis | None = Field(None, description="Arrived before this day (default: now); the "
                                                "range may span at most POSTERN_QSEARCH_MAX_DAYS (93) days")


class SearchCriteriaOut(OutModel):
    sender: str | None = None
    recipient: str | None = None
    subject: str | None = None
    message_id: str | None = None
    fuglu_id: str | None = None
    reason: str | None = None
    received_after: EpochMillis
    received_before: EpochMillis


class FailedMailboxOut(OutModel):
    mailbox: str = Field(description="The mailbox address whose store failed")
    why: str


class QuarantineSearchOut(OutModel):
    id: str
    state: Literal["RUNNING", "DONE", "CANCELLED"]
    mailboxes_done: int
    mailboxes_total: int
    hits_total: int = Field(description="Hits kept (at most POSTERN_QSEARCH_MAX_HITS)")
    truncated: bool = Field(description="More messages matched than were kept: narrow the search")
    failed: list[FailedMailboxOut]
    domain_id: str | None = None
    criteria: SearchCriteriaOut
    created_at: EpochMillis
    finished_at: EpochMillis | None = None
    expires_at: EpochMillis = Field(description="The result is deleted then")


class QuarantineHitOut(OutModel):
    user: str = Field(description="The mailbox address")
    user_id: str | None = Field(None, description="The mailbox user's id (GET /api/users/{userId}/emails/...)")
    folder: str
    id: str = Field(description="The message's id in that folder (quarantine id, Message-ID or store key)")
    from_: str = Field(alias="from")
    subject: str
    sent_date: EpochMillis | None = None
    reason: str
