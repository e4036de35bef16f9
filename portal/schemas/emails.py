"""Schemas of seed section 5.7 Emails (model 6.33 ImapFolder)."""

from __future__ import annotations

from pydantic import Field

from .common import ApiModel, Email, Name, OutModel, SafeStr


class ImapFolderOut(OutModel):
    name: str
    path: str
    unread_message_count: int | None
    message_count: int | None
    messages_uri: str
    children_uri: str | None


class ImapMessageOut(OutModel):
    headers: dict[str, str]
    attachments: list[dict[str, object]]  # AttachmentOut fields; empty in lists
    id: str
    uri: str
    seen: bool
    answered: bool
    recent: bool
    deleted: bool
    has_attachments: bool
    important: bool
    sent_date: int | None
    subject: str
    from_: str = Field(alias="from")
    to: list[str]
    cc: list[str]
    bcc: list[str]
    size: int
    released: bool = Field(description="Delivered by a release (Postern extension)")


class AttachmentOut(OutModel):
    id: str
    filename: str
    content_type: str
    size: int
    uri: str


class ImapMessageContentOut(ImapMessageOut):
    content: str | None = None
    source: str | None = None


class ImapMessageAttachmentList(OutModel):
    attachments: list[AttachmentOut]
    uri: str
    count: int


class Sign(OutModel):
    """Seed 6.57: the HTML signature encoded in base64."""

    sign: str


class SignIn(ApiModel):
    sign: str = Field(max_length=40000, description="HTML in base64")


class SmtpMessageAttachmentIn(ApiModel):
    """Seed 6.59: a file sent first with POST /emails/attachments."""

    name: Name
    uid: str = Field(min_length=1, max_length=64)


class SmtpMessageIn(ApiModel):
    """Seed 6.58: a mail sent by the user."""

    to: list[Email] = Field(default_factory=list, max_length=100)
    cc: list[Email] = Field(default_factory=list, max_length=100)
    bcc: list[Email] = Field(default_factory=list, max_length=100)
    body: str | None = Field(default=None, max_length=900_000, description="HTML content")
    subject: SafeStr | None = Field(default=None, max_length=998)
    attachments: list[SmtpMessageAttachmentIn] = Field(default_factory=list, max_length=50)
    draft_id: SafeStr | None = Field(default=None, max_length=320)
    origin_id: SafeStr | None = Field(default=None, max_length=320)
    ack: bool = False
    important: bool = False


class SentOut(OutModel):
    message_id: str
    recipients: int


class AttachmentFileOut(OutModel):
    """Seed 6.8."""

    uid: str
    name: str
    uri: str
    type: str
    size: int
