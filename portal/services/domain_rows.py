"""The domains list as plain rows (issue 16): what the API, the page and the exports show of each domain,
without an ORM object or a pydantic model per domain.

A page is three statements: the count, the page's domains (their own columns: `as_rows`), and everything
listed with them — customer, aliases, platforms, policies, outgoing providers — in one UNION ALL over the
page's keys (`with_children`). Each kind of child fills the union's typed slots in its fields' order (the
others are NULLs cast to the slot's type: PostgreSQL types a UNION's columns pairwise), so the driver and
SQLAlchemy convert its values (JSON, booleans) as they would for the model's own columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    Integer,
    Select,
    String,
    cast,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)

from ..extensions import db
from ..models import Customer, Domain, DomainAlias, OutgoingProvider, Platform, Policy
from ..models.tenancy import domain_outgoing_providers
from .domains import LIST_SPEC
from .listing import among_keys


@dataclass(frozen=True)
class CustomerRow:
    id: int
    broker_id: int
    name: str
    description: str | None
    external_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class AliasRow:
    id: int
    name: str


@dataclass(frozen=True)
class PlatformRow:
    id: int
    name: str
    transport_dest: str
    transport_type: str
    transport_port: int
    fallback_transport_dest: str | None
    fallback_transport_type: str | None
    fallback_transport_port: int | None
    api_type: str | None
    api_data: dict[str, Any] | None
    auth_type: str
    auth_data: dict[str, Any] | None
    is_default: bool


@dataclass(frozen=True)
class PolicyRow:
    id: int
    domain_id: int
    name: str
    is_default: bool
    quarantine: bool
    retention: bool
    archive: bool
    incoming: bool
    outgoing: bool
    mail_size_limit: int
    spam_score: float
    relay_props: dict[str, Any] | None
    quarantine_props: dict[str, Any] | None
    retention_props: dict[str, Any] | None
    archive_props: dict[str, Any] | None


@dataclass(frozen=True)
class ProviderRow:
    id: int
    name: str
    spf_provider: str
    active: bool


@dataclass
class DomainRow:
    """A listed domain: its columns, named as on Domain, and what is listed with it."""

    id: int
    name: str
    description: str | None
    status: str
    wblist_priority: str
    default_language: str
    auto_provisioning_on: bool
    sender_verify_on: bool
    external_id: str | None
    outgoing_subnets: list[str] | None
    created_at: datetime
    deletion_date: datetime | None
    purge_date: datetime | None
    active_users: int
    customer: CustomerRow | None = None
    aliases: list[AliasRow] = field(default_factory=list)
    platforms: list[PlatformRow] = field(default_factory=list)
    policies: list[PolicyRow] = field(default_factory=list)
    outgoing_providers: list[ProviderRow] = field(default_factory=list)

    default_policy = Domain.default_policy  # the model's rule (one home): the policy marked default


# the domain's own columns: DomainRow's fields without a default, in its order (a row of them makes a DomainRow)
_COLUMNS = tuple(getattr(Domain, f.name) for f in fields(DomainRow) if f.default is f.default_factory is MISSING)

# kind -> (row class, the child's columns in the row's field order, the domain it belongs to, its FROM)
_KINDS: dict[str, tuple[type, tuple[Any, ...], Any, Any]] = {
    "customer": (CustomerRow, tuple(getattr(Customer, f.name) for f in fields(CustomerRow)), Domain.id,
                 Domain.__table__.join(Customer.__table__, Customer.id == Domain.customer_id)),
    "alias": (AliasRow, (DomainAlias.id, DomainAlias.name), DomainAlias.domain_id, DomainAlias.__table__),
    "platform": (PlatformRow, tuple(getattr(Platform, f.name) for f in fields(PlatformRow)), Platform.domain_id,
                 Platform.__table__),
    "policy": (PolicyRow, tuple(getattr(Policy, f.name) for f in fields(PolicyRow)), Policy.domain_id,
               Policy.__table__),
    "provider": (ProviderRow, tuple(getattr(OutgoingProvider, f.name) for f in fields(ProviderRow)),
                 domain_outgoing_providers.c.domain_id,
                 domain_outgoing_providers.join(OutgoingProvider.__table__,
                                                OutgoingProvider.id == domain_outgoing_providers.c.provider_id)),
}
_SLOT_TYPES = (("s", String), ("i", Integer), ("b", Boolean), ("f", Float), ("j", JSON), ("d", DateTime))
CHUNK = 1000  # keys per children statement (an export of every domain reads them a chunk at a time)


def _slot_kind(column: Any) -> str:
    return next(prefix for prefix, kind in _SLOT_TYPES if isinstance(column.type, kind))


def _slots_of(columns: Sequence[Any]) -> list[str]:
    """Each column's slot: the next free one of its type ("s1", "s2", "i1", ...)."""
    used: dict[str, int] = {}
    slots = []
    for column in columns:
        prefix = _slot_kind(column)
        used[prefix] = used.get(prefix, 0) + 1
        slots.append(f"{prefix}{used[prefix]}")
    return slots


