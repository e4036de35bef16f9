"""Brokers, customers and domains as the objects authorities point at."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Select, and_, func, literal, select, union_all
from sqlalchemy.orm import aliased

from ..errors import Invalid
from ..extensions import db
from ..models import Broker, Customer, Domain
from ..permissions import ObjectType
from ..words import Text, _l

MODELS: dict[ObjectType, type[Broker] | type[Customer] | type[Domain]] = {
    ObjectType.BROKER: Broker,
    ObjectType.CUSTOMER: Customer,
    ObjectType.DOMAIN: Domain,
}


def exists(object_type: ObjectType, object_id: int) -> bool:
    model = MODELS[object_type]
    return db.session.scalar(select(model.id).where(model.id == object_id)) is not None


def names(keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """Names of many objects of any types, in one statement (a UNION ALL of one SELECT per type)."""
    wanted: dict[ObjectType, set[int]] = {}
    for object_type, object_id in keys:
        wanted.setdefault(ObjectType(object_type), set()).add(object_id)
    if not wanted:
        return {}
    parts = [select(literal(str(object_type)).label("type"), MODELS[object_type].id, MODELS[object_type].name)
             .where(MODELS[object_type].id.in_(ids)) for object_type, ids in wanted.items()]
    stmt = parts[0] if len(parts) == 1 else union_all(*parts)
    return {(kind, pk): name for kind, pk, name in db.session.execute(stmt)}


def with_names(stmt: Select[Any], object_type: Any, object_id: Any) -> Select[Any]:
    """`stmt` with the name of the object each of its rows points at (`object_name`, None when it is gone), joined
    into the same statement: no second one, as `names` would be."""
    found = []
    for kind, model in MODELS.items():
        named = aliased(model)
        stmt = stmt.outerjoin(named, and_(object_type == kind.value, named.id == object_id))
        found.append(named.name)
    return stmt.add_columns(func.coalesce(*found).label("object_name"))


NOT_NAMED: dict[ObjectType, Callable[[str], Text]] = {
    ObjectType.BROKER: lambda name: _l("No broker is named “%(name)s”.", name=name),
    ObjectType.CUSTOMER: lambda name: _l("No customer is named “%(name)s”.", name=name),
    ObjectType.DOMAIN: lambda name: _l("No domain is named “%(name)s”.", name=name),
}


def find_by_name(object_type: ObjectType, name: str, field: str) -> int:
    """The id of the object with that name; a customer name must be unambiguous."""
    model = MODELS[object_type]
    ids = db.session.scalars(select(model.id).where(model.name == name.strip()).limit(2)).all()
    if not ids:
        raise Invalid.on(field, NOT_NAMED[object_type](name.strip()))
    if len(ids) > 1:
        raise Invalid.on(field, _l("Several customers are named “%(name)s”.", name=name.strip()))
    return ids[0]
