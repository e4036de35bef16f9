"""Who is acting, and what they may reach: the tenancy rules, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, false, or_, select, true

from ..errors import Forbidden, NotFound
from ..extensions import db
from ..models import Admin, Authority, Customer, Domain, MailUser
from ..permissions import ObjectType, Permission
from ..words import Message, _l

ANY_AUTHORITY = "ANY_AUTHORITY"
"""Pass as a permission: any authority at all. A domain is in an administrator's sight where they hold one
(through its broker, customer or the domain itself): it is listed, and refusals on it are 403, not 404."""


@dataclass
class Scope:
    """The brokers, customers and domains on which a permission is held directly."""

    everything: bool = False
    brokers: set[int] = field(default_factory=set)
    customers: set[int] = field(default_factory=set)
    domains: set[int] = field(default_factory=set)

    @property
    def empty(self) -> bool:
        return not (self.everything or self.brokers or self.customers or self.domains)

    def customer_clause(self) -> ColumnElement[bool]:
        if self.everything:
            return true()
        return or_(Customer.id.in_(self.customers), Customer.broker_id.in_(self.brokers))

    def domain_clause(self) -> ColumnElement[bool]:
        """Condition on Domain rows in this scope (a subquery for broker-wide grants)."""
        if self.everything:
            return true()
        clauses: list[ColumnElement[bool]] = []
        if self.domains:
            clauses.append(Domain.id.in_(self.domains))
        if self.customers:
            clauses.append(Domain.customer_id.in_(self.customers))
        if self.brokers:
            clauses.append(Domain.customer_id.in_(
                select(Customer.id).where(Customer.broker_id.in_(self.brokers)).scalar_subquery()))
        return or_(*clauses) if clauses else false()

    def authority_clause(self) -> ColumnElement[bool]:
        """Condition on Authority rows whose object lies in this scope."""
        if self.everything:
            return true()
        customers = select(Customer.id).where(self.customer_clause()).scalar_subquery()
        domains = select(Domain.id).where(self.domain_clause()).scalar_subquery()
        return or_(
            (Authority.object_type == ObjectType.BROKER) & Authority.object_id.in_(self.brokers),
            (Authority.object_type == ObjectType.CUSTOMER) & Authority.object_id.in_(customers),
            (Authority.object_type == ObjectType.DOMAIN) & Authority.object_id.in_(domains),
        )

    def covers(self, object_type: str, object_id: int) -> bool:
        """Whether an object lies in this scope (the object is assumed to exist)."""
        if self.everything:
            return True
        if object_type == ObjectType.BROKER:
            return object_id in self.brokers
        if object_type == ObjectType.CUSTOMER:
            if object_id in self.customers:
                return True
            broker_id = db.session.scalar(select(Customer.broker_id).where(Customer.id == object_id))
            return broker_id in self.brokers
        if object_type == ObjectType.DOMAIN:
            if object_id in self.domains:
                return True
            row = db.session.execute(
                select(Customer.id, Customer.broker_id)
                .join(Domain, Domain.customer_id == Customer.id)
                .where(Domain.id == object_id)
            ).first()
            return row is not None and (row[0] in self.customers or row[1] in self.brokers)
        return False


@dataclass
class Principal:
    """The acting account: an admin or a mailbox user (end user)."""

    admin: Admin | None = None
    user: MailUser | None = None
    via_token: bool = False
    _scopes: dict[str, Scope] = field(default_factory=dict, repr=False)

    @property
    def is_admin(self) -> bool:
        return self.admin is not None

    @property
    def is_sysadmin(self) -> bool:
        return self.admin is not None and self.admin.sys_admin

    def scope(self, permission: Permission | str) -> Scope:
        key = str(permission)
        if key not in self._scopes:
            scope = Scope(everything=self.is_sysadmin)
            if self.admin is not None and not scope.everything:
                for auth in self.admin.authorities:
                    if key in auth.permissions or (key == ANY_AUTHORITY and auth.permissions):
                        {
                            ObjectType.BROKER: scope.brokers,
                            ObjectType.CUSTOMER: scope.customers,
                            ObjectType.DOMAIN: scope.domains,
                        }[ObjectType(auth.object_type)].add(auth.object_id)
            self._scopes[key] = scope
        return self._scopes[key]

    def holds_anywhere(self, permission: Permission | str) -> bool:
        return not self.scope(permission).empty

    @property
    def operates_gateway(self) -> bool:
        """The gateway's mail queue and filter services (every tenant's mail): sysadmins, or an administrator
        holding QUEUE_MANAGE (granted on a broker)."""
        return self.is_sysadmin or (self.is_admin and self.holds_anywhere(Permission.QUEUE_MANAGE))

    def holds_on(self, permission: Permission | str, object_type: str, object_id: int) -> bool:
        return self.scope(permission).covers(object_type, object_id)

    def reach(self, domain_id: int, need: Permission | str, *, seen_with: Permission | str = Permission.DOMAIN_READ,
              missing: Message = "Not found.", refused: Message | None = None) -> None:
        """The one access rule for an object of a domain: 404 unless it is visible, 403 unless allowed.

        An administrator holding `need` on the domain passes; one who only sees the domain (`seen_with`)
        gets 403 (`refused`); anyone else gets 404 (`missing`), so foreign objects do not reveal themselves."""
        if self.admin is not None and self.holds_on(need, ObjectType.DOMAIN, domain_id):
            return
        if self.admin is not None and self.holds_on(seen_with, ObjectType.DOMAIN, domain_id):
            raise Forbidden(refused or _l("You need the %(permission)s permission on this domain.", permission=need))
        raise NotFound(missing)

    def require_admin(self) -> Admin:
        if self.admin is None:
            raise Forbidden(_l("This action is for administrators."))
        return self.admin

    def require_sysadmin(self) -> Admin:
        admin = self.require_admin()
        if not admin.sys_admin:
            raise Forbidden(_l("Only a system administrator may do this."))
        return admin


def principal_for_admin(admin: Admin, *, via_token: bool = False) -> Principal:
    return Principal(admin=admin, via_token=via_token)


def principal_for_user(user: MailUser, *, via_token: bool = False) -> Principal:
    return Principal(user=user, via_token=via_token)
