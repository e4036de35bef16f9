"""Which mail store holds a user's mail, and who may read it (seed 5.7 folders)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from .. import ids
from ..errors import Forbidden, NotFound
from ..extensions import db
from ..integrations.mailstore import Folder, ImapStore, MaildirStore, MailStore, maildir_root
from ..models import MailUser
from ..permissions import EndUserPermission, ObjectType, Permission
from . import platforms
from .principal import Principal


def user_by_id_or_email(principal: Principal, value: str, *, release: bool = False) -> MailUser:
    """The user named by a public id or an address, if the principal may read their mail."""
    user = (db.session.scalar(select(MailUser).where(MailUser.email == value.lower())) if "@" in value
            else db.session.get(MailUser, ids.in_body(value)))
    if user is None:
        raise NotFound("The user does not exist.")
    if principal.user is not None:
        granted = set(user.domain.end_user_permissions.split())
        if principal.user.id != user.id:
            raise NotFound("The user does not exist.")
        if not granted & {str(EndUserPermission.QUARANTINE_VIEW), str(EndUserPermission.FOLDERS_VIEW)}:
            raise Forbidden("Your domain does not let you read your mail here.")
        return user
    need = Permission.QUARANTINE_RELEASE if release else Permission.QUARANTINE_READ
    if principal.holds_on(need, ObjectType.DOMAIN, user.domain_id):
        return user
    if principal.holds_on(Permission.USER_READ, ObjectType.DOMAIN, user.domain_id):
        raise Forbidden(f"You need {need} on this domain.")
    raise NotFound("The user does not exist.")


@contextmanager
def store_for(user: MailUser) -> Iterator[MailStore]:
    """The user's store: the IMAP server of its platform (apiType IMAP) or the local Maildir tree."""
    platform = user.platform or user.domain.default_platform
    if platform is not None and platform.api_type == "IMAP" and platform.api_data:
        data = platform.api_data
        login = data.get("login") or ""
        store: MailStore = ImapStore(
            data["host"], int(data.get("port") or (993 if data.get("useSsl") else 143)),
            f"{user.email}*{login}" if login else user.email, platforms.secret(data, "password") or "",
            use_ssl=bool(data.get("useSsl")), timeout=float(current_app.config.get("IMAP_TIMEOUT", 10)))
    else:
        store = MaildirStore(maildir_root(Path(current_app.config["MAIL_ROOT"]), user.email))
    try:
        yield store
    finally:
        store.close()


def folders(principal: Principal, user_ref: str, parent: str | None, *, stats: bool) -> tuple[MailUser, list[Folder]]:
    user = user_by_id_or_email(principal, user_ref)
    with store_for(user) as store:
        return user, store.folders(parent, stats=stats)
