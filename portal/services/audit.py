"""The audit trail of administrators acting as mailbox users ("view as")."""

from __future__ import annotations

from sqlalchemy import Select, or_, select

from ..errors import Forbidden, NotFound
from ..extensions import db
from ..models import Admin, AuditEvent, Domain, MailUser
from ..permissions import ObjectType, Permission
from .listing import ListSpec
from .principal import Principal, principal_for_admin

START, END = "IMPERSONATE_START", "IMPERSONATE_END"

LIST_SPEC = ListSpec(
    sorts={"at": AuditEvent.at, "actor": AuditEvent.actor, "target": AuditEvent.target,
           "action": AuditEvent.action},
    filters={"target": (AuditEvent.target,), "actor": (AuditEvent.actor,)},
    default_sort="-at",
    tiebreak=AuditEvent.id,
)


def record(actor: Admin, action: str, user: MailUser | None, target: str, detail: str = "") -> None:
    db.session.add(AuditEvent(actor=actor.login, action=action[:64], user_id=user.id if user else None,
                              target=target[:320], detail=detail[:2000]))


def may_impersonate(admin: Admin, user: MailUser) -> bool:
    return principal_for_admin(admin).holds_on(Permission.IMPERSONATE, ObjectType.DOMAIN, user.domain_id)


def start(principal: Principal, user_pk: int) -> MailUser:
    """Open a user's portal as that user (IMPERSONATE on the user's domain); recorded."""
    user = db.session.get(MailUser, user_pk)
    if user is None:
        raise NotFound("The user does not exist.")
    principal.reach(user.domain_id, Permission.IMPERSONATE, seen_with=Permission.USER_READ,
                    missing="The user does not exist.",
                    refused="Opening a user's portal needs IMPERSONATE on the user's domain.")
    if not user.enabled:
        raise Forbidden("This user is disabled.")
    record(principal.admin, START, user, user.email)
    return user


def end(admin: Admin, user: MailUser) -> None:
    record(admin, END, user, user.email)


def list_query(principal: Principal) -> Select[tuple[AuditEvent]]:
    """The events about users the principal may see (all of them for a sysadmin), and their own."""
    stmt = select(AuditEvent)
    if principal.is_sysadmin:
        return stmt
    assert principal.admin is not None
    domains = select(Domain.id).where(principal.scope(Permission.USER_READ).domain_clause())
    return stmt.where(or_(AuditEvent.actor == principal.admin.login,
                          AuditEvent.user_id.in_(select(MailUser.id).where(MailUser.domain_id.in_(domains)))))
