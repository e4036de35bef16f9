"""Brokers and their customers: the tenancy above domains.

System administrators create brokers; a customer is created by a system administrator or by an
administrator holding DOMAIN_CREATE on its broker. An administrator sees the customers their
DOMAIN_READ reaches; a customer's option values need DOMAIN_EDIT on it.
"""

from __future__ import annotations

from sqlalchemy import Select, func, select

from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..extensions import db
from ..models import Broker, Customer, Domain
from ..permissions import ObjectType, Permission
from ..schemas import validation
from ..words import _l
from .listing import ListSpec
from .principal import Principal

LIST_SPEC = ListSpec(
    sorts={"name": Customer.name, "id": Customer.id},
    filters={"name": (Customer.name,)},
    default_sort="name",
    tiebreak=Customer.id,
)


def _text(value: str | None, field: str, *, required: bool, limit: int = 255) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise Invalid.on(field, validation.required(field))
        return None
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise Invalid.on(field, _l("At most %(num)d printable characters.", num=limit))
    return value


def list_query(principal: Principal) -> Select[tuple[Customer]]:
    principal.require_admin()
    return select(Customer).where(principal.scope(Permission.DOMAIN_READ).customer_clause())


def domain_counts(customer_ids: list[int]) -> dict[int, int]:
    return dict(db.session.execute(select(Domain.customer_id, func.count()).where(
        Domain.customer_id.in_(customer_ids)).group_by(Domain.customer_id)).all())


def brokers_for_new_customers(principal: Principal) -> list[Broker]:
    """The brokers under which the principal may create customers."""
    brokers = db.session.scalars(select(Broker).order_by(func.lower(Broker.name)))
    return [b for b in brokers if principal.is_sysadmin
            or principal.holds_on(Permission.DOMAIN_CREATE, ObjectType.BROKER, b.id)]


def create_broker(principal: Principal, name: str, description: str | None = None) -> Broker:
    principal.require_sysadmin()
    clean = _text(name, "name", required=True)
    if db.session.scalar(select(Broker.id).where(func.lower(Broker.name) == (clean or "").lower())):
        raise Conflict.on("name", _l("A broker named “%(name)s” exists already.", name=clean))
    broker = Broker(name=clean, description=_text(description, "description", required=False, limit=1024))
    db.session.add(broker)
    db.session.flush()
    return broker


def create_customer(principal: Principal, broker_pk: int | None, name: str, description: str | None = None,
                    external_id: str | None = None) -> Customer:
    principal.require_admin()
    broker = db.session.get(Broker, broker_pk) if broker_pk else None
    if broker is None:
        raise Invalid.on("brokerId", _l("Choose a broker."))
    if not (principal.is_sysadmin or principal.holds_on(Permission.DOMAIN_CREATE, ObjectType.BROKER, broker.id)):
        raise Forbidden.on("brokerId", _l("You may not create customers for this broker."))
    clean = _text(name, "name", required=True)
    if db.session.scalar(select(Customer.id).where(Customer.broker_id == broker.id,
                                                   func.lower(Customer.name) == (clean or "").lower())):
        raise Conflict.on("name", _l("%(broker)s has a customer named “%(name)s” already.",
                                     broker=broker.name, name=clean))
    customer = Customer(broker_id=broker.id, name=clean,
                        description=_text(description, "description", required=False, limit=1024),
                        external_id=_text(external_id, "externalId", required=False))
    db.session.add(customer)
    db.session.flush()
    return customer


def get(principal: Principal, customer_pk: int) -> Customer:
    principal.require_admin()
    customer = db.session.get(Customer, customer_pk)
    if customer is None or not principal.holds_on(Permission.DOMAIN_READ, ObjectType.CUSTOMER, customer.id):
        raise NotFound(_l("No such customer."))
    return customer


def may_edit(principal: Principal, customer: Customer) -> bool:
    return principal.holds_on(Permission.DOMAIN_EDIT, ObjectType.CUSTOMER, customer.id)
