"""The gateway's Postfix mail queue (issue 17), a Postern extension."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .common import ApiModel, EpochMillis, OutModel

QueueId = Annotated[str, Field(min_length=1, max_length=64, description="A Postfix queue id")]


class QueueRecipientOut(OutModel):
    address: str
    delay_reason: str = Field("", description="Why delivery to this recipient was deferred, as Postfix says it")


class QueuedMessageOut(OutModel):
    queue_id: str
    queue_name: str = Field(description="active, deferred, hold, incoming or maildrop")
    arrival_time: EpochMillis
    size: int
    sender: str
    recipients: list[QueueRecipientOut]


class QueuedMessageDetailOut(QueuedMessageOut):
    headers: str
    body: str
    truncated: bool = Field(description="The headers or body were longer than the limit and were cut")


class QueueCountOut(OutModel):
    active: int
    deferred: int
    hold: int
    incoming: int
    maildrop: int
    total: int


class QueueIdsIn(ApiModel):
    ids: list[QueueId] = Field(min_length=1, max_length=1000, description="Queue ids (ids no longer queued are "
                                                                          "skipped and left out of the answer)")


class QueueIdsOut(OutModel):
    ids: list[str] = Field(description="The ids that were still queued and were acted on")


class ResendOut(OutModel):
    queue_id: str | None = Field(description="The new queue id Postfix gave the message (null: not seen in time)")


class BulkResendOut(OutModel):
    resent: dict[str, str | None] = Field(description="Old queue id -> new queue id (null: not seen in time)")
