"""Seed 5.7 Emails: folders (the messages, release and send come with the rest of the quarantine issue)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, request

from .. import ids
from ..integrations.mailstore import Folder
from ..models import MailUser
from ..schemas.emails import ImapFolderOut
from ..services import mailboxes
from .framework import Access, QueryParam, endpoint, json_response, principal

FIELDS = QueryParam("fields", "STATS adds messageCount and unreadMessageCount",
                    schema={"type": "string", "enum": ["STATS"]})
ERRORS = {404: "The user does not exist.", 503: "Unable to connect to the mail server"}


def _folder(user: MailUser, folder: Folder) -> ImapFolderOut:
    base = f"/api/users/{ids.encode(user.id)}/emails"
    path = quote(folder.path, safe="/")
    return ImapFolderOut(
        name=folder.name, path=folder.path, unread_message_count=folder.unseen, message_count=folder.messages,
        messages_uri=f"{base}/{path}", children_uri=f"{base}/folders/{path}" if folder.has_children else None,
    )


def _list(user_ref: str, parent: str | None) -> Response:
    stats = "STATS" in request.args.get("fields", "").upper().split(",")
    user, found = mailboxes.folders(principal(), user_ref, parent, stats=stats)
    return json_response([_folder(user, f) for f in found])


@endpoint("/users/<userIdOrEmail>/emails/folders", "GET", access=Access.AUTHENTICATED, tag="Emails",
          summary="Get folders", response=list[ImapFolderOut], query=(FIELDS,), errors=ERRORS)
def get_folders(userIdOrEmail: str) -> Response:
    return _list(userIdOrEmail, None)


@endpoint("/users/<userIdOrEmail>/emails/folders/<path:path>", "GET", access=Access.AUTHENTICATED, tag="Emails",
          summary="Get sub-folders", response=list[ImapFolderOut], query=(FIELDS,), errors=ERRORS)
def get_subfolders(userIdOrEmail: str, path: str) -> Response:
    return _list(userIdOrEmail, path.strip("/"))
