"""Attachment rules (seed 5.8) and URI rules (seed 5.10) of a domain: DOMAIN_READ to read, FILTER_EDIT to write,
and their CSV import (the export's columns; all or nothing; identical rules kept, not doubled).

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

from ..errors import Conflict, FieldError, Invalid, NotFound
from ..extensions import db
from ..models import AttachmentRule, Domain, UriRule
from ..permissions import Permission
from ..schemas.common import wire_name
from ..schemas.rules import FilterAttachmentAdd, FilterUriBlAdd
from ..schemas.validation import required
from ..words import Text, _l
from . import domains, names, statistics
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
_COUNT = re.compile(r"(?<!\\)\{([0-9]*)(?:,([0-9]*))?\}")  # the numbers of `{n}`, `{n,}`, `{n,m}` (not `\{`)
MAX_REPEAT = 10_000  # a file name or content type is never longer: a larger count only costs time and memory


def safe_regex(pattern: str, field: str) -> str:
    if len(pattern) > 256:
        raise Invalid.on(field, _l("At most 256 characters."))
    if any(ord(c) < 32 for c in pattern):
        raise Invalid.on(field, _l("Must not contain control characters."))
    try:
        re.compile(pattern)
    except re.error as exc:
        raise Invalid.on(field, _l("“%(value)s” is not a valid regular expression (%(why)s).", value=pattern,
                                   why=str(exc))) from exc
    except (OverflowError, RecursionError, MemoryError) as exc:  # `a{99999999999}`, thousands of nested groups
        raise Invalid.on(field, _l("Not a valid regular expression: a repeat count or nesting is too large.")) from exc
    if any(int(n) > MAX_REPEAT for pair in _COUNT.findall(pattern) for n in pair if n):
        raise Invalid.on(field, _l("A repeat count may be at most %(num)d.", num=MAX_REPEAT))
    for shape, why in ((_NESTED, "a repeated group that itself repeats"),
                       (_ALTERNATION_REPEAT, "a repeated alternation"),
                       (_ADJACENT, "adjacent unbounded wildcards"), (_BACKREF, "a backreference")):
        if shape.search(pattern):
            raise Invalid.on(field, _l("This expression could take exponential time (%(why)s); simplify it.", why=why))
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
    missing: Text  # the 404 message


ATTACHMENTS = RuleKind(AttachmentRule, ("action", "check_type", "filter", "priority", "description"),
                       ("action", "check_type", "filter"), {"filter": safe_regex},
                       _l("No attachment filter found with given id."))
URIS = RuleKind(UriRule, ("action", "filter", "priority", "description"), ("action", "filter"),
                {"filter": names.domain_name}, _l("No uriBl filter found with given id."))
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
            raise Invalid.on(wire_name(name), required(wire_name(name)))
        values[name] = value
    return values


def _unique(kind: RuleKind, domain_id: int, values: dict[str, Any], exclude: int | None = None) -> None:
    model = kind.model
    clash = db.session.scalar(select(model.id).where(
        model.domain_id == domain_id, model.id != (exclude or -1),
        *(getattr(model, name) == values[name] for name in kind.identity)))
    if clash is not None:
        raise Conflict.on("filter", _l("This rule exists already."))


def _add(kind: RuleKind, principal: Principal, domain_pk: int, data: Any) -> Any:
    domain = _domain(principal, domain_pk, write=True)
    values = _values(kind, data, None)
    _unique(kind, domain.id, values)
    rule = kind.model(domain_id=domain.id, **values)
    db.session.add(rule)
    db.session.flush()
    statistics.count(domain.id, statistics.RULE_ADDED, "ATTACHMENT" if kind is ATTACHMENTS else "URI")
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


# --- CSV import -----------------------------------------------------------------------------------

KINDS = {"attachments": (ATTACHMENTS, FilterAttachmentAdd), "uris": (URIS, FilterUriBlAdd)}


@dataclass
class ImportPlan:
    """What an import of attachment or URI rules would do; `rows` are validated, ready to write."""

    rows: list[dict[str, Any]]
    added: int = 0
    kept: int = 0  # identical to a rule the domain has
    removed: int = 0  # with replace: the domain's rules the CSV does not list


def plan_import(kind_name: str, principal: Principal, domain_pk: int, items: list[Any], *,
                replace: bool) -> ImportPlan:
    """Validate every row as the import will (all or nothing); identical rules are kept, not doubled."""
    kind, _schema = KINDS[kind_name]
    domain = _domain(principal, domain_pk, write=True)
    rows, errors, seen = [], [], set()
    for n, item in enumerate(items, start=2):
        try:
            values = _values(kind, item, None)
        except Invalid as error:
            errors += [FieldError(f"line {n}.{e.field}", e.message) for e in error.errors]
            continue
        identity = tuple(values[name] for name in kind.identity)
        if identity in seen:
            errors.append(FieldError(f"line {n}.filter", _l("The same rule is given twice.")))
            continue
        seen.add(identity)
        rows.append(values)
    if errors:
        raise Invalid(_l("The CSV has errors."), errors)
    current = {tuple(getattr(r, name) for name in kind.identity): r
               for r in db.session.scalars(select(kind.model).where(kind.model.domain_id == domain.id))}
    result = ImportPlan([])
    for values in rows:
        if tuple(values[name] for name in kind.identity) in current:
            result.kept += 1
        else:
            result.rows.append(values)
            result.added += 1
    if replace:
        result.removed = len(set(current) - seen)
    return result


def apply_import(kind_name: str, principal: Principal, domain_pk: int, items: list[Any], *,
                 replace: bool) -> ImportPlan:
    kind, _schema = KINDS[kind_name]
    result = plan_import(kind_name, principal, domain_pk, items, replace=replace)
    domain = _domain(principal, domain_pk, write=True)
    if replace:
        wanted = {tuple(_values(kind, item, None)[name] for name in kind.identity) for item in items}
        for rule in db.session.scalars(select(kind.model).where(kind.model.domain_id == domain.id)):
            if tuple(getattr(rule, name) for name in kind.identity) not in wanted:
                db.session.delete(rule)
    for values in result.rows:
        db.session.add(kind.model(domain_id=domain.id, **values))
    db.session.flush()
    rules_changed()
    return result
