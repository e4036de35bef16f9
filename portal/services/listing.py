"""The list conventions of every collection (seed chapters 3 and 4), for API and pages alike.

`offset` (default 0), `pageSize` (default 40, capped), `sort=field` / `sort=-field` over an
allow-list, and at most one filter parameter whose value is exact, `prefix*`, `*suffix` or
`*contains*` (case-insensitive).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, any_, bindparam, func, inspect, or_, select
from sqlalchemy.dialects import postgresql

from ..errors import FieldError, Invalid
from ..extensions import db
from ..words import _l

DEFAULT_PAGE_SIZE = 40


@dataclass(frozen=True)
class ListSpec:
    """What one collection allows: sortable fields, filter parameters and the default order."""

    sorts: Mapping[str, Any]  # wire name -> column
    default_sort: str
    filters: Mapping[str, Sequence[Any]] = field(default_factory=dict)  # parameter -> columns (OR); () if a condition
    exact_filters: frozenset[str] = frozenset()  # parameters matched without wildcards (enums, ids)
    tiebreak: Any = None  # a unique column, so pages never overlap
    unique_sorts: frozenset[str] = frozenset()  # sort fields that are unique themselves: no tiebreak needed
    converters: Mapping[str, Callable[[str], Any]] = field(default_factory=dict)  # value -> compared value
    conditions: Mapping[str, Callable[[str], ColumnElement[bool]]] = field(default_factory=dict)  # custom filters
    # what the selected rows become for the API, the page and the exports alike (plain rows completed by one
    # more query, say: admins.ROWS_SPEC); None: the rows as selected
    rows: Callable[[Sequence[Any]], list[Any]] | None = None

    def parameters(self) -> list[str]:
        return ["offset", "pageSize", "sort", *self.filters]


@dataclass
class ListParams:
    offset: int = 0
    page_size: int = DEFAULT_PAGE_SIZE
    sort: str = ""
    filter_name: str | None = None
    filter_value: str | None = None


def _paging(args: Mapping[str, str], max_page_size: int, errors: list[FieldError]) -> tuple[int, int]:
    values = {"offset": 0, "pageSize": DEFAULT_PAGE_SIZE}
    for name, low, high in (("offset", 0, 10**9), ("pageSize", 1, max_page_size)):
        raw = args.get(name)
        if raw in (None, ""):
            continue
        try:
            value = int(raw)
        except ValueError:
            errors.append(FieldError(name, _l("Must be a whole number.")))
            continue
        if not low <= value <= high:
            errors.append(FieldError(name, _l("Must be between %(low)d and %(high)d.", low=low, high=high)))
            continue
        values[name] = value
    return values["offset"], values["pageSize"]


def paging(args: Mapping[str, str], max_page_size: int) -> tuple[int, int]:
    """`offset` and `pageSize` alone (lists that are not SQL queries)."""
    errors: list[FieldError] = []
    result = _paging(args, max_page_size, errors)
    if errors:
        raise Invalid(_l("Invalid list parameters."), errors)
    return result


def parse(args: Mapping[str, str], spec: ListSpec, max_page_size: int) -> ListParams:
    """Read list parameters; every bad one is named in a 400."""
    errors: list[FieldError] = []
    params = ListParams(sort=spec.default_sort)
    params.offset, params.page_size = _paging(args, max_page_size, errors)
    sort = args.get("sort") or spec.default_sort
    if sort.lstrip("-") not in spec.sorts:
        errors.append(FieldError("sort", _l("Sort by one of: %(choices)s (prefix - to reverse).",
                                            choices=", ".join(sorted(spec.sorts)))))
    params.sort = sort
    given = [name for name in spec.filters if args.get(name) not in (None, "")]
    if len(given) > 1:
        errors.append(FieldError(given[1], _l("Only one filter is allowed.")))
    elif given:
        params.filter_name, params.filter_value = given[0], args[given[0]]
        if len(params.filter_value) > 255 or any(ord(c) < 32 for c in params.filter_value):
            errors.append(FieldError(given[0], _l("Must be at most 255 printable characters.")))
    if errors:
        raise Invalid(_l("Invalid list parameters."), errors)
    return params


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def wildcard(column: Any, value: str) -> ColumnElement[bool]:
    """`value`, `prefix*`, `*suffix`, `*contains*`; case-insensitive.

    SQLite's LIKE already ignores ASCII case (and lower() would cost it a function call per row,
    three times slower on a 10,000-row scan); PostgreSQL gets ILIKE.
    """
    starts, ends = value.startswith("*"), value.endswith("*") and len(value) > 1
    core = value.strip("*")
    if not starts and not ends:
        return func.lower(column) == core.lower()
    pattern = ("%" if starts else "") + _escape(core.lower()) + ("%" if ends else "")
    if db.engine.dialect.name == "sqlite":
        return column.like(pattern, escape="\\")
    return column.ilike(pattern, escape="\\")


def filtered(stmt: Select[Any], spec: ListSpec, params: ListParams) -> Select[Any]:
    if params.filter_name is None or params.filter_value is None:
        return stmt
    name = params.filter_name
    if name in spec.conditions:
        return stmt.where(spec.conditions[name](params.filter_value))
    columns = spec.filters[name]
    if name in spec.exact_filters:
        value = spec.converters[name](params.filter_value) if name in spec.converters else params.filter_value
        return stmt.where(or_(*(c == value for c in columns)))
    return stmt.where(or_(*(wildcard(c, params.filter_value) for c in columns)))


def ordered(stmt: Select[Any], spec: ListSpec, params: ListParams) -> Select[Any]:
    column = spec.sorts[params.sort.lstrip("-")]
    order = [column.desc() if params.sort.startswith("-") else column.asc()]
    if spec.tiebreak is not None and params.sort.lstrip("-") not in spec.unique_sorts:
        order.append(spec.tiebreak.desc() if params.sort.startswith("-") else spec.tiebreak.asc())
    return stmt.order_by(*order)


def among_keys(column: Any, dialect: str) -> ColumnElement[bool]:
    """`column` among the keys bound as `keys`, for a statement built once per dialect: on PostgreSQL one array
    (`= ANY(:keys)`), so the statement's text is the same for every page (psycopg converts it once, the server
    prepares it) instead of a text with a placeholder per key; elsewhere an expanding IN."""
    if dialect == "postgresql":
        return column == any_(bindparam("keys", type_=postgresql.ARRAY(Integer)))
    return column.in_(bindparam("keys", expanding=True))


KEYS_FIRST_FROM = 200  # from this offset on, a page finds its rows' keys first (`page`)


def _entity(stmt: Select[Any]) -> Any:
    """The mapped class a one-entity statement selects (None when it selects columns)."""
    described = stmt.column_descriptions
    entity = described[0].get("entity") if len(described) == 1 else None
    return entity if entity is not None and described[0].get("type") is entity else None


def _key(stmt: Select[Any]) -> Any:
    """The primary key column of a one-entity list statement, or of a plain-rows one that selects its table's
    key first (None for anything else)."""
    entity = _entity(stmt)
    if entity is None:
        first = stmt.selected_columns[0] if stmt.selected_columns else None
        table = getattr(first, "table", None)
        keys = list(getattr(table, "primary_key", ()))
        return keys[0] if len(keys) == 1 and getattr(first, "primary_key", False) else None
    keys = inspect(entity).primary_key
    return keys[0] if len(keys) == 1 else None


def page(stmt: Select[Any], spec: ListSpec, params: ListParams, *,
         unfiltered_total: int | None = None) -> tuple[list[Any], int]:
    """One page of the filtered, sorted list, and the total count of the filtered list (without a filter, the
    `unfiltered_total` when the caller keeps it: a domain's users_count, say).

    A shallow page of plain rows carries its count in its own statement (`_rows_counted`). A deep page
    (offset >= KEYS_FIRST_FROM) knows the total first: nearer the end than the start, it is read backwards (the
    order reversed, the offset counted from the end, the rows turned round), so the last page costs what the
    first does; and it is a deferred join: the offset is walked over the keys alone (an index on the sort
    column holds them: SQLite's indexes carry the rowid, PostgreSQL's covering ones INCLUDE the id, migration
    0015), then only the page's rows are read, with what they load."""
    stmt = filtered(stmt, spec, params)
    counted = select(func.count()).select_from(stmt.order_by(None).subquery())
    kept = unfiltered_total if params.filter_name is None else None
    if kept is None and params.offset < KEYS_FIRST_FROM and _entity(stmt) is None:
        window = ordered(stmt, spec, params).offset(params.offset).limit(params.page_size)
        rows, total = _rows_counted(window, counted)
        if total is None:  # no row to carry it: an empty list, or a page past its end
            total = 0 if params.offset == 0 else db.session.scalar(counted) or 0
        return spec.rows(rows) if spec.rows is not None else rows, total
    total = kept if kept is not None else db.session.scalar(counted) or 0
    backwards = (KEYS_FIRST_FROM <= params.offset < total and total - params.offset < params.offset
                 and (spec.tiebreak is not None or params.sort.lstrip("-") in spec.unique_sorts))  # a total order
    if backwards:
        size = min(params.page_size, total - params.offset)
        sort = params.sort[1:] if params.sort.startswith("-") else "-" + params.sort
        params = replace(params, sort=sort, offset=total - params.offset - size, page_size=size)
    key = _key(stmt) if params.offset >= KEYS_FIRST_FROM else None
    if key is not None:
        keys = ordered(stmt.with_only_columns(key), spec, params).offset(params.offset).limit(params.page_size)
        window = ordered(stmt.where(key.in_(keys)), spec, params)
    else:
        window = ordered(stmt, spec, params).offset(params.offset).limit(params.page_size)
    return _rows(window, spec, backwards=backwards), total


def _rows_counted(window: Select[Any], counted: Select[Any]) -> tuple[list[Any], int | None]:
    """A plain-rows page and the list's count in one statement: the count rides along as a last column (an
    uncorrelated scalar subquery: PostgreSQL's InitPlan and SQLite both run it once), one round trip fewer.
    The rows come back without that column; the count is None when there is no row to carry it."""
    width = len(window.selected_columns)
    frozen = db.session.execute(window.add_columns(counted.scalar_subquery().label("listing_total"))).freeze()
    total = frozen.data[0][width] if frozen.data else None
    return list(frozen().columns(*range(width)).all()), total


def _rows(stmt: Select[Any], spec: ListSpec, *, backwards: bool = False) -> list[Any]:
    """Entities (unique(): a row's collections may be joined, as the domains list does), or plain rows when the
    statement selects columns (turned round when read `backwards`); then what the spec makes of them."""
    if _entity(stmt) is not None:
        rows: list[Any] = list(db.session.scalars(stmt).unique())
    else:
        rows = list(db.session.execute(stmt).all())
    if backwards:
        rows.reverse()
    return spec.rows(rows) if spec.rows is not None else rows


def everything(stmt: Select[Any], spec: ListSpec, params: ListParams) -> list[Any]:
    """The whole filtered, sorted list (exports)."""
    return _rows(ordered(filtered(stmt, spec, params), spec, params), spec)
