"""CSV import of rules: parse, then show what would change before anything is written.

The CSV has a header row; columns `value` and `type` are required, `expireAt` (ISO date-time or
epoch milliseconds), `description` and `spfOn` (true/false) are optional, others (`id`) are
ignored — the export of a list imports back as it is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ..errors import FieldError, Invalid
from ..extensions import db
from ..schemas.common import wire_name
from ..schemas.rules import FilterSenderAdd
from ..schemas.validation import message_for
from ..words import _l
from . import content_rules, names, wblist

MAX_ROWS = 20000


@dataclass
class Plan:
    added: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    kept: int = 0
    removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # adding rules that already exist (409)

    @property
    def applicable(self) -> bool:
        return not self.conflicts


def _ms(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp() * 1000)


def rows(text: str, required: set[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, stripped cells) of a CSV with a header line naming at least `required`."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or not required <= {f.strip() for f in reader.fieldnames}:
        raise Invalid.on("csv", _l("The first line must name the columns, with at least %(columns)s.",
                                    columns=", ".join(sorted(required))))
    for n, row in enumerate(reader, start=2):
        if n - 1 > MAX_ROWS:
            raise Invalid.on("csv", _l("At most %(num)d rules at once.", num=MAX_ROWS))
        yield n, {k.strip(): (v or "").strip() for k, v in row.items() if k}


def parse(text: str) -> list[FilterSenderAdd]:
    """The rules of a CSV text; errors name the line (`line 3.value`)."""
    items, errors = [], []
    for n, row in rows(text, {"value", "type"}):
        data: dict[str, Any] = {"value": row.get("value", ""), "type": row.get("type", "")}
        if row.get("expireAt"):
            try:
                data["expireAt"] = _ms(row["expireAt"])
            except ValueError:
                errors.append(FieldError(f"line {n}.expireAt", _l("Give a date-time such as 2026-12-31T23:59:00Z, "
                                                                  "or epoch milliseconds.")))
        if row.get("description"):
            data["description"] = row["description"]
        if row.get("spfOn"):
            data["spfOn"] = row["spfOn"].lower() in ("true", "1", "yes")
        elif data["type"].upper() == "ALLOW":
            data["spfOn"] = False
        try:
            names.address_or_domain(data["value"], f"line {n}.value")
        except Invalid as error:
            errors += error.errors
        try:
            items.append(FilterSenderAdd.model_validate(data))
        except ValidationError as exc:
            errors += [FieldError(f"line {n}.{wire_name(str(e['loc'][0]))}",
                                  message_for(e["loc"], e["type"], e.get("ctx") or {}, e.get("input")))
                       for e in exc.errors(include_url=False)]
    if errors:
        raise Invalid(_l("The CSV has errors."), errors)
    return items


def parse_content(kind_name: str, text: str) -> list[Any]:
    """Attachment or URI rules of a CSV (the export's columns, `id` ignored); errors name the line."""
    kind, schema = content_rules.KINDS[kind_name]
    items, errors = [], []
    for n, row in rows(text, {wire_name(name) for name in kind.identity}):
        try:
            items.append(schema.model_validate({k: v for k, v in row.items() if k != "id" and v}))
        except ValidationError as exc:
            errors += [FieldError(f"line {n}.{e['loc'][0] if e['loc'] else 'csv'}",
                                  message_for(e["loc"], e["type"], e.get("ctx") or {}, e.get("input")))
                       for e in exc.errors(include_url=False)]
    if errors:
        raise Invalid(_l("The CSV has errors."), errors)
    return items


def plan(owner: wblist.Owner, items: list[FilterSenderAdd], *, replace: bool) -> Plan:
    """What importing would do, validated as the import itself will be (nothing is written)."""
    try:
        rows = wblist.preview_rows(owner, items)
    except Invalid as error:
        raise Invalid(error.detail, [FieldError(_line(e.field), e.message) for e in error.errors]) from error
    current = {r.value: r for r in db.session.scalars(wblist.list_query(owner))}
    result = Plan()
    for row in rows:
        existing = current.get(row["value"])
        if existing is None:
            result.added.append(row)
        elif not replace:
            result.conflicts.append(row["value"])
        elif (existing.type, existing.expire_at, existing.description, existing.spf_on) != (
                row["type"], row["expire_at"], row["description"], row["spf_on"]):
            result.changed.append(row)
        else:
            result.kept += 1
    if replace:
        wanted = {row["value"] for row in rows}
        result.removed = sorted(v for v in current if v not in wanted)
    return result


def _line(field_name: str) -> str:
    """`[3].value` -> `line 5.value` (the header is line 1)."""
    if field_name.startswith("["):
        index, _, rest = field_name[1:].partition("]")
        if index.isdigit():
            return f"line {int(index) + 2}{rest}"
    return field_name
