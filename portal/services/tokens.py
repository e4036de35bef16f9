"""Personal API tokens (seed 5.2) and bearer authentication.

A token value is 128 random bits shown once as 32 hex digits; only its SHA-256 digest is stored.
Only a sysadmin or the token's owner manages an admin's tokens (403 otherwise, as the seed says).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select

from ..clock import from_ms, utcnow
from ..crypto import token_digest
from ..errors import Forbidden, Invalid, NotFound, Unauthorized
from ..extensions import db
from ..models import Admin, ApiToken, MailUser
from ..words import _l
from .principal import Principal, principal_for_admin, principal_for_user

LAST_USE_RESOLUTION = timedelta(seconds=60)  # lastUse is written at most once a minute per token


def _owner(principal: Principal, admin_pk: int) -> Admin:
    me = principal.require_admin()
    target = db.session.get(Admin, admin_pk)
    if target is None:
        raise NotFound(_l("Resource does not exist."))
    if target.id != me.id and not me.sys_admin:
        raise Forbidden("Only sysadmin or target user can call this endpoint.")
    return target


def create(principal: Principal, admin_pk: int, name: str, expiration_ms: int | None) -> tuple[ApiToken, str]:
    owner = _owner(principal, admin_pk)
    return issue(owner, name, from_ms(expiration_ms))


def issue(owner: Admin | MailUser, name: str, expiration: datetime | None = None) -> tuple[ApiToken, str]:
    """Make a token for an account; returns it with its value (the only time the value exists)."""
    if expiration is not None and expiration <= utcnow():
        raise Invalid.on("expiration", _l("The expiration date must be in the future."))
    value = secrets.token_hex(16)
    token = ApiToken(name=name, digest=token_digest(value), expiration=expiration)
    if isinstance(owner, Admin):
        token.admin_id = owner.id
    else:
        token.user_id = owner.id
    db.session.add(token)
    db.session.flush()
    return token, value


def list_for(principal: Principal, admin_pk: int) -> list[ApiToken]:
    owner = _owner(principal, admin_pk)
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.admin_id == owner.id).order_by(ApiToken.created_at, ApiToken.id)
    ))


def revoke(principal: Principal, admin_pk: int, token_pk: int) -> None:
    owner = _owner(principal, admin_pk)
    token = db.session.get(ApiToken, token_pk)
    if token is None or token.admin_id != owner.id:
        raise NotFound(_l("Resource does not exist."))
    db.session.delete(token)
    db.session.flush()


def authenticate(value: str) -> Principal:
    """The principal behind a bearer token value; Unauthorized when it is no longer good."""
    if not value or len(value) > 128:
        raise Unauthorized("A valid bearer token is required.")
    row = db.session.execute(  # the token and its account in one statement
        select(ApiToken, Admin, MailUser)
        .outerjoin(Admin, Admin.id == ApiToken.admin_id)
        .outerjoin(MailUser, MailUser.id == ApiToken.user_id)
        .where(ApiToken.digest == token_digest(value))
    ).first()
    now = utcnow()
    if row is None or (row[0].expiration is not None and row[0].expiration <= now):
        raise Unauthorized("The bearer token is unknown, revoked or expired.")
    token, admin, user = row
    if token.admin_id is not None:
        if admin is None or not admin.enabled:
            raise Unauthorized("The account of this token is disabled.")
        principal = principal_for_admin(admin, via_token=True)
    else:
        if user is None or not user.enabled:
            raise Unauthorized("The account of this token is disabled.")
        principal = principal_for_user(user, via_token=True)
    if token.last_use is None or now - token.last_use >= LAST_USE_RESOLUTION:
        token.last_use = now
    return principal


def purge_expired(older_than: timedelta = timedelta(days=30)) -> int:
    """Delete tokens that expired more than `older_than` ago; returns how many."""
    cutoff = utcnow() - older_than
    doomed = list(db.session.scalars(select(ApiToken).where(ApiToken.expiration < cutoff)))
    for token in doomed:
        db.session.delete(token)
    db.session.flush()
    return len(doomed)
