"""Domains (seed 5.5), their aliases (5.3) and end-user access, with the MX check and soft delete.

Visibility: a domain is seen by whoever holds DOMAIN_READ on it (or the permission the action
needs); a domain out of reach is a 404, one in sight without the needed permission a 403.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import ColumnElement, Select, func, or_, select, text
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update
from sqlalchemy.orm import joinedload

from .. import ids
from ..clock import utcnow
from ..errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Unprocessable
from ..extensions import db
from ..integrations import dns
from ..models import Authority, Customer, Domain, DomainAlias, MailUser, OutgoingProvider, Platform
from ..options import Scope
from ..permissions import END_USER_PERMISSIONS, EndUserPermission, ObjectType, Permission
from ..schemas.common import wire_name
from ..schemas.domains import DomainAdd, DomainStatus, DomainUpdate, PolicyIn
from ..words import _l
from . import names, options, platforms, policies
from .changes import rules_changed
from .listing import ListSpec, wildcard
from .principal import ANY_AUTHORITY, Principal


def _platform_id(value: str) -> ColumnElement[bool]:
    return Domain.id.in_(select(Platform.domain_id).where(Platform.id == ids.in_body(value)))


def _platform_name(value: str) -> ColumnElement[bool]:
    return Domain.id.in_(select(Platform.domain_id).where(wildcard(Platform.name, value)))


LIST_SPEC = ListSpec(
    sorts={"name": Domain.name, "id": Domain.id, "status": Domain.status, "creationDate": Domain.created_at,
           "externalId": Domain.external_id, "purgeDate": Domain.purge_date},
    default_sort="name",
    filters={
        "name": (Domain.name,), "status": (Domain.status,), "customerId": (Domain.customer_id,),
        "externalId": (Domain.external_id,), "platformId": (), "platformName": (),
    },
    exact_filters=frozenset({"status", "customerId"}),
    converters={"status": str.upper, "customerId": ids.in_body},
    conditions={"platformId": _platform_id, "platformName": _platform_name},
    tiebreak=Domain.id,
    unique_sorts=frozenset({"name"}),
)
ALIAS_SPEC = ListSpec(sorts={"name": DomainAlias.name, "id": DomainAlias.id}, default_sort="name",
                      tiebreak=DomainAlias.id)


def list_query(principal: Principal, within: Permission | str = Permission.DOMAIN_READ) -> Select[tuple[Domain]]:
    """The domains on which the admin holds `within`: DOMAIN_READ for the API (its items are whole domains);
    the pages list every domain in sight (ANY_AUTHORITY) and open only the sections permissions allow."""
    principal.require_admin()
    return select(Domain).where(principal.scope(within).domain_clause())


def get(principal: Principal, domain_pk: int, need: Permission | str = Permission.DOMAIN_READ, *,
        with_defaults: bool = False) -> Domain:
    """The domain if `need` is held on it; 403 if it is only in sight (any authority on it), else 404.

    `with_defaults`: its policies, platforms and customer come in the same statement (a users list takes each user's
    policy and platform, or the domain's defaults, from them without a query of its own)."""
    principal.require_admin()
    loading = ([joinedload(Domain.policies), joinedload(Domain.platforms), joinedload(Domain.customer)]
               if with_defaults else None)
    domain = db.session.get(Domain, domain_pk, options=loading)
    if domain is None:
        raise NotFound(_l("Domain not found with given id."))
    principal.reach(domain.id, need, seen_with=ANY_AUTHORITY, missing=_l("Domain not found with given id."))
    return domain


def by_name(name: str) -> Domain | None:
    """The domain with this name or alias."""
    domain = db.session.scalar(select(Domain).where(Domain.name == name))
    if domain is None:
        domain = db.session.scalar(select(Domain).join(DomainAlias).where(DomainAlias.name == name))
    return domain


NAME_LOCKS = 0x706F7374  # the advisory-lock space of domain and alias names (PostgreSQL)


def _serialize_names(names: list[str]) -> None:
    """A name is unique across domains and domain aliases, two tables no constraint spans: hold each name
    (PostgreSQL: a transaction-scoped advisory lock, in sorted order; SQLite: the write lock) before looking
    it up, so a concurrent request that took it first has committed, and is seen, by then."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        for name in sorted(set(names)):
            conn.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:name))"),
                         {"space": NAME_LOCKS, "name": name})
    elif conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:  # type: ignore[attr-defined]
            raw.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]


def _name_free(name: str, field: str) -> None:
    _serialize_names([name])
    if by_name(name) is not None:
        raise Conflict.on(field, _l("An alias or a domain named %(name)s exists already.", name=name))


def check_mx(name: str, *, pointed: bool) -> None:
    """422 unless the domain's MX points (or, with pointed=False, no longer points) to the gateway."""
    gateway = set(current_app.config.get("GATEWAY_MX_HOSTS") or [])
    if not gateway:
        return  # no gateway MX configured (the embedded default): nothing to compare with
    found = set(dns.mx_hosts(name))
    ours = bool(found & gateway)
    if pointed and not ours:
        raise Unprocessable.on("name", _l("The MX of %(name)s (%(found)s) does not point to this gateway "
                                          "(%(gateway)s). Send X-Ignore-MX to skip.",
                                          name=name, found=", ".join(sorted(found)) or "-",
                                          gateway=", ".join(sorted(gateway))))
    if not pointed and ours:
        raise Unprocessable.on("name", _l("The MX of %(name)s still points to this gateway: deleting the domain now "
                                          "would bounce its mail. Send X-Ignore-MX to delete anyway.", name=name))


def _customer(principal: Principal, public_id: str | None, field: str) -> Customer:
    if not public_id:
        raise Invalid.on(field, _l("Name the customer of the domain."))
    customer = db.session.get(Customer, ids.in_body(public_id))
    if customer is None:
        raise Invalid.on(field, _l("No customer has this id."))
    if not principal.holds_on(Permission.DOMAIN_CREATE, ObjectType.CUSTOMER, customer.id):
        raise Forbidden.on(field, _l("You may not create domains for this customer."))
    return customer


def _subnets(values: list[str], field: str) -> list[str]:
    return [names.cidr(v, f"{field}[{i}]") for i, v in enumerate(values)]


def _providers(values: list[str], field: str, current: list[OutgoingProvider] | None = None
               ) -> list[OutgoingProvider]:
    """The providers named; an inactive one only if the domain had it already."""
    found = []
    for i, value in enumerate(values):
        provider = db.session.get(OutgoingProvider, ids.in_body(value))
        if provider is None:
            raise Invalid.on(f"{field}[{i}]", _l("No outgoing provider has this id."))
        if not provider.active and provider not in (current or []):
            raise Invalid.on(f"{field}[{i}]", _l("The provider %(name)s is not offered any more.", name=provider.name))
        if provider not in found:
            found.append(provider)
    return found


def create(principal: Principal, data: DomainAdd, *, ignore_mx: bool) -> Domain:
    principal.require_admin()
    customer = _customer(principal, data.customer_id, "customerId")
    name = names.domain_name(data.name, "name")
    _name_free(name, "name")
    if data.status == DomainStatus.DELETED:
        raise Invalid.on("status", _l("A domain cannot be created deleted."))
    domain = Domain(
        customer_id=customer.id, name=name, description=data.description, status=data.status.value,
        wblist_priority=data.wblist_priority.value, default_language=data.default_language.value,
        auto_provisioning_on=data.auto_provisioning_on, sender_verify_on=data.sender_verify_on,
        external_id=data.external_id, outgoing_subnets=_subnets(data.outgoing_subnets, "outgoingSubnets"),
        end_user_permissions=" ".join(END_USER_PERMISSIONS),
    )
    domain.outgoing_providers = _providers(data.outgoing_providers_ids, "outgoingProvidersIds")
    domain.policies = [policies.default_policy(domain, quarantine=data.quarantine, retention=data.retention,
                                               archive=data.archive, incoming=data.incoming,
                                               outgoing=data.outgoing)]
    platforms.replace_all(domain, data.platforms)
    if data.status == DomainStatus.ENABLED and not ignore_mx:
        check_mx(name, pointed=True)
    db.session.add(domain)
    db.session.flush()
    rules_changed()
    return domain


def update(principal: Principal, domain_pk: int, data: DomainUpdate, *, ignore_mx: bool) -> Domain:
    domain = get(principal, domain_pk, Permission.DOMAIN_EDIT)
    given = data.model_fields_set
    for field in given:
        if getattr(data, field) is None and field not in ("description", "external_id"):
            raise Invalid.on(wire_name(field), _l("Must not be null."))
    old_status, old_name = domain.status, domain.name
    if "status" in given and data.status is not None and data.status.value != old_status:
        _change_status(principal, domain, data.status)
    if "name" in given and data.name is not None:
        name = names.domain_name(data.name, "name")
        if name != domain.name:
            _name_free(name, "name")
            domain.name = name
    if "customer_id" in given:
        if not principal.is_sysadmin:
            raise Forbidden.on("customerId", _l("Only a system administrator moves a domain to another customer."))
        domain.customer_id = _customer(principal, data.customer_id, "customerId").id
    for field in ("description", "external_id", "auto_provisioning_on", "sender_verify_on"):
        if field in given:
            setattr(domain, field, getattr(data, field))
    if "wblist_priority" in given:
        domain.wblist_priority = data.wblist_priority.value  # type: ignore[union-attr]
    if "default_language" in given:
        domain.default_language = data.default_language.value  # type: ignore[union-attr]
    if "outgoing_subnets" in given:
        domain.outgoing_subnets = _subnets(data.outgoing_subnets or [], "outgoingSubnets")
    if "outgoing_providers_ids" in given:
        domain.outgoing_providers = _providers(data.outgoing_providers_ids or [], "outgoingProvidersIds",
                                               list(domain.outgoing_providers))
    if "policy_id" in given:
        if not principal.holds_on(Permission.POLICY_ASSIGN, ObjectType.DOMAIN, domain.id):
            raise Forbidden.on("policyId", _l("Assigning policies needs POLICY_ASSIGN."))
        chosen = policies.of_domain(domain, data.policy_id, "policyId")
        for policy in domain.policies:
            policy.is_default = policy.id == chosen.id
    services = {f: getattr(data, f) for f in ("quarantine", "retention", "archive") if f in given}
    if services and domain.default_policy is not None:
        policies.apply(domain.default_policy, PolicyIn(**services))
    if "platforms" in given:
        platforms.replace_all(domain, data.platforms or [])
    if (domain.status == DomainStatus.ENABLED and not ignore_mx
            and (domain.name != old_name or old_status != DomainStatus.ENABLED)):
        check_mx(domain.name, pointed=True)
    db.session.flush()
    rules_changed()
    return domain



def _change_status(principal: Principal, domain: Domain, status: DomainStatus) -> None:
    if status == DomainStatus.DELETED:
        _soft_delete(principal, domain)
        return
    if domain.status == DomainStatus.DELETED:
        if not principal.is_sysadmin:
            raise Forbidden.on("status", _l("Only a system administrator reverts a deletion."))
        domain.deletion_date = domain.purge_date = None
    domain.status = status.value


def _soft_delete(principal: Principal, domain: Domain) -> None:
    if not principal.is_sysadmin:
        raise Forbidden(_l("Only users with sysadmin role can delete a domain."))
    if domain.status == DomainStatus.DELETED:
        return
    now = utcnow()
    domain.status = DomainStatus.DELETED.value
    domain.deletion_date = now
    domain.purge_date = now + timedelta(days=current_app.config["DOMAIN_PURGE_DAYS"])


def delete(principal: Principal, domain_pk: int, *, ignore_mx: bool) -> Domain:
    """Soft delete: the domain and its users stop working; purge_due() removes them after the delay."""
    principal.require_admin()
    if not principal.is_sysadmin:
        get(principal, domain_pk)  # 404 when out of reach, else:
        raise Forbidden(_l("Only users with sysadmin role can delete a domain."))
    domain = get(principal, domain_pk)
    if domain.status != DomainStatus.DELETED and not ignore_mx:
        check_mx(domain.name, pointed=False)
    _soft_delete(principal, domain)
    db.session.flush()
    rules_changed()
    return domain


def purge_due() -> list[str]:
    """Remove for good the domains whose purge date has passed; returns their names."""
    doomed = list(db.session.scalars(select(Domain).where(
        Domain.status == DomainStatus.DELETED.value, Domain.purge_date <= utcnow())))
    for domain in doomed:
        user_ids = list(db.session.scalars(select(MailUser.id).where(MailUser.domain_id == domain.id)))
        options.forget(Scope.USER, user_ids)
        options.forget(Scope.DOMAIN, [domain.id])
        db.session.execute(sql_delete(MailUser).where(MailUser.domain_id == domain.id))
        db.session.execute(sql_delete(Authority).where(
            Authority.object_type == ObjectType.DOMAIN.value, Authority.object_id == domain.id))
        db.session.delete(domain)
    db.session.flush()
    rules_changed()
    return [d.name for d in doomed]


# --- aliases ------------------------------------------------------------------------------------

def _alias_names(domain: Domain, values: list[str]) -> list[str]:
    clean: list[str] = []
    errors: list[FieldError] = []
    for i, value in enumerate(values):
        try:
            name = names.domain_name(value, f"[{i}]")
        except Invalid as error:
            errors.extend(error.errors)
            continue
        if name in clean:
            errors.append(FieldError(f"[{i}]", f"{name} is given twice."))
        clean.append(name)
    if errors:
        raise Invalid(_l("Invalid alias names."), errors)
    return clean


def _conflicts(domain: Domain, candidates: list[tuple[int, str]]) -> None:
    errors = []
    _serialize_names([name for _i, name in candidates])
    for i, name in candidates:
        owner = by_name(name)
        if owner is not None and not (owner.id == domain.id and name != domain.name):
            errors.append(FieldError(f"[{i}]", _l("An alias or a domain named %(name)s exists already.", name=name)))
    if errors:
        raise Conflict(_l("An alias or a domain with this name exists already."), errors)


def add_aliases(principal: Principal, domain_pk: int, values: list[str]) -> list[DomainAlias]:
    domain = get(principal, domain_pk, Permission.DOMAIN_EDIT)
    clean = _alias_names(domain, values)
    _conflicts(domain, [(i, n) for i, n in enumerate(clean)])
    added = [DomainAlias(name=name) for name in clean]
    domain.aliases.extend(added)
    db.session.flush()
    rules_changed()
    return added


def replace_aliases(principal: Principal, domain_pk: int, values: list[str]) -> list[DomainAlias]:
    domain = get(principal, domain_pk, Permission.DOMAIN_EDIT)
    clean = _alias_names(domain, values)
    current = {a.name: a for a in domain.aliases}
    _conflicts(domain, [(i, n) for i, n in enumerate(clean) if n not in current])
    domain.aliases = [current.get(name) or DomainAlias(name=name) for name in clean]
    db.session.flush()
    rules_changed()
    return domain.aliases


def delete_alias(principal: Principal, domain_pk: int, alias_pk: int) -> None:
    domain = get(principal, domain_pk, Permission.DOMAIN_EDIT)
    alias = next((a for a in domain.aliases if a.id == alias_pk), None)
    if alias is None:
        raise NotFound(_l("The alias does not exist in this domain."))
    domain.aliases.remove(alias)
    db.session.flush()
    rules_changed()


def alias_query(domain: Domain) -> Select[tuple[DomainAlias]]:
    return select(DomainAlias).where(DomainAlias.domain_id == domain.id)


# --- end-user access ----------------------------------------------------------------------------

def end_user_access(domain: Domain) -> list[tuple[str, bool]]:
    return [(str(p), domain.grants(p)) for p in EndUserPermission]


def set_end_user_access(principal: Principal, domain_pk: int, values: list[str]) -> Domain:
    domain = get(principal, domain_pk, Permission.DOMAIN_EDIT)
    known = {str(p) for p in EndUserPermission}
    errors = [FieldError(f"[{i}]", f"{v!r} is not an end-user permission.") for i, v in enumerate(values)
              if v not in known]
    if errors:
        raise Invalid(_l("Unknown permission."), errors)
    domain.end_user_permissions = " ".join(p for p in (str(e) for e in EndUserPermission) if p in set(values))
    db.session.flush()
    return domain


# --- figures for the JSON ----------------------------------------------------------------------

def recount_active_users() -> int:
    """Set every domain's active_users and users_count from its users (after rows were written around the ORM:
    bulk loads, a restore); returns how many domains were corrected."""
    active = (select(func.count(MailUser.id)).where(MailUser.domain_id == Domain.id, MailUser.status == "ENABLED")
              .scalar_subquery())
    every = select(func.count(MailUser.id)).where(MailUser.domain_id == Domain.id).scalar_subquery()
    result = db.session.execute(sql_update(Domain)
                                .where(or_(Domain.active_users != active, Domain.users_count != every))
                                .values(active_users=active, users_count=every)
                                .execution_options(synchronize_session=False))
    return result.rowcount  # type: ignore[attr-defined, no-any-return]
