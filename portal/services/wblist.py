"""Sender rules (seed 5.9): allow / block / protected lists of domains and mailboxes.

Owners: a domain (DOMAIN_READ to read, FILTER_EDIT to write) or a mailbox (admins: USER_READ /
FILTER_EDIT on its domain; the mailbox user itself when its domain grants WBLIST_EDIT).
Writes of several rules are all-or-nothing. One rule per owner and value (409 otherwise).
`spfOn` is required for ALLOW rules and ignored (null) for the others, as the seed says.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy import delete as sql_delete

from ..clock import from_ms, utcnow
from ..errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from ..extensions import db
from ..models import Domain, MailUser, SenderRule
from ..permissions import EndUserPermission, ObjectType, Permission
from ..schemas.rules import FilterSenderAdd, FilterSenderItem, SenderRuleType
from ..words import _l, english
from . import domains, names, statistics
from .changes import rules_changed
from .listing import ListSpec
from .principal import Principal

LIST_SPEC = ListSpec(
    sorts={"owner": SenderRule.owner_key, "value": SenderRule.value, "type": SenderRule.type,
           "createdDate": SenderRule.created_at, "expireAt": SenderRule.expire_at, "id": SenderRule.id},
    default_sort="owner",
    filters={"type": (SenderRule.type,), "value": (SenderRule.value,)},
    exact_filters=frozenset({"type"}),
    converters={"type": str.upper},
    tiebreak=SenderRule.id,
)


@dataclass(frozen=True)
class Owner:
    key: str
    domain: Domain
    user: MailUser | None

    @property
    def label(self) -> str:
        return self.user.email if self.user else self.domain.name


def _end_user_may_edit(principal: Principal, user: MailUser) -> bool:
    return (principal.user is not None and principal.user.id == user.id
            and user.domain.grants(EndUserPermission.WBLIST_EDIT))


def domain_owner(principal: Principal, domain_pk: int, *, write: bool) -> Owner:
    domain = domains.get(principal, domain_pk, Permission.FILTER_EDIT if write else Permission.DOMAIN_READ)
    return Owner(f"d:{domain.id}", domain, None)


def user_owner(principal: Principal, user_pk: int, *, write: bool) -> Owner:
    user = db.session.get(MailUser, user_pk)
    if user is None:
        raise NotFound(_l("User may not exist."))
    if principal.user is not None:
        if not _end_user_may_edit(principal, user):
            if principal.user.id == user.id:
                raise Forbidden(_l("Your domain does not let you edit your senders."))
            raise NotFound(_l("User may not exist."))
    else:
        principal.reach(user.domain_id, Permission.FILTER_EDIT if write else Permission.USER_READ,
                        seen_with=Permission.USER_READ, missing=_l("User may not exist."))
    return Owner(f"u:{user.id}", user.domain, user)


def owner_named(principal: Principal, name: str, field: str) -> Owner:
    """An owner named in a body: a mailbox address or a domain name (400 if none, 403 if out of reach)."""
    if "@" in name:
        user = db.session.scalar(select(MailUser).where(MailUser.email == name.strip().lower()))
        if user is None:
            raise Invalid.on(field, _l("No mailbox “%(name)s”.", name=name))
        try:
            return user_owner(principal, user.id, write=True)
        except NotFound as exc:
            raise Forbidden.on(field, _l("This owner belongs to another tenant.")) from exc
    domain = domains.by_name(name.strip().lower())
    if domain is None:
        raise Invalid.on(field, _l("No domain “%(name)s”.", name=name))
    if principal.user is not None or not principal.holds_on(Permission.FILTER_EDIT, ObjectType.DOMAIN, domain.id):
        raise Forbidden.on(field, _l("You may not edit the rules of this owner."))
    return Owner(f"d:{domain.id}", domain, None)


def list_query(owner: Owner) -> Select[tuple[SenderRule]]:
    return select(SenderRule).where(SenderRule.owner_key == owner.key)


def _clean(item: FilterSenderAdd, where: str) -> dict[str, object]:
    value = names.address_or_domain(item.value, f"{where}value")
    expire = from_ms(item.expire_at)
    if expire is not None and expire <= utcnow():
        raise Invalid.on(f"{where}expireAt", _l("The expiration date must be in the future."))
    spf = item.spf_on
    if item.type == SenderRuleType.ALLOW:
        if spf is None:
            raise Invalid.on(f"{where}spfOn", _l("spfOn is required for an ALLOW rule."))
    else:
        spf = None
    return {"value": value, "type": item.type.value, "expire_at": expire, "description": item.description,
            "spf_on": spf}


def _build(items: list[tuple[Owner, FilterSenderAdd]], prefix: str = "") -> list[dict[str, Any]]:
    """Validate a batch (every error named) and refuse duplicates inside it; returns the rows to write."""
    errors: list[FieldError] = []
    rules: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for i, (owner, item) in enumerate(items):
        where = f"{prefix}[{i}]."
        try:
            values = _clean(item, where)
        except Invalid as error:
            errors.extend(error.errors)
            continue
        key = (owner.key, str(values["value"]))
        if key in seen:
            raise Conflict.on(f"{where}value", _l("The same rule is given twice (items %(first)d and %(second)d).",
                                                  first=seen[key], second=i))
        seen[key] = i
        rules.append({"owner_key": owner.key, "domain_id": owner.domain.id,
                      "user_id": owner.user.id if owner.user else None, **values})
    if errors:
        raise Invalid("Invalid rules: " + "; ".join(f"{e.field}: {english(e.message)}" for e in errors[:5]), errors)
    return rules


def _refuse_existing(rules: list[dict[str, Any]], ignore: set[int] | None = None) -> None:
    by_owner: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for i, rule in enumerate(rules):
        by_owner.setdefault(rule["owner_key"], []).append((i, rule))
    for owner_key, group in by_owner.items():
        values = [r["value"] for _, r in group]
        existing = {}
        for chunk_start in range(0, len(values), 500):
            chunk = values[chunk_start:chunk_start + 500]
            existing.update(db.session.execute(select(SenderRule.value, SenderRule.id).where(
                SenderRule.owner_key == owner_key, SenderRule.value.in_(chunk))).all())
        for i, rule in group:
            if rule["value"] in existing and existing[rule["value"]] not in (ignore or set()):
                raise Conflict.on(f"[{i}].value", _l("A rule for %(value)s already exists.", value=rule["value"]))


def preview_rows(owner: Owner, items: list[FilterSenderAdd]) -> list[dict[str, Any]]:
    """The validated rows a batch would write (nothing is written)."""
    return _build([(owner, item) for item in items])


def _counted(rows: list[dict[str, Any]]) -> None:
    """The statistics of new rules: per domain and rule type."""
    for (domain_id, kind), n in Counter((row["domain_id"], str(row["type"])) for row in rows).items():
        statistics.count(domain_id, statistics.RULE_ADDED, kind, n=n)


def add(owner: Owner, items: list[FilterSenderAdd]) -> list[SenderRule]:
    rows = _build([(owner, item) for item in items])
    _refuse_existing(rows)
    rules = [SenderRule(**row) for row in rows]
    db.session.add_all(rules)
    db.session.flush()
    _counted(rows)
    rules_changed()
    return rules


def add_items(principal: Principal, items: list[FilterSenderItem]) -> tuple[list[SenderRule], dict[str, Owner]]:
    owners: dict[str, Owner] = {}
    pairs = []
    for i, item in enumerate(items):
        name = item.owner.strip().lower()
        if name not in owners:
            owners[name] = owner_named(principal, name, f"[{i}].owner")
        pairs.append((owners[name], FilterSenderAdd(**item.model_dump(exclude={"owner"}))))
    rows = _build(pairs)
    _refuse_existing(rows)
    rules = [SenderRule(**row) for row in rows]
    db.session.add_all(rules)
    db.session.flush()
    _counted(rows)
    rules_changed()
    return rules, {o.key: o for o in owners.values()}


def replace_all(owner: Owner, items: list[FilterSenderAdd]) -> list[SenderRule]:
    """The owner's rules become exactly these (one bulk insert; the rules are read back with their ids)."""
    rows = _build([(owner, item) for item in items])
    before = set(db.session.scalars(select(SenderRule.value).where(SenderRule.owner_key == owner.key)))
    db.session.execute(sql_delete(SenderRule).where(SenderRule.owner_key == owner.key))
    now = utcnow()
    if rows:
        db.session.execute(insert(SenderRule), [{**row, "created_at": now} for row in rows])
    _counted([row for row in rows if row["value"] not in before])  # the statistics count the new senders only
    rules_changed()
    order = {row["value"]: i for i, row in enumerate(rows)}
    stored = db.session.scalars(list_query(owner).execution_options(populate_existing=True))
    return sorted(stored, key=lambda r: order[r.value])


