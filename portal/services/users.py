"""Mailbox users (seed 5.14): created in the domain of their address, scoped by USER_READ / USER_EDIT."""

from __future__ import annotations

import secrets

from sqlalchemy import ColumnElement, Select, select

from .. import ids, outbox
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..extensions import db
from ..models import Domain, MailUser, Platform, Policy
from ..options import Scope
from ..permissions import ObjectType, Permission
from ..safe_html import clean_signature
from ..schemas.common import wire_name
from ..schemas.users import NewUser, UpdateUser
from ..words import _l
from . import domains, options, platforms, policies
from .listing import ListSpec, wildcard
from .passwords import hash_password
from .principal import Principal


def _platform_name(value: str) -> ColumnElement[bool]:
    return MailUser.platform_id.in_(select(Platform.id).where(wildcard(Platform.name, value)))


LIST_SPEC = ListSpec(
    sorts={"email": MailUser.email, "id": MailUser.id, "firstname": MailUser.firstname,
           "lastname": MailUser.lastname, "status": MailUser.status, "creationDate": MailUser.created_at,
           "lastConnectionDate": MailUser.last_connection_date},
    default_sort="email",
    filters={"name": (MailUser.email,), "email": (MailUser.email,), "platformName": ()},
    conditions={"platformName": _platform_name},
    tiebreak=MailUser.id,
    unique_sorts=frozenset({"email"}),
)


def list_query(principal: Principal, domain: Domain | None = None) -> Select[tuple[MailUser]]:
    principal.require_admin()
    stmt = select(MailUser)
    if domain is not None:
        return stmt.where(MailUser.domain_id == domain.id)
    scope = principal.scope(Permission.USER_READ)
    if scope.everything:
        return stmt
    return stmt.where(MailUser.domain_id.in_(select(Domain.id).where(scope.domain_clause())))


def domain_list(principal: Principal, domain_pk: int) -> tuple[Domain, Select[tuple[MailUser]]]:
    """A domain's users list, for the API and the page: the domain (USER_READ) with its policies and platforms,
    and the users query; each listed user's policy, platform and domain are then already loaded. The query is
    all the domain's users: its count without a filter is the domain's users_count."""
    domain = domains.get(principal, domain_pk, Permission.USER_READ, with_defaults=True)
    return domain, list_query(principal, domain)


def get(principal: Principal, user_pk: int, need: Permission = Permission.USER_READ) -> MailUser:
    principal.require_admin()
    user = db.session.get(MailUser, user_pk)
    if user is None:
        raise NotFound(_l("User not found with given id."))
    principal.reach(user.domain_id, need, seen_with=Permission.USER_READ, missing=_l("User not found with given id."))
    return user


def _domain_of(principal: Principal, email: str, domain_id: str | None) -> Domain:
    domain_name = email.rsplit("@", 1)[1].lower()
    domain = domains.by_name(domain_name)
    if domain_id is not None:
        named = db.session.get(Domain, ids.in_body(domain_id))
        if named is None or domain is None or named.id != domain.id:
            raise Invalid.on("domainId", _l("The domain does not match the domain of the email address."))
    if domain is None:
        raise Invalid.on("email", _l("No domain %(name)s is managed here.", name=domain_name))
    try:
        principal.reach(domain.id, Permission.USER_EDIT, refused=_l("Creating users needs USER_EDIT on the domain."))
    except NotFound:  # a domain out of sight is, for a new address, one that is not managed here
        raise Invalid.on("email", _l("No domain %(name)s is managed here.", name=domain_name)) from None
    return domain


def _email_free(email: str, exclude: int | None = None) -> None:
    taken = db.session.scalar(select(MailUser.id).where(MailUser.email == email, MailUser.id != (exclude or -1)))
    if taken is not None:
        raise Conflict.on("email", _l("A user already exists with this address."))


def _policy(principal: Principal, domain: Domain, public_id: str | None) -> Policy | None:
    """The policy chosen for a user; None: the user follows the domain's default policy."""
    if public_id is None:
        return None
    if not principal.holds_on(Permission.POLICY_ASSIGN, ObjectType.DOMAIN, domain.id):
        raise Forbidden.on("policyId", _l("Assigning policies needs POLICY_ASSIGN."))
    return policies.of_domain(domain, public_id, "policyId")


def create(principal: Principal, data: NewUser) -> MailUser:
    principal.require_admin()
    email = str(data.email).lower()
    domain = _domain_of(principal, email, data.domain_id)
    _email_free(email)
    platform = None  # None: the domain's default platform
    if data.platform_id is not None:
        platform = platforms.of_domain(domain, data.platform_id, "platformId")
    elif data.auth_id is not None:
        platform = platforms.of_domain(domain, data.auth_id, "authId")
    user = MailUser(
        domain_id=domain.id, email=email, firstname=data.firstname, lastname=data.lastname,
        status=data.status.value, language=(data.language.value if data.language else domain.default_language),
        password_hash=hash_password(data.password) if data.password else None,
        policy=_policy(principal, domain, data.policy_id), platform=platform,
        sender_verify_on=data.sender_verify_on, sign=clean_signature(data.sign), session_nonce=secrets.token_hex(8),
    )
    db.session.add(user)
    db.session.flush()
    if data.send_notification:
        outbox.enqueue("send_welcome", user.id)
    return user


def update(principal: Principal, user_pk: int, data: UpdateUser) -> MailUser:
    user = get(principal, user_pk, Permission.USER_EDIT)
    given = data.model_fields_set
    for field in ("email", "status", "language", "sender_verify_on"):
        if field in given and getattr(data, field) is None:
            raise Invalid.on(wire_name(field), _l("Must not be null."))
    if data.domain_id is not None and data.domain_id != ids.encode(user.domain_id):
        raise Invalid.on("domainId", _l("A user cannot move to another domain."))
    if data.email is not None:
        email = str(data.email).lower()
        if email != user.email:
            if email.rsplit("@", 1)[1] != user.domain.name:
                raise Invalid.on("email", _l("The address must stay in the user's domain."))
            _email_free(email, exclude=user.id)
            user.email = email
    for field in ("firstname", "lastname", "sender_verify_on"):
        if field in given:
            setattr(user, field, getattr(data, field))
    if data.language is not None:
        user.language = data.language.value
    if data.status is not None and data.status.value != user.status:
        user.status = data.status.value
        user.session_nonce = secrets.token_hex(8)  # disabling ends the user's sessions
    if data.password is not None:
        user.password_hash = hash_password(data.password)
        user.session_nonce = secrets.token_hex(8)
    if "policy_id" in given:
        user.policy = _policy(principal, user.domain, data.policy_id)
    if data.platform_id is not None:
        user.platform = platforms.of_domain(user.domain, data.platform_id, "platformId")
    if "sign" in given:
        user.sign = clean_signature(data.sign)
    if data.mfa_type == "NONE":
        user.mfa_type = None
        user.totp_secret = None
    db.session.flush()
    return user


def delete(principal: Principal, user_pk: int) -> None:
    user = get(principal, user_pk, Permission.USER_EDIT)
    options.forget(Scope.USER, [user.id])
    db.session.delete(user)
    db.session.flush()
