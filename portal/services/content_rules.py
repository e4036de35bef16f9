"""Attachment rules (seed 5.8) and URI rules (seed 5.10) of a domain: DOMAIN_READ to read, FILTER_EDIT to write.

An attachment rule's filter is a Python regular expression (what Fuglu's attachment plugin reads). It
must compile, stay under 256 characters and avoid the shapes that backtrack catastrophically
(nested or adjacent unbounded quantifiers such as `(a+)+`, `(a|a)*`, `.*.*`) and backreferences.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, select

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..models import AttachmentRule, Domain, UriRule
from ..permissions import Permission
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


# --- attachments --------------------------------------------------------------------------------

def attachment_query(principal: Principal, domain_pk: int) -> Select[tuple[AttachmentRule]]:
    domain = _domain(principal, domain_pk, write=False)
    return select(AttachmentRule).where(AttachmentRule.domain_id == domain.id)


def _attachment_values(data: FilterAttachmentAdd, rule: AttachmentRule | None) -> dict[str, Any]:
    given = data.model_fields_set
    values = {
        "action": data.action.value if data.action else (rule.action if rule else None),
        "check_type": data.check_type.value if data.check_type else (rule.check_type if rule else None),
        "filter": safe_regex(data.filter, "filter") if data.filter is not None else (rule.filter if rule else None),
        "priority": data.priority if data.priority is not None else (rule.priority if rule else 1),
        "description": data.description if "description" in given else (rule.description if rule else None),
    }
    for field, wire in (("action", "action"), ("check_type", "checkType"), ("filter", "filter")):
        if values[field] is None:
            raise Invalid.on(wire, "Required.")
    return values


def _attachment_unique(domain_id: int, values: dict[str, Any], exclude: int | None = None) -> None:
    clash = db.session.scalar(select(AttachmentRule.id).where(
        AttachmentRule.domain_id == domain_id, AttachmentRule.action == values["action"],
        AttachmentRule.check_type == values["check_type"], AttachmentRule.filter == values["filter"],
        AttachmentRule.id != (exclude or -1)))
    if clash is not None:
        raise Conflict.on("filter", "This item may already exists with same rules.")


def add_attachment(principal: Principal, domain_pk: int, data: FilterAttachmentAdd) -> AttachmentRule:
    domain = _domain(principal, domain_pk, write=True)
    values = _attachment_values(data, None)
    _attachment_unique(domain.id, values)
    rule = AttachmentRule(domain_id=domain.id, **values)
    db.session.add(rule)
    db.session.flush()
    rules_changed()
    return rule


def _attachment(principal: Principal, rule_pk: int) -> AttachmentRule:
    rule = db.session.get(AttachmentRule, rule_pk)
    if rule is None:
        raise NotFound("No attachment filter found with given id.")
    try:
        _domain(principal, rule.domain_id, write=True)
    except NotFound as exc:
        raise NotFound("No attachment filter found with given id.") from exc
    return rule


def edit_attachment(principal: Principal, rule_pk: int, data: FilterAttachmentAdd) -> AttachmentRule:
    rule = _attachment(principal, rule_pk)
    values = _attachment_values(data, rule)
    _attachment_unique(rule.domain_id, values, exclude=rule.id)
    for key, value in values.items():
        setattr(rule, key, value)
    db.session.flush()
    rules_changed()
    return rule


def delete_attachment(principal: Principal, rule_pk: int) -> None:
    db.session.delete(_attachment(principal, rule_pk))
    db.session.flush()
    rules_changed()


# --- URIs ---------------------------------------------------------------------------------------

def uri_query(principal: Principal, domain_pk: int) -> Select[tuple[UriRule]]:
    domain = _domain(principal, domain_pk, write=False)
    return select(UriRule).where(UriRule.domain_id == domain.id)


def _uri_values(data: FilterUriBlAdd, rule: UriRule | None) -> dict[str, Any]:
    given = data.model_fields_set
    values = {
        "action": data.action.value if data.action else (rule.action if rule else None),
        "filter": names.domain_name(data.filter, "filter") if data.filter is not None
        else (rule.filter if rule else None),
        "priority": data.priority if data.priority is not None else (rule.priority if rule else 1),
        "description": data.description if "description" in given else (rule.description if rule else None),
    }
    for field in ("action", "filter"):
        if values[field] is None:
            raise Invalid.on(field, "Required.")
    return values


def _uri_unique(domain_id: int, values: dict[str, Any], exclude: int | None = None) -> None:
    clash = db.session.scalar(select(UriRule.id).where(
        UriRule.domain_id == domain_id, UriRule.action == values["action"], UriRule.filter == values["filter"],
        UriRule.id != (exclude or -1)))
    if clash is not None:
        raise Conflict.on("filter", "This item may already exists with same rules.")


def add_uri(principal: Principal, domain_pk: int, data: FilterUriBlAdd) -> UriRule:
    domain = _domain(principal, domain_pk, write=True)
    values = _uri_values(data, None)
    _uri_unique(domain.id, values)
    rule = UriRule(domain_id=domain.id, **values)
    db.session.add(rule)
    db.session.flush()
    rules_changed()
    return rule


def _uri(principal: Principal, rule_pk: int) -> UriRule:
    rule = db.session.get(UriRule, rule_pk)
    if rule is None:
        raise NotFound("No uriBl filter found with given id.")
    try:
        _domain(principal, rule.domain_id, write=True)
    except NotFound as exc:
        raise NotFound("No uriBl filter found with given id.") from exc
    return rule


def edit_uri(principal: Principal, rule_pk: int, data: FilterUriBlAdd) -> UriRule:
    rule = _uri(principal, rule_pk)
    values = _uri_values(data, rule)
    _uri_unique(rule.domain_id, values, exclude=rule.id)
    for key, value in values.items():
        setattr(rule, key, value)
    db.session.flush()
    rules_changed()
    return rule


def delete_uri(principal: Principal, rule_pk: int) -> None:
    db.session.delete(_uri(principal, rule_pk))
    db.session.flush()
    rules_changed()
