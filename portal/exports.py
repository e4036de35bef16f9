"""Whole-list exports: CSV and spreadsheet (openpyxl), for the API (chosen by the Accept header) and the
pages (an `export=` link) alike."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flask import Response, request

CSV = "text/csv"
EXCEL = "application/vnd.ms-excel"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON = "application/json"

Column = tuple[str, Callable[[Any], Any]]


def wanted_format() -> str:
    """JSON unless the client prefers CSV or a spreadsheet."""
    return request.accept_mimetypes.best_match([JSON, CSV, EXCEL, XLSX], default=JSON) or JSON


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # no formula injection when the file is opened in a spreadsheet
    return value


def export(rows: Iterable[Any], columns: Sequence[Column], fmt: str, name: str) -> Response:
    header = [title for title, _ in columns]
    if fmt == CSV:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(get(row)) for _, get in columns])
        data, mimetype, suffix = out.getvalue().encode(), "text/csv; charset=utf-8", "csv"
    else:
        from openpyxl import Workbook  # here: its ~175 modules stay out of every worker that never exports

        book = Workbook(write_only=True)
        sheet = book.create_sheet(name[:31])
        sheet.append(header)
        for row in rows:
            sheet.append([_cell(get(row)) for _, get in columns])
        buffer = io.BytesIO()
        book.save(buffer)
        data, mimetype, suffix = buffer.getvalue(), fmt, "xlsx"
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{suffix}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
