"""An administrator's view of a mailbox user's quarantine (QUARANTINE_READ to look, QUARANTINE_RELEASE to
release or delete, FILTER_EDIT to allow or block senders): the user's pages, under /admin."""

from __future__ import annotations

from flask import Response, request

from ... import ids
from ...models import MailUser
from ...services import mailboxes, wblist
from .. import quarantine_pages as pages
from ..session import current_principal
from .blueprint import bp


def _user(user_id: str) -> MailUser:
    """The user, if the admin may read their quarantine (403 with USER_READ only, 404 otherwise)."""
    ids.decode(user_id)  # a malformed id is a 404
    user = mailboxes.find_user(user_id)
    mailboxes.require_read(current_principal(), user, mailboxes.QUARANTINE)
    return user


def _where(user: MailUser, user_id: str) -> pages.Where:
    return pages.Where("admin.user_quarantine", mailboxes.capabilities(current_principal(), user),
                       {"user_id": user_id}, admin_view=user.email)


@bp.get("/admin/users/<user_id>/quarantine")
def user_quarantine(user_id: str) -> Response:
    user = _user(user_id)
    return pages.list_page(current_principal(), user, _where(user, user_id))


@bp.get("/admin/users/<user_id>/quarantine/message")
def user_quarantine_message(user_id: str) -> Response:
    user = _user(user_id)
    return pages.message_page(current_principal(), user, _where(user, user_id))


@bp.get("/admin/users/<user_id>/quarantine/attachment")
def user_quarantine_attachment(user_id: str) -> Response:
    user = _user(user_id)
    return pages.attachment_download(current_principal(), user, _where(user, user_id))


@bp.get("/admin/users/<user_id>/quarantine/source")
def user_quarantine_source(user_id: str) -> Response:
    return pages.source_download(current_principal(), _user(user_id))  # the owner's only: a 404 here


@bp.post("/admin/users/<user_id>/quarantine/release")
def user_quarantine_release(user_id: str) -> Response:
    user = _user(user_id)
    return pages.release_action(current_principal(), user, _where(user, user_id))


@bp.post("/admin/users/<user_id>/quarantine/bulk")
def user_quarantine_bulk(user_id: str) -> Response:
    """Bulk actions; allow / block rules go to the user's list, or the domain's with scope=domain."""
    user = _user(user_id)
    owner = wblist.domain_owner(current_principal(), user.domain_id, write=True) \
        if request.form.get("scope") == "domain" else None
    return pages.bulk_action(current_principal(), user, _where(user, user_id), owner)
