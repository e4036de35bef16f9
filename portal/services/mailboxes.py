"""Which mail store holds a user's mail, and who may read it (seed 5.7 folders)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from .. import ids
from ..clock import from_ms
from ..errors import FieldError, Forbidden, Invalid, NotFound
from ..extensions import db
from ..integrations.mailstore import Folder, ImapStore, MaildirStore, MailStore, Search, Summary, maildir_root
from ..models import MailUser
from ..permissions import EndUserPermission, ObjectType, Permission
from . import listing, platforms
from .principal import Principal


def find_user(value: str) -> MailUser:
    """The user named by a public id or an address, whoever asks (callers check access)."""
    user = (db.session.scalar(select(MailUser).where(MailUser.email == value.lower())) if "@" in value
            else db.session.get(MailUser, ids.in_body(value)))
    if user is None:
        raise NotFound("The user does not exist.")
    return user


QUARANTINE = "Quarantine"


def check_folder(path: str, field: str = "folderPath") -> str:
    """A folder path as the stores take it: no control characters, no empty, `.` or `..` segment."""
    if not path or len(path) > 500 or any(ord(c) < 32 or ord(c) == 127 for c in path) or any(
            part in ("", ".", "..") for part in path.split("/")):
        raise Invalid.on(field, "Not a folder name.")
    return path


def user_by_id_or_email(principal: Principal, value: str, *, release: bool = False,
                        folder: str | None = None) -> MailUser:
    """The user named by a public id or an address, if the principal may read their mail (in `folder`).

    A mailbox user reads the quarantine with QUARANTINE_VIEW and the other folders with FOLDERS_VIEW."""
    user = find_user(value)
    if folder is not None:
        check_folder(folder)
    if principal.user is not None:
        granted = set(user.domain.end_user_permissions.split())
        if principal.user.id != user.id:
            raise NotFound("The user does not exist.")
        if folder is None:
            needed = {str(EndUserPermission.QUARANTINE_VIEW), str(EndUserPermission.FOLDERS_VIEW)}
        elif folder == QUARANTINE:
            needed = {str(EndUserPermission.QUARANTINE_VIEW)}
        else:
            needed = {str(EndUserPermission.FOLDERS_VIEW)}
        if not granted & needed:
            raise Forbidden("Your domain does not let you read this mail here.")
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
            use_ssl=bool(data.get("useSsl")), timeout=float(current_app.config.get("IMAP_TIMEOUT", 10)),
            cadata=data.get("certPem"), pooled=int(current_app.config["IMAP_POOL_SIZE"]) > 0)
    else:
        store = MaildirStore(maildir_root(Path(current_app.config["MAIL_ROOT"]), user.email))
    try:
        yield store
    finally:
        store.close()


def folders(principal: Principal, user_ref: str, parent: str | None, *, stats: bool) -> tuple[MailUser, list[Folder]]:
    user = user_by_id_or_email(principal, user_ref)
    if parent:
        check_folder(parent, "path")
    with store_for(user) as store:
        return user, store.folders(parent, stats=stats)


MESSAGE_SORTS = ("sentDate", "receivedDate", "subject", "from", "size")
OPERATORS = ("AND", "OR", "NOT")
REASONS = ("SPAM", "VIRUS", "ADVERT", "BLACKLISTED", "SENDER_VERIFY", "BAD_HEADERS", "BAD_ENCODING",
           "BAD_ATTACHMENTS")  # X-Quarantine-Reason values of the data-plane contract


def search_from(args: Mapping[str, str]) -> tuple[Search, str, int, int]:
    """Folder-content parameters (seed 5.7.8); every bad one named in a 400."""
    errors: list[FieldError] = []
    try:
        offset, page_size = listing.paging(args, current_app.config["API_MAX_PAGE_SIZE"])
    except Invalid as error:
        errors.extend(error.errors)
        offset, page_size = 0, listing.DEFAULT_PAGE_SIZE
    sort = args.get("sort") or "-sentDate"
    if sort.lstrip("-") not in MESSAGE_SORTS:
        errors.append(FieldError("sort", f"Sort by one of: {', '.join(MESSAGE_SORTS)} (prefix - to reverse)."))
    operator = (args.get("operator") or "AND").upper()
    if operator not in OPERATORS:
        errors.append(FieldError("operator", "Must be AND, OR or NOT."))
    dates: dict[str, datetime | None] = {}
    for name in ("receivedAfter", "receivedBefore"):
        raw = args.get(name)
        dates[name] = None
        if raw:
            try:
                dates[name] = from_ms(int(raw))
            except (ValueError, OverflowError, OSError):
                errors.append(FieldError(name, "Give a date in epoch milliseconds."))
    texts: dict[str, str | None] = {}
    for name in ("from", "to", "cc", "subject", "body", "id"):
        value = args.get(name) or None
        if value is not None and (len(value) > 255 or any(ord(c) < 32 for c in value)):
            errors.append(FieldError(name, "At most 255 printable characters."))
        texts[name] = value
    reason = (args.get("reason") or "").upper() or None
    if reason is not None and reason not in REASONS:
        errors.append(FieldError("reason", f"One of: {', '.join(REASONS)}."))
    if errors:
        raise Invalid("Invalid search.", errors)
    search = Search(reason=reason, received_after=dates["receivedAfter"], received_before=dates["receivedBefore"],
                    sender=texts["from"], to=texts["to"], cc=texts["cc"], subject=texts["subject"],
                    body=texts["body"], id=texts["id"], operator=operator)
    return search, sort, offset, page_size


def messages(principal: Principal, user_ref: str, folder: str, args: Mapping[str, str]
             ) -> tuple[MailUser, list[Summary], int]:
    user = user_by_id_or_email(principal, user_ref, folder=folder)
    search, sort, offset, limit = search_from(args)
    with store_for(user) as store:
        found, total = store.messages(folder, search, sort, offset, limit)
    return user, found, total