def _rule_of(owner: Owner, rule_pk: int) -> SenderRule:
    rule = db.session.get(SenderRule, rule_pk)
    if rule is None or rule.owner_key != owner.key:
        raise NotFound(_l("No such rule for this owner."))
    return rule


def replace_one(owner: Owner, rule_pk: int, item: FilterSenderAdd) -> SenderRule:
    rule = _rule_of(owner, rule_pk)
    (fresh,) = _build([(owner, item)])
    _refuse_existing([fresh], ignore={rule.id})
    for field in ("value", "type", "expire_at", "description", "spf_on"):
        setattr(rule, field, fresh[field])
    rule.created_at = utcnow()
    db.session.flush()
    rules_changed()
    return rule


def put(owner: Owner, value: str, rule_type: SenderRuleType, description: str) -> SenderRule:
    """One owner's rule for a sender, created or turned to `rule_type` (the quarantine's allow / block)."""
    item = FilterSenderAdd(value=value, type=rule_type, description=description,
                           spf_on=False if rule_type == SenderRuleType.ALLOW else None)
    (fresh,) = _build([(owner, item)])
    rule = db.session.scalar(select(SenderRule).where(SenderRule.owner_key == owner.key,
                                                      SenderRule.value == fresh["value"]))
    if rule is None:
        rule = SenderRule(**fresh)
        db.session.add(rule)
        _counted([fresh])
    elif rule.type != fresh["type"]:
        rule.type, rule.spf_on, rule.expire_at = fresh["type"], fresh["spf_on"], None
    db.session.flush()
    rules_changed()
    return rule


def delete(owner: Owner, rule_pk: int) -> None:
    db.session.delete(_rule_of(owner, rule_pk))
    db.session.flush()
    rules_changed()


def purge_expired(grace: timedelta = timedelta(0)) -> int:
    """Delete rules expired before now - grace (they stopped applying at their expiry)."""
    result = db.session.execute(sql_delete(SenderRule).where(SenderRule.expire_at < utcnow() - grace))
    return result.rowcount or 0


def owner_labels(rules: list[SenderRule]) -> dict[str, str]:
    """owner_key -> domain name or mailbox address, in two queries."""
    domain_ids = {r.domain_id for r in rules if r.user_id is None}
    user_ids = {r.user_id for r in rules if r.user_id is not None}
    labels = {f"d:{pk}": name for pk, name in db.session.execute(
        select(Domain.id, Domain.name).where(Domain.id.in_(domain_ids)))}
    labels.update({f"u:{pk}": email for pk, email in db.session.execute(
        select(MailUser.id, MailUser.email).where(MailUser.id.in_(user_ids)))})
    return labels