_SLOTS = {kind: _slots_of(columns) for kind, (_, columns, _, _) in _KINDS.items()}
_ALL_SLOTS = sorted({slot for slots in _SLOTS.values() for slot in slots}, key=lambda s: (s[0], int(s[1:])))
_SLOT_TYPE = {slot: dict(_SLOT_TYPES)[slot[0]]() for slot in _ALL_SLOTS}


def _children_query(dialect: str) -> Any:
    """The UNION ALL of every kind of child of the domains whose keys are bound as `keys` (built once a dialect).
    On PostgreSQL the keys are one array (`= ANY(:keys)`): the statement's text is the same for every page, so
    psycopg converts it once and the server prepares it, instead of a text with 5 x 40 placeholders a page."""
    parts = []
    for kind, (_, columns, owner, source) in _KINDS.items():
        given = dict(zip(_SLOTS[kind], columns, strict=True))
        slots = [type_coerce(given[slot], _SLOT_TYPE[slot]).label(slot) if slot in given
                 else cast(null(), _SLOT_TYPE[slot]).label(slot) for slot in _ALL_SLOTS]
        parts.append(select(literal(kind).label("kind"), owner.label("owner"), *slots)
                     .select_from(source).where(among_keys(owner, dialect)))
    return union_all(*parts)


_CHILDREN = {dialect: _children_query(dialect) for dialect in ("postgresql", "sqlite")}
_LISTED_AS = {"alias": "aliases", "platform": "platforms", "policy": "policies", "provider": "outgoing_providers"}


_PICK = {kind: (_KINDS[kind][0], itemgetter(*(2 + _ALL_SLOTS.index(slot) for slot in _SLOTS[kind])))
         for kind in _KINDS}  # kind -> (row class, its values' positions in a union row: kind, owner, slots...)


def with_children(rows: Sequence[Any]) -> list[DomainRow]:
    """The page's domains (rows of `as_rows`, in _COLUMNS' order) with everything listed with them: one statement
    a page."""
    listed = {r[0]: DomainRow(*r) for r in rows}
    keys = list(listed)
    query = _CHILDREN[db.engine.dialect.name]
    for start in range(0, len(keys), CHUNK):
        for child in db.session.execute(query, {"keys": keys[start:start + CHUNK]}):
            kind, owner = child[0], child[1]
            made_as, pick = _PICK[kind]
            made = made_as(*pick(child))  # every kind has two values or more: itemgetter gives a tuple
            domain = listed[owner]
            if kind == "customer":
                domain.customer = made
            else:
                getattr(domain, _LISTED_AS[kind]).append(made)
    for domain in listed.values():  # the models' orders: aliases by name, the rest by id
        domain.aliases.sort(key=lambda a: a.name)
        for children in (domain.platforms, domain.policies, domain.outgoing_providers):
            children.sort(key=lambda c: c.id)
    return list(listed.values())


def as_rows(stmt: Select[tuple[Domain]]) -> Select[Any]:
    """A domains list (domains.list_query) as plain rows, listed with ROWS_SPEC: DomainRow."""
    return stmt.with_only_columns(*_COLUMNS)


def of(domain: Domain) -> DomainRow:
    """One domain already loaded as a DomainRow (a single domain's answer has the list's shape: one home)."""
    row = DomainRow(**{c.key: getattr(domain, c.key) for c in _COLUMNS})
    row.customer = CustomerRow(*(getattr(domain.customer, f.name) for f in fields(CustomerRow)))
    row.aliases = [AliasRow(a.id, a.name) for a in domain.aliases]
    row.platforms = [PlatformRow(*(getattr(p, f.name) for f in fields(PlatformRow))) for p in domain.platforms]
    row.policies = [PolicyRow(*(getattr(p, f.name) for f in fields(PolicyRow))) for p in domain.policies]
    row.outgoing_providers = [ProviderRow(*(getattr(p, f.name) for f in fields(ProviderRow)))
                              for p in domain.outgoing_providers]
    return row


ROWS_SPEC = replace(LIST_SPEC, rows=with_children)
