"""List pages: the shared listing conventions, CSV / spreadsheet export, HTMX fragments."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Response, request, url_for
from sqlalchemy import Select
from werkzeug.datastructures import MultiDict

from .. import exports
from ..errors import Invalid
from ..services import listing
from .render import render

PAGE_SIZES = (20, 40, 100)


@dataclass
class MailPage:
    """Where a page of a mail folder is (the store pages, not SQL): what the sort links and pager read."""

    offset: int
    page_size: int
    sort: str

    @classmethod
    def of(cls, args: Mapping[str, str], default_size: int = 40) -> MailPage:
        try:
            return cls(max(int(args.get("offset") or 0), 0), int(args.get("pageSize") or default_size),
                       args.get("sort") or "-sentDate")
        except ValueError:
            return cls(0, default_size, "-sentDate")


def search_pattern(word: str) -> str:
    """What a word typed in a page's search box looks for: a plain word means "contains" (`spam` is
    `*spam*`), a word that starts or ends with `*` keeps its wildcards (`spam*` starts with `spam`).

    The pages' rule only: the API keeps its exact-unless-`*` filters (`services.listing.wildcard`, which
    also makes `%`, `_` and `\\` literal)."""
    word = word.strip()
    if not word or word.startswith("*") or word.endswith("*"):
        return word
    return f"*{word}*"


def mail_search(word: str) -> str:
    """`search_pattern` for a mail folder's search: the store (IMAP SEARCH) matches substrings, so the
    pattern's outer stars are dropped (`spam*` and `spam` both find what contains `spam`)."""
    return search_pattern(word).strip("*")


def list_url(**changes: Any) -> str:
    """The current list URL with some parameters changed (None removes one)."""
    args: dict[str, Any] = {**(request.view_args or {}), **request.args.to_dict()}
    args.update(changes)
    return url_for(request.endpoint or "", **{k: v for k, v in args.items() if v not in (None, "")})


def list_page(stmt: Select[Any], spec: listing.ListSpec, template: str, fragment: str, *,
              columns: Sequence[exports.Column] = (), export_name: str = "export", status: int = 200,
              rows_context: Callable[[Sequence[Any]], Mapping[str, Any]] | None = None,
              search_field: str | None = None, unfiltered_total: int | None = None, **context: Any) -> Response:
    """Render a page of `stmt` (bad parameters fall back to defaults, with a message), or export it.

    `search_field`: the filter parameter of the page's search box; its word is a `search_pattern` (an
    exact filter, such as an enum, stays as typed) and goes back to the page as `search`.
    `rows_context` adds what the template needs about the rows of this page (looked up once per page);
    `unfiltered_total`: the list's count without a filter, when it is kept (listing.page)."""
    args: Mapping[str, str] = request.args
    if search_field is not None:
        typed = request.args.get(search_field, "")
        context.setdefault("search", typed)
        if typed and search_field not in spec.exact_filters:
            args = MultiDict(request.args)
            args[search_field] = search_pattern(typed)
    try:
        params, errors = listing.parse(args, spec, max(PAGE_SIZES)), {}
    except Invalid as error:
        params, errors = listing.ListParams(sort=spec.default_sort), error.field_messages()
    fmt = {"csv": exports.CSV, "xlsx": exports.XLSX}.get(request.args.get("export", ""))
    if fmt and columns:
        return exports.export(listing.everything(stmt, spec, params), columns, fmt, export_name)
    rows, total = listing.page(stmt, spec, params, unfiltered_total=unfiltered_total)
    if rows_context is not None:
        context.update(rows_context(rows))
    context.setdefault("filtered", context.get("search") or params.filter_value or "")  # the word as typed
    context.setdefault("clear_url", clear_search_url(params.filter_name))
    return render(template, fragment, status=status, rows=rows, total=total, params=params, errors=errors,
                  page_sizes=PAGE_SIZES, **context)


def clear_search_url(*names: str | None) -> str:
    """The current list without its search or filter parameters (`names`), from its first page."""
    return list_url(offset=None, **{name: None for name in names if name})
