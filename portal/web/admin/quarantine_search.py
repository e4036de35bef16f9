"""The help desk's domain-wide quarantine search (issue 15): a form (a domain of the admin's scope, or all of
them; sender, recipient, subject, Message-ID, quarantine id, reason, dates), then the search's page, which polls
itself with HTMX while the search runs (progress, failed mailboxes, the first hits), pages through the kept hits
and can cancel. Each hit opens the user's message page, where release / delete / allow / block work as there.
QUARANTINE_READ held anywhere; a search is its starter's only (services/quarantine_search.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, current_app, redirect, request, url_for
from flask_babel import gettext as _

from ... import ids
from ...errors import FieldError, Invalid, ServiceError
from ...services import mailboxes, quarantine_search
from ...unit_of_work import attempt
from ..render import render
from ..session import current_principal
from .blueprint import bp

PAGE_SIZE = 50
FIELDS = ("domainId", "sender", "recipient", "subject", "messageId", "fugluId", "reason", "receivedAfter",
          "receivedBefore")


def _day_ms(value: str, field: str, *, end: bool) -> int | None:
    """A form's YYYY-MM-DD as epoch ms: the day's start, or (`end`) the next day's start (the day included)."""
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise Invalid.on(field, _("Give a date as YYYY-MM-DD.")) from None
    return int(((day + timedelta(days=1)) if end else day).timestamp() * 1000)


def _values(form: Any) -> dict[str, Any]:
    values: dict[str, Any] = {name: form.get(name, "").strip() for name in FIELDS}
    errors: list[FieldError] = []
    for name, end in (("receivedAfter", False), ("receivedBefore", True)):
        try:
            values[name] = _day_ms(values[name], name, end=end)
        except Invalid as error:
            errors.extend(error.errors)
    if errors:
        raise Invalid(_("Invalid search."), errors)
    return values


def _form(status: int = 200, form: dict[str, str] | None = None, errors: dict[str, Any] | None = None,
          problem: str | None = None) -> Response:
    principal = current_principal()
    return render("admin/qsearch/form.html", status=status, form=form or {}, errors=errors or {}, problem=problem,
                  domains=[(ids.encode(d.id), d.name) for d in quarantine_search.searchable_domains(principal)],
                  reasons=mailboxes.REASONS, max_days=current_app.config["QSEARCH_MAX_DAYS"])


@bp.get("/admin/quarantine/search")
def quarantine_search_form() -> Response:
    quarantine_search.require_searcher(current_principal())
    return _form()


@bp.post("/admin/quarantine/search")
def quarantine_search_start() -> Response:
    principal = current_principal()
    quarantine_search.require_searcher(principal)
    form = {name: request.form.get(name, "") for name in FIELDS}
    try:
        with attempt():
            search = quarantine_search.start(principal, _values(request.form))
    except ServiceError as error:
        if error.status not in (400, 422):
            raise
        return _form(error.status, form, error.field_messages(), str(error.detail))
    return redirect(url_for("admin.quarantine_search_results", search_id=search.id))


@bp.get("/admin/quarantine/search/<search_id>")
def quarantine_search_results(search_id: str) -> Response:
    """The search's page; for HTMX (its own polling, its pager) the live part only."""
    principal = current_principal()
    quarantine_search.require_searcher(principal)
    search = quarantine_search.get(principal, search_id)
    try:
        offset = max(int(request.args.get("offset") or 0), 0)
    except ValueError:
        offset = 0
    rows, total = quarantine_search.page_of(search, offset, PAGE_SIZE)
    domain = quarantine_search.domain_name(search)
    return render("admin/qsearch/results.html", "admin/qsearch/_live.html", search=search, rows=rows, total=total,
                  offset=offset, page_size=PAGE_SIZE, failed=quarantine_search.failures(search), domain=domain,
                  criteria=search.criteria, encode=ids.encode, when=_when)


@bp.post("/admin/quarantine/search/<search_id>/cancel")
def quarantine_search_cancel(search_id: str) -> Response:
    principal = current_principal()
    quarantine_search.require_searcher(principal)
    quarantine_search.cancel(principal, search_id)
    return redirect(url_for("admin.quarantine_search_results", search_id=search_id))


def _when(value: datetime | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        value = datetime.fromtimestamp(value / 1000, UTC)
    return value.strftime("%Y-%m-%d %H:%M")
