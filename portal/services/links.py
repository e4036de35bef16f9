"""Links sent by mail: a login link, a password setup or reset link, a digest's one-click action.

- The token is 256 random bits (urlsafe base64, 43 characters); only its SHA-256 digest is stored.
- A link serves one purpose for one account (and, for a digest action, one message: `subject`); the URL's
  path names the purpose, and a token used under another purpose is refused like an unknown one.
- Opening a link changes nothing (`look`); the confirm page's POST uses it (`use`): the use is one
  conditional UPDATE in the request's transaction (unused, unexpired, this purpose), so of two requests at
  once only one proceeds, and a request that fails afterwards rolls the use back with everything else.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from sqlalchemy import delete, insert, select, update

from ..clock import utcnow
from ..crypto import token_digest
from ..errors import ServiceError
from ..extensions import db
from ..models import Admin, LinkToken, MailUser
from ..words import _l

TOKEN_BYTES = 32


class Purpose(StrEnum):
    LOGIN = "LOGIN"
    PASSWORD_SETUP = "PASSWORD_SETUP"
    PASSWORD_RESET = "PASSWORD_RESET"
    DIGEST_RELEASE = "DIGEST_RELEASE"
    DIGEST_RELEASE_ALLOW = "DIGEST_RELEASE_ALLOW"
    DIGEST_BLOCK = "DIGEST_BLOCK"
    DIGEST_OFF = "DIGEST_OFF"


# The path of each kind of link (the purpose is in the path: a token shown under another path is refused). They
# are built from POSTERN_BASE_URL, never from a request (jobs build them), and served by portal/web/auth.
PATHS: dict[Purpose, str] = {
    Purpose.LOGIN: "/me/link/{token}",
    Purpose.PASSWORD_SETUP: "/password/setup/{token}",
    Purpose.PASSWORD_RESET: "/password/reset/{token}",
    Purpose.DIGEST_RELEASE: "/me/digest/release/{token}",
    Purpose.DIGEST_RELEASE_ALLOW: "/me/digest/release-and-allow/{token}",
    Purpose.DIGEST_BLOCK: "/me/digest/block/{token}",
    Purpose.DIGEST_OFF: "/me/digest/off/{token}",
}


def url(purpose: Purpose, value: str) -> str:
    """The absolute URL of a link, for a mail."""
    return current_app.config["BASE_URL"] + PATHS[purpose].format(token=value)


class LinkRefused(ServiceError):
    """The link cannot be used: unknown (or for another purpose), used already, or expired. 410: it is gone."""

    status, title = 410, "Gone"


UNKNOWN = _l("This link is not valid. Ask for a new one.")
USED = _l("This link was used already. Ask for a new one.")
EXPIRED = _l("This link has expired. Ask for a new one.")


def issue(purpose: Purpose, *, user: MailUser | None = None, admin: Admin | None = None,
          subject: str | None = None, valid_for: timedelta | None = None, expires_at: datetime | None = None) -> str:
    """A new link token for the account; returns the value to put in the URL (never stored)."""
    if (user is None) == (admin is None):
        raise ValueError("a link is for one account: a user or an administrator")
    if expires_at is None:
        if valid_for is None:
            raise ValueError("a link expires: give valid_for or expires_at")
        expires_at = utcnow() + valid_for
    value = secrets.token_urlsafe(TOKEN_BYTES)
    db.session.add(LinkToken(digest=token_digest(value), purpose=str(purpose), user_id=user.id if user else None,
                             admin_id=admin.id if admin else None, subject=subject, expires_at=expires_at))
    return value


def issue_many(user: MailUser, wanted: list[tuple[Purpose, str | None, datetime]]) -> list[str]:
    """Many link tokens for one user at once, (purpose, subject, expires_at) each, in one INSERT (a digest writes
    ~30: one ORM object each cost more than building the mail); returns the values in the same order."""
    values = [secrets.token_urlsafe(TOKEN_BYTES) for _ in wanted]
    if wanted:
        now = utcnow()
        # executemany of one cached statement (a multi-row VALUES would be compiled anew for each row count)
        db.session.execute(insert(LinkToken), [
            {"digest": token_digest(value), "purpose": str(purpose), "user_id": user.id, "admin_id": None,
             "subject": subject, "created_at": now, "expires_at": expires_at}
            for value, (purpose, subject, expires_at) in zip(values, wanted, strict=True)])
    return values


def look(value: str, purpose: Purpose) -> LinkToken:
    """The link's token if it may be used now; `LinkRefused` saying why not. Changes nothing."""
    token = _find(value, purpose)
    if token.used_at is not None:
        raise LinkRefused(USED)
    if token.expires_at <= utcnow():
        raise LinkRefused(EXPIRED)
    return token


def use(value: str, purpose: Purpose) -> LinkToken:
    """Use the link once: of parallel requests one gets the token, the others `LinkRefused` (used)."""
    token = look(value, purpose)
    now = utcnow()
    taken = db.session.execute(
        update(LinkToken).where(LinkToken.id == token.id, LinkToken.used_at.is_(None), LinkToken.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        raise LinkRefused(USED)
    db.session.refresh(token)
    return token


def _find(value: str, purpose: Purpose) -> LinkToken:
    if not value or len(value) > 100 or not value.isascii():
        raise LinkRefused(UNKNOWN)
    token = db.session.scalar(select(LinkToken).where(LinkToken.digest == token_digest(value)))
    if token is None or token.purpose != str(purpose):
        raise LinkRefused(UNKNOWN)
    return token


def purge(older_than: timedelta) -> int:
    """Delete links expired or used more than `older_than` ago."""
    limit = utcnow() - older_than
    return db.session.execute(delete(LinkToken).where(
        (LinkToken.expires_at < limit) | (LinkToken.used_at < limit))).rowcount
