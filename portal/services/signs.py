"""HTML signatures of mailbox users (seed 5.16), base64 on the wire, sanitized when saved.

Only accounts with a quarantine, retention or archive service have one (400 otherwise, as the seed
says). Admins need USER_EDIT (USER_READ to read); a mailbox user edits their own when the domain
grants SIGN_EDIT.
"""

from __future__ import annotations

import base64

from ..errors import Forbidden, Invalid, NotFound
from ..extensions import db
from ..models import MailUser
from ..permissions import EndUserPermission, Permission
from ..safe_html import clean_signature
from ..words import _l
from . import users
from .principal import Principal

MAX_BYTES = 20000


def _user(principal: Principal, user_pk: int, *, write: bool) -> MailUser:
    if principal.user is not None:
        user = db.session.get(MailUser, user_pk)
        if user is None or user.id != principal.user.id:
            raise NotFound(_l("Unknown user."))
        if not user.domain.grants(EndUserPermission.SIGN_EDIT):
            raise Forbidden(_l("Your domain does not let you edit your signature."))
    else:
        user = users.get(principal, user_pk, Permission.USER_EDIT if write else Permission.USER_READ)
    policy = user.policy or user.domain.default_policy
    if policy is None or not (policy.quarantine or policy.retention or policy.archive):
        raise Invalid(_l("The account has no quarantine, retention or archive service."))
    return user


def get(principal: Principal, user_pk: int) -> str:
    user = _user(principal, user_pk, write=False)
    return base64.b64encode((user.sign or "").encode()).decode()


def set_sign(principal: Principal, user_pk: int, encoded: str) -> str:
    user = _user(principal, user_pk, write=True)
    try:
        html = base64.b64decode(encoded, validate=True).decode("utf-8")
    except ValueError as exc:  # binascii.Error, UnicodeDecodeError, and a str that is not ASCII
        raise Invalid.on("sign", "Must be UTF-8 HTML encoded in base64.") from exc
    if len(html.encode()) > MAX_BYTES:
        raise Invalid.on("sign", _l("The signature may be at most %(num)d bytes.", num=MAX_BYTES))
    user.sign = clean_signature(html)
    db.session.flush()
    return base64.b64encode((user.sign or "").encode()).decode()


def delete(principal: Principal, user_pk: int) -> None:
    user = _user(principal, user_pk, write=True)
    user.sign = None
    db.session.flush()
