"""Which mail store holds a user's mail, and what a principal may do with it (seed 5.7 folders).

Services take the `MailUser` (the API resolves `userIdOrEmail` with `find_user` at its edge, pages know
their user) and check access here: `capabilities` is the one answer to "may this principal read /
release / delete / allow for this mailbox", `require_*` turn it into 404 / 403."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
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
from ..words import Message, _l
from . import listing, platforms
from .principal import Principal


def find_user(value: str) -> MailUser:
    """The user named by a public id or an address, whoever asks (callers check access)."""
    user = (db.session.scalar(select(MailUser).where(MailUser.email == value.lower())) if "@" in value
            else db.session.get(MailUser, ids.in_body(value)))
    if user is None:
        raise NotFound(_l("The user does not exist."))
    return user


QUARANTINE = "Quarantine"


def check_folder(path: str, field: str = "folderPath") -> str:
    """A folder path as the stores take it: no control characters, no empty, `.` or `..` segment."""
    if not path or len(path) > 500 or any(ord(c) < 32 or ord(c) == 127 for c in path) or any(
            part in ("", ".", "..") for part in path.split("/")):
        raise Invalid.on(field, _l("Not a folder name."))
    return path


@dataclass(frozen=True)
class Capabilities:
    """What a principal may do with a mailbox's mail: the one answer the pages show and the services check.

    A mailbox user acts on their own mail as their domain grants (`Domain.grants`); an administrator as
    the permissions held on the user's domain."""

    visible: bool = False  # sees the user at all: a refusal is a 403, not a 404
    read_quarantine: bool = False  # QUARANTINE_VIEW / QUARANTINE_READ
    read_folders: bool = False  # FOLDERS_VIEW / QUARANTINE_READ
    release: bool = False  # QUARANTINE_RELEASE (granted, or held)
    delete: bool = False  # remove held messages: the owner who reads them, an admin who may release
    rules: bool = False  # allow / block senders on the user's list: WBLIST_EDIT / FILTER_EDIT
    domain_rules: bool = False  # ... on the domain's list: FILTER_EDIT (administrators only)
    send: bool = False  # write mail as the user: SEND_MAIL / IMPERSONATE
    source: bool = False  # download a raw message: the owner only

    def reads(self, folder: str | None) -> bool:
        """Whether `folder` may be read (None: any of the user's mail)."""
        if folder is None:
            return self.read_quarantine or self.read_folders
        return self.read_quarantine if folder == QUARANTINE else self.read_folders


def capabilities(principal: Principal, user: MailUser) -> Capabilities:
    if principal.user is not None:
        if principal.user.id != user.id:
            return Capabilities()
        domain = user.domain
        quarantine = domain.grants(EndUserPermission.QUARANTINE_VIEW)
        return Capabilities(
            visible=True, read_quarantine=quarantine, read_folders=domain.grants(EndUserPermission.FOLDERS_VIEW),
            release=quarantine and domain.grants(EndUserPermission.QUARANTINE_RELEASE), delete=quarantine,
            rules=domain.grants(EndUserPermission.WBLIST_EDIT), send=domain.grants(EndUserPermission.SEND_MAIL),
            source=True)

    def holds(permission: Permission) -> bool:
        return principal.holds_on(permission, ObjectType.DOMAIN, user.domain_id)

    read, release, filters = (holds(Permission.QUARANTINE_READ), holds(Permission.QUARANTINE_RELEASE),
                              holds(Permission.FILTER_EDIT))
    return Capabilities(visible=holds(Permission.USER_READ) or read or release, read_quarantine=read,
                        read_folders=read, release=release, delete=release, rules=filters, domain_rules=filters,
                        send=holds(Permission.IMPERSONATE))


def _require(principal: Principal, user: MailUser, allowed: bool, *, need: Permission, refused: Message) -> None:
    """404 unless the principal sees the user, 403 unless `allowed` (`refused` for a mailbox user)."""
    if allowed:
        return
    if principal.user is not None:
        if principal.user.id == user.id:
            raise Forbidden(refused)
        raise NotFound(_l("The user does not exist."))
    principal.reach(user.domain_id, need, seen_with=Permission.USER_READ, missing=_l("The user does not exist."))
    # held as USER_READ only: reach passed on `need`
    raise Forbidden(_l("You need the %(permission)s permission on this domain.", permission=need))


def require_read(principal: Principal, user: MailUser, folder: str | None = None) -> Capabilities:
    """The principal may read the user's mail (in `folder`): a mailbox user the quarantine with
    QUARANTINE_VIEW and the other folders with FOLDERS_VIEW, an administrator with QUARANTINE_READ."""
    if folder is not None:
        check_folder(folder)
    caps = capabilities(principal, user)
    _require(principal, user, caps.reads(folder), need=Permission.QUARANTINE_READ,
             refused=_l("Your domain does not let you read this mail here."))
    return caps


