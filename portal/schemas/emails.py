"""Schemas of seed section 5.7 Emails (model 6.33 ImapFolder)."""

from __future__ import annotations

from .common import OutModel


class ImapFolderOut(OutModel):
    name: str
    path: str
    unread_message_count: int | None
    message_count: int | None
    messages_uri: str
    children_uri: str | None
