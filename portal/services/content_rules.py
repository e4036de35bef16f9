"""Attachment rules (seed 5.8) and URI rules (seed 5.10) of a domain: DOMAIN_READ to read, FILTER_EDIT to write.

An attachment rule's filter is a Python regular expression (what Fuglu's attachment plugin reads). It
must compile, stay under 256 characters and avoid the shapes that backtrack catastrophically
(nested or adjacent unbounded quantifiers such as `(a+)+`, `(a|a)*`, `.*.*`) and backreferences.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Select, select

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models import AttachmentRule, Domain, UriRule
from ..permissions import Permission
from ..schemas.common import wire_name
from ..schemas.rules import FilterAttachmentAdd, FilterUriBlAdd
from . import domains, names
from .changes import rules_changed
from .listing import ListSpec
from .principal import Principal

ATTACHMENT_SPEC = ListSpec(
    sorts={"action": AttachmentRule.action, "checkType": AttachmentRule.check_type,
           "filter": AttachmentRule.filter, "priority": AttachmentRule.priority,
           "createdDate": AttachmentRule.created_at, "id": AttachmentRule.id},
    default_sort="action", filters={"action": (AttachmentRule.action,)}, exact_filters=frozenset({"action"}),
    converters={"action": str.upper}, tiebreak=AttachmentRule.id,
)
URI_SPEC = ListSpec(
    sorts={"action": UriRule.action, "filter": UriRule.filter, "priority": UriRule.priority,
           "createdDate": UriRule.created_at, "id": UriRule.id},
    default_sort="action", filters={"action": (UriRule.action,)}, exact_filters=frozenset({"action"}),
    converters={"action": str.upper}, tiebreak=UriRule.id,
)

_NESTED = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")  # (…+…)+ and friends
_ALTERNATION_REPEAT = re.compile(r"\((?:[^()\\]|\\.)*\|(?:[^()\\]|\\.)*\)\s*[+*{]")  # (a|a)*
_ADJACENT = re.compile(r"(?:\.\*|\.\+|\\S\*|\\S\+|\\w\*|\\w\+){2,}")  # .*.* and the like
_BACKREF = re.compile(r"\\[1-9]|\(\?P=")


def safe_regex(pattern: str, field: str) -> str:
    if len(pattern) > 256:
        raise Invalid.on(field, "At most 256 characters.")
    if any(ord(c) < 32 for c in pattern):
        raise Invalid.on(field, "Must not contain control characters.")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise Invalid.on(field, f"Not a valid regular expression: {exc}.") from exc
    for shape, why in ((_NESTED, "a repeated group that itself repeats"),
                       (_ALTERNATION_REPEAT, "a repeated alternation"),
                       (_ADJACENT, "adjacent unbounded wildcards"), (_BACKREF, "a backreference")):
        if shape.search(pattern):
            raise Invalid.on(field, f"This expression could take exponential time ({why}); simplify it.")
    return pattern


def _domain(principal: Principal, domain_pk: int, write: bool) -> Domain:
    return domains.get(principal, domain_pk, Permission.FILTER_EDIT if write else Permission.DOMAIN_READ)


@dataclass(frozen=True)
class RuleKind:
    """What differs between attachment and URI rules; the operations below are shared."""

    model: type[AttachmentRule] | type[UriRule]
    fields: tuple[str, ...]  # the editable columns, in the schema's snake_case
    identity: tuple[str, ...]  # two rules of a domain may not agree on all of these (409)
    clean: dict[str, Callable[[str, str], str]]  # field -> validator(value, wire name)
    missing: str  # the 404 message


ATTACHMENTS = RuleKind(AttachmentRule, ("action", "check_type", "filter", "priority", "description"),
                       ("action", "check_type", "filter"), {"filter": safe_regex},
                       "No attachment filter found with given id.")
URIS = RuleKind(UriRule, ("action", "filter", "priority", "description"), ("action", "filter"),
                {"filter": names.domain_name}, "No uriBl filter found with given id.")
DEFAULTS = {"priority": 1, "description": None}


def _query(kind: RuleKind, principal: Principal, domain_pk: int) -> Select[Any]:
    domain = _domain(principal, domain_pk, write=False)
    return select(kind.model).where(kind.model.domain_id == domain.id)


def _values(kind: RuleKind, data: FilterAttachmentAdd | FilterUriBlAdd, rule: Any) -> dict[str, Any]:
    given = data.model_fields_set
    values: dict[str, Any] = {}
    for name in kind.fields:
        value = getattr(data, name)
        if name in given and (value is not None or name == "description"):
            value = value.value if isinstance(value, Enum) else value
            if name in kind.clean and value is not None:
                value = kind.clean[name](value, wire_name(name))
        else:
            value = getattr(rule, name) if rule is not None else DEFAULTS.get(name)
        if value is None and name in kind.identity:
            raise Invalid.on(wire_name(name), "Required.")
        values[name] = value
    return values


def _unique(kind: RuleKind, domain_id: int, values: dict[str, Any], exclude: int | None = None) -> None:
    model = kind.model
    clash = db.session.scalar(select(model.id).where(
        model.domain_id == domain_id, model.id != (exclude or -1),
        *(getattr(model, name) == values[name] for name in kind.identity)))
    if clash is not None:
        raise Conflict.on("filter", "This item may already exists with same rules.")


def _add(kind: RuleKind, principal: Principal, domain_pk: int, data: Any) -> Any:
    domain = _domain(principal, domain_pk, write=True)
    values = _values(kind, data, None)
    _unique(kind, domain.id, values)
    rule = kind.model(domain_id=domain.id, **values)
    db.session.add(rule)
    db.session.flush()
    rules_changed()
    return rule


def _get(kind: RuleKind, principal: Principal, rule_pk: int) -> Any:
    rule = db.session.get(kind.model, rule_pk)
    if rule is None:
        raise NotFound(kind.missing)
    try:
        _domain(principal, rule.domain_id, write=True)
    except NotFound as exc:
        raise NotFound(kind.missing) from exc
    return rule


def _edit(kind: RuleKind, principal: Principal, rule_pk: int, data: Any) -> Any:
    rule = _get(kind, principal, rule_pk)
    values = _values(kind, data, rule)
    _unique(kind, rule.domain_id, values, exclude=rule.id)
    for key, value in values.items():
        setattr(rule, key, value)
    db.session.flush()
    rules_changed()
    return rule


def _delete(kind: RuleKind, principal: Principal, rule_pk: int) -> None:
    db.session.delete(_get(kind, principal, rule_pk))
    db.session.flush()
    rules_changed()


def attachment_query(principal: Principal, domain_pk: int) -> Select[tuple[AttachmentRule]]:
    return _query(ATTACHMENTS, principal, domain_pk)


def add_attachment(principal: Principal, domain_pk: int, data: FilterAttachmentAdd) -> AttachmentRule:
    return _add(ATTACHMENTS, principal, domain_pk, data)


def edit_attachment(principal: Principal, rule_pk: int, data: FilterAttachmentAdd) -> AttachmentRule:
    return _edit(ATTACHMENTS, principal, rule_pk, data)


def delete_attachment(principal: Principal, rule_pk: int) -> None:
    _delete(ATTACHMENTS, principal, rule_pk)


def uri_query(principal: Principal, domain_pk: int) -> Select[tuple[UriRule]]:
    return _query(URIS, principal, domain_pk)


def add_uri(principal: Principal, domain_pk: int, data: FilterUriBlAdd) -> UriRule:
    return _add(URIS, principal, domain_pk, data)


def edit_uri(principal: Principal, rule_pk: int, data: FilterUriBlAdd) -> UriRule:
    return _edit(URIS, principal, rule_pk, data)


def delete_uri(principal: Principal, rule_pk: int) -> None:
    _delete(URIS, principal, rule_pk)
