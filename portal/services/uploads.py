"""Files uploaded to be attached to a mail (seed 5.7.1, 5.7.4, 5.7.11).

A file belongs to whoever uploaded it (a mailbox user or an administrator) and nobody else sees it;
its size is bounded by the uploader's policy (`mailSizeLimit`, in MB) or, for administrators, by
POSTERN_UPLOAD_MAX_BYTES. Files leave the database when the mail that carries them is sent, or after
POSTERN_UPLOAD_TTL_HOURS.
"""

from __future__ import annotations

import mimetypes
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import IO

from flask import current_app
from sqlalchemy import ColumnElement, delete, func, select

from ..clock import utcnow
from ..errors import Forbidden, Invalid, NotFound, PayloadTooLarge
from ..extensions import db
from ..models import MailUser, Upload
from ..permissions import EndUserPermission
from ..words import _l
from .messages import safe_filename
from .principal import Principal

MAX_PENDING = 50  # files waiting per owner
PENDING_FACTOR = 2  # bytes waiting per owner: at most twice the largest mail they may send
_CONTENT_TYPE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789!#$&^_.+-/")


def size_limit(principal: Principal) -> int:
    """The largest file (and mail) the principal may send, in bytes."""
    if principal.user is not None:
        return user_size_limit(principal.user)
    return int(current_app.config["UPLOAD_MAX_BYTES"])


def user_size_limit(user: MailUser) -> int:
    """A mailbox's policy's `mailSizeLimit` (MB) in bytes."""
    policy = user.policy or user.domain.default_policy
    return int(policy.mail_size_limit) * 1024 * 1024 if policy else int(current_app.config["UPLOAD_MAX_BYTES"])


def _owned(principal: Principal) -> ColumnElement[bool]:
    if principal.user is not None:
        return Upload.user_id == principal.user.id
    assert principal.admin is not None
    return Upload.admin_id == principal.admin.id


def _content_type(declared: str | None, name: str) -> str:
    value = (declared or "").split(";", 1)[0].strip().lower()
    if not value or "/" not in value or not set(value) <= _CONTENT_TYPE_CHARS or len(value) > 100:
        value = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return value


def store(principal: Principal, stream: IO[bytes], filename: str | None, content_type: str | None) -> Upload:
    """Keep an uploaded file; 413 when it is larger than the principal's limit."""
    name = safe_filename(filename, 1)
    if not filename or not filename.strip():
        raise Invalid.on("file", "Send the file as multipart/form-data in a field named 'file'.")
    if principal.user is not None and not principal.user.domain.grants(EndUserPermission.SEND_MAIL):
        raise Forbidden(_l("Your domain does not let you send mail from the portal, so there is nothing to attach to."))
    limit = size_limit(principal)
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(_l("The file is larger than your limit of %(size)d MB.", size=limit // (1024 * 1024)))
    count, held = db.session.execute(select(func.count(), func.coalesce(func.sum(Upload.size), 0))
                                      .where(_owned(principal))).one()
    if count >= MAX_PENDING:
        raise Invalid.on("file", _l("You already have %(num)d files waiting; send or delete some first.",
                                    num=MAX_PENDING))
    if held + len(data) > PENDING_FACTOR * limit:  # what waits is bounded too, not only each file
        raise PayloadTooLarge(_l("Your waiting files would exceed %(size)d MB; send or delete some first.",
                                 size=PENDING_FACTOR * limit // (1024 * 1024)))
    upload = Upload(uid=secrets.token_hex(16), name=name, content_type=_content_type(content_type, name),
                    size=len(data), data=data,
                    user_id=principal.user.id if principal.user else None,
                    admin_id=principal.admin.id if principal.user is None and principal.admin else None)
    db.session.add(upload)
    db.session.flush()
    return upload


def get(principal: Principal, uid: str, filename: str | None = None) -> Upload:
    """One of the principal's files; someone else's, a wrong name or a malformed uid is a 404."""
    if len(uid) != 32 or not all(c in "0123456789abcdef" for c in uid):
        raise NotFound(_l("No such file."))
    upload = db.session.scalar(select(Upload).where(Upload.uid == uid, _owned(principal)))
    if upload is None or (filename is not None and filename != upload.name):
        raise NotFound(_l("No such file."))
    return upload


def remove(principal: Principal, uid: str, filename: str) -> None:
    db.session.delete(get(principal, uid, filename))


def take(principal: Principal, uids: Sequence[str], field: str) -> list[Upload]:
    """The files a mail refers to, each checked; a missing one is a 400 naming its place."""
    found = []
    for i, uid in enumerate(uids):
        try:
            found.append(get(principal, uid))
        except NotFound as exc:
            raise Invalid.on(f"{field}[{i}].uid", _l("No such uploaded file (already sent, expired or not yours).")) \
                from exc
    return found


def purge_expired(now: datetime | None = None) -> int:
    """Delete the files older than the time to live; returns how many."""
    hours = int(current_app.config["UPLOAD_TTL_HOURS"])
    cutoff = (now or utcnow()) - timedelta(hours=hours)
    result = db.session.execute(delete(Upload).where(Upload.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
