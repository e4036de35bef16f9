"""Filtering policies of a domain (seed 5.4). Only sysadmins create, edit or delete them;
domain admins with POLICY_ASSIGN choose which one applies to the domain and to each user."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select

from .. import ids
from ..errors import Conflict, Invalid, NotFound, Unprocessable
from ..extensions import db
from ..models import Domain, MailUser, Policy
from ..permissions import Permission
from ..schemas.common import wire_name
from ..schemas.domains import ArchiveProps, PolicyIn, QuarantineProps, RelayProps, RetentionProps
from ..words import _l
from .listing import ListSpec
from .principal import Principal

LIST_SPEC = ListSpec(
    sorts={"name": Policy.name, "id": Policy.id, "mailSizeLimit": Policy.mail_size_limit,
           "spamScore": Policy.spam_score},
    default_sort="name", filters={"name": (Policy.name,)}, tiebreak=Policy.id,
)
PROPS = {
    "relay_props": RelayProps, "quarantine_props": QuarantineProps,
    "retention_props": RetentionProps, "archive_props": ArchiveProps,
}


def _dump(model: Any) -> dict[str, Any]:
    return model.model_dump(by_alias=True)


def default_policy(domain: Domain, *, quarantine: bool, retention: bool, archive: bool,
                   incoming: bool = True, outgoing: bool = False) -> Policy:
    """The policy a new domain starts with (the seed's defaults)."""
    return Policy(
        name=f"Policy-{domain.name}"[:100], is_default=True, quarantine=quarantine, retention=retention,
        archive=archive, incoming=incoming, outgoing=outgoing, mail_size_limit=21, spam_score=5.0,
        relay_props=_dump(RelayProps()), quarantine_props=_dump(QuarantineProps()) if quarantine else None,
        retention_props=_dump(RetentionProps()) if retention else None,
        archive_props=_dump(ArchiveProps()) if archive else None,
    )


def list_query(domain: Domain) -> Select[tuple[Policy]]:
    return select(Policy).where(Policy.domain_id == domain.id)


def get(principal: Principal, policy_pk: int) -> Policy:
    policy = db.session.get(Policy, policy_pk)
    if policy is None:
        raise NotFound(_l("Policy not found with given id."))
    principal.require_admin()
    principal.reach(policy.domain_id, Permission.DOMAIN_READ, missing=_l("Domain not found with given id."))
    return policy


def _name_free(domain_id: int, name: str, exclude: int | None = None) -> None:
    taken = db.session.scalar(select(Policy.id).where(
        Policy.domain_id == domain_id, func.lower(Policy.name) == name.lower(), Policy.id != (exclude or -1)))
    if taken is not None:
        raise Conflict.on("name", _l("A policy with this name exists already."))


def apply(policy: Policy, data: PolicyIn) -> None:
    given = data.model_fields_set
    for field in ("name", "quarantine", "retention", "archive", "mail_size_limit", "spam_score", "incoming",
                  "outgoing"):
        if field in given:
            value = getattr(data, field)
            if value is None:
                raise Invalid.on(wire_name(field), _l("Must not be null."))
            setattr(policy, field, value)
    for field in PROPS:
        if field in given and getattr(data, field) is not None:
            setattr(policy, field, _dump(getattr(data, field)))
    # a service switched on gets default properties; its properties are kept when it is off
    for service, field in (("quarantine", "quarantine_props"), ("retention", "retention_props"),
                           ("archive", "archive_props")):
        if getattr(policy, service) and getattr(policy, field) is None:
            setattr(policy, field, _dump(PROPS[field]()))
    if not policy.relay_props:
        policy.relay_props = _dump(RelayProps())
    limit = policy.relay_props.get("spamScoreLimit")
    if limit is not None and limit < policy.spam_score:
        raise Unprocessable.on("relayProps.spamScoreLimit",
                               "The score above which spam is not delivered must not be below the spam score.")



def create(principal: Principal, domain: Domain, data: PolicyIn) -> Policy:
    principal.require_sysadmin()
    if data.domain_id is not None and data.domain_id != ids.encode(domain.id):
        raise Invalid.on("domainId", _l("The policy must belong to the domain of the URL."))
    if not data.name:
        raise Invalid.on("name", _l("A name is required."))
    _name_free(domain.id, data.name)
    policy = Policy(domain_id=domain.id, quarantine=False, retention=False, archive=False, incoming=True,
                    outgoing=False, mail_size_limit=21, spam_score=5.0, relay_props={})
    apply(policy, data)
    db.session.add(policy)
    db.session.flush()
    return policy


def update(principal: Principal, policy_pk: int, data: PolicyIn) -> Policy:
    policy = get(principal, policy_pk)
    principal.require_sysadmin()
    if data.domain_id is not None and data.domain_id != ids.encode(policy.domain_id):
        raise Invalid.on("domainId", _l("A policy cannot move to another domain."))
    if data.name:
        _name_free(policy.domain_id, data.name, exclude=policy.id)
    apply(policy, data)
    db.session.flush()
    return policy


def delete(principal: Principal, policy_pk: int) -> None:
    policy = get(principal, policy_pk)
    principal.require_sysadmin()
    users = db.session.scalar(select(func.count(MailUser.id)).where(MailUser.policy_id == policy.id)) or 0
    if policy.is_default or users:
        raise Invalid(_l("The policy is affected to the domain or to users: assign another one first."))
    db.session.delete(policy)
    db.session.flush()


def of_domain(domain: Domain, public_id: str | None, field: str) -> Policy:
    """A policy of this domain named by a public id in a body (400 when it is not one)."""
    policy = db.session.get(Policy, ids.in_body(public_id))
    if policy is None or policy.domain_id != domain.id:
        raise Invalid.on(field, _l("No policy of this domain has this id."))
    return policy
