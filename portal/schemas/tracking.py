"""Message tracking (issue 17, item 5), a Postern extension: messages found in the Postfix log, with their path."""

from __future__ import annotations

from pydantic import Field

from .common import EpochMillis, OutModel


class TrackingEventOut(OutModel):
    at: EpochMillis
    kind: str = Field(description="received, cleanup (header and body checks passed), filter (a filter's action: "
                                  "reject, hold, discard, redirect…), queued, delivery, expired, notice (a bounce "
                                  "or delay notice), hold, released, requeued, removed")
    recipient: str | None = None
    relay: str | None = None
    dsn: str | None = Field(None, description="The delivery status code, e.g. 2.0.0, 4.4.1, 5.1.1")
    status: str | None = Field(None, description="For a delivery: sent, deferred, bounced or expired; for a "
                                                 "filter step: its action")
    delay: float | None = Field(None, description="Seconds from arrival to this delivery attempt")
    text: str | None = Field(None, description="The remote server's answer, or the filter's reason")


class TrackedMessageOut(OutModel):
    queue_id: str
    received_at: EpochMillis = Field(description="When the log first mentions the message")
    last_at: EpochMillis = Field(description="Its last step in the log")
    sender: str | None = Field(description="The envelope sender, lower-case (empty: the null sender <>)")
    message_id: str | None = None
    client: str | None = Field(None, description="The SMTP client (host[address]), or local")
    size: int | None = None
    nrcpt: int | None = Field(None, description="Recipients, as Postfix counted them")
    status: str | None = Field(None, description="The last delivery status: sent, deferred, bounced, expired, or "
                                                 "a filter's reject / discard")
    removed: bool = Field(description="Postfix has removed it from its queue (delivered, bounced or deleted)")
    events: list[TrackingEventOut]
