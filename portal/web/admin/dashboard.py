"""The dashboard: what the signed-in admin can reach, how the system runs, and the statistics of their scope."""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, request, url_for
from flask_babel import gettext as _

from ... import exports, ids
from ...errors import Invalid, NotFound
from ...jobs import status
from ...services import statistics, system
from .. import charts
from ..forms import messages
from ..render import render
from ..session import current_principal
from .blueprint import bp
from .health import failing_panel

TABLES = ("daily", "held_senders", "released_senders", "domains")


def _csv(numbers: statistics.Statistics, table: str) -> Response:
    """One table of the dashboard as CSV (the numbers, not the page)."""
    name = f"statistics-{table}-{numbers.range.start.isoformat()}-{numbers.range.end.isoformat()}"
    if table == "held_senders" or table == "released_senders":
        rows: list[Any] = numbers.top_held if table == "held_senders" else numbers.top_released
        return exports.export(rows, [("sender", lambda r: r[0]), ("count", lambda r: r[1])], exports.CSV, name)
    if table == "domains":
        return exports.export(numbers.top_domains, [("domain", lambda r: r[1]), ("held", lambda r: r[2])],
                              exports.CSV, name)
    columns: list[exports.Column] = [("day", lambda d: d.isoformat()), ("held", numbers.held_on)]
    columns += [(reason, lambda d, r=reason: numbers.held.get(d, {}).get(r, 0)) for reason in numbers.reasons]
    columns.append(("released", lambda d: numbers.released.get(d, 0)))
    return exports.export(numbers.range.days, columns, exports.CSV, name)


def _charts(numbers: statistics.Statistics) -> dict[str, charts.Chart]:
    days = numbers.range.days
    return {
        "held": charts.stacked_days(days, numbers.reasons, numbers.held,
                                    {r: str(statistics.reason_words(r)) for r in numbers.reasons}),
        "released": charts.stacked_days(days, ["released"], {d: {"released": n} for d, n in numbers.released.items()},
                                        {"released": str(statistics.KIND_WORDS[statistics.RELEASED])}),
        "held_senders": charts.horizontal(numbers.top_held),
        "released_senders": charts.horizontal(numbers.top_released),
        "domains": charts.horizontal([(name, n) for _i, name, n in numbers.top_domains]),
    }


@bp.get("/")
def dashboard() -> Response:
    principal = current_principal()
    jobs = status.health() if principal.is_sysadmin else None  # the moving parts: system administrators
    context: dict[str, Any] = {"numbers": None, "errors": {}, "asked": {}}
    if statistics.may_see(principal):
        asked = {"from": request.args.get("from", ""), "to": request.args.get("to", ""),
                 "domain": request.args.get("domain", "")}
        try:
            span = statistics.date_range(asked["from"], asked["to"])
        except Invalid as error:
            context["errors"] = messages(error)
            span = statistics.date_range(None, None)
        else:
            asked.update({"from": span.start.isoformat(), "to": span.end.isoformat()})
        numbers = None
        if asked["domain"]:
            try:
                numbers = statistics.read(principal, span, ids.decode(asked["domain"]))
            except NotFound:
                context["errors"] = {**context["errors"], "domain": _("Choose one of your domains.")}
        if numbers is None:
            numbers = statistics.read(principal, span)
        choices = statistics.choices(principal)
        table = request.args.get("table", "daily")
        if request.args.get("export") == "csv" and not context["errors"] and table in TABLES:
            return _csv(numbers, table)
        context.update(numbers=numbers, charts=_charts(numbers), asked=asked, choices=choices,
                       reason_words=statistics.reason_words, kind_words=statistics.KIND_WORDS)
    return render("admin/dashboard.html", overview=system.overview(principal), jobs=jobs,
                  failing=failing_panel(principal), status=400 if context["errors"] else 200, **context)


@bp.get("/admin")
def admin_home() -> Response:
    return redirect(url_for("admin.dashboard"))