def require_release(principal: Principal, user: MailUser, folder: str) -> None:
    """A release: an administrator needs QUARANTINE_RELEASE (reading is implied); a mailbox
    user reads `folder` and has QUARANTINE_RELEASE granted."""
    check_folder(folder)
    caps = capabilities(principal, user)
    if principal.user is not None:
        require_read(principal, user, folder)
    _require(principal, user, caps.release, need=Permission.QUARANTINE_RELEASE,
             refused=_l("Your domain does not let you release messages."))


def require_delete(principal: Principal, user: MailUser) -> None:
    """Removing held messages (after `require_read`): the owner, an administrator who may release."""
    _require(principal, user, capabilities(principal, user).delete, need=Permission.QUARANTINE_RELEASE,
             refused=_l("Your domain does not let you delete messages."))


def open_store(user: MailUser, *, timeout: float | None = None, pooled: bool | None = None) -> MailStore:
    """The user's store, not yet connected (the caller closes it): the IMAP server of its platform (apiType
    IMAP) or the local Maildir tree. `timeout`: the deadline of one operation (default POSTERN_IMAP_TIMEOUT);
    `pooled`: keep the connection for reuse (default: when POSTERN_IMAP_POOL_SIZE > 0)."""
    platform = user.platform or user.domain.default_platform
    if platform is not None and platform.api_type == "IMAP" and platform.api_data:
        data = platform.api_data
        login = data.get("login") or ""
        return ImapStore(
            data["host"], int(data.get("port") or (993 if data.get("useSsl") else 143)),
            f"{user.email}*{login}" if login else user.email, platforms.secret(data, "password") or "",
            use_ssl=bool(data.get("useSsl")),
            timeout=float(timeout if timeout is not None else current_app.config.get("IMAP_TIMEOUT", 10)),
            cadata=data.get("certPem"),
            pooled=int(current_app.config["IMAP_POOL_SIZE"]) > 0 if pooled is None else pooled)
    return MaildirStore(maildir_root(Path(current_app.config["MAIL_ROOT"]), user.email))


@contextmanager
def store_for(user: MailUser) -> Iterator[MailStore]:
    """The user's store for one request: the IMAP server of its platform (apiType IMAP) or the local Maildir tree."""
    store = open_store(user)
    try:
        yield store
    finally:
        store.close()


def folders(principal: Principal, user: MailUser, parent: str | None, *, stats: bool) -> list[Folder]:
    require_read(principal, user)
    if parent:
        check_folder(parent, "path")
    with store_for(user) as store:
        return store.folders(parent, stats=stats)


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
        errors.append(FieldError("sort", _l("Sort by one of: %(choices)s (prefix - to reverse).",
                                            choices=", ".join(MESSAGE_SORTS))))
    operator = (args.get("operator") or "AND").upper()
    if operator not in OPERATORS:
        errors.append(FieldError("operator", _l("Must be one of: %(choices)s.", choices="AND, OR, NOT")))
    dates: dict[str, datetime | None] = {}
    for name in ("receivedAfter", "receivedBefore"):
        raw = args.get(name)
        dates[name] = None
        if raw:
            try:
                dates[name] = from_ms(int(raw))
            except (ValueError, OverflowError, OSError):
                errors.append(FieldError(name, _l("Give a date in epoch milliseconds.")))
    texts: dict[str, str | None] = {}
    for name in ("from", "to", "cc", "subject", "body", "id"):
        value = args.get(name) or None
        if value is not None and (len(value) > 255 or any(ord(c) < 32 for c in value)):
            errors.append(FieldError(name, _l("Must be at most 255 printable characters.")))
        texts[name] = value
    reason = (args.get("reason") or "").upper() or None
    if reason is not None and reason not in REASONS:
        errors.append(FieldError("reason", _l("Must be one of: %(choices)s.", choices=", ".join(REASONS))))
    if errors:
        raise Invalid(_l("Invalid search."), errors)
    search = Search(reason=reason, received_after=dates["receivedAfter"], received_before=dates["receivedBefore"],
                    sender=texts["from"], to=texts["to"], cc=texts["cc"], subject=texts["subject"],
                    body=texts["body"], id=texts["id"], operator=operator)
    return search, sort, offset, page_size


def messages(principal: Principal, user: MailUser, folder: str, args: Mapping[str, str]
             ) -> tuple[list[Summary], int]:
    require_read(principal, user, folder)
    search, sort, offset, limit = search_from(args)
    with store_for(user) as store:
        return store.messages(folder, search, sort, offset, limit)
