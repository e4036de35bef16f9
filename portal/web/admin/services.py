"""Filter services (issue 17): a card per service (ClamAV, SpamAssassin) with its status, version, a self-test
button (HTMX swaps the card; without JavaScript the page comes back with the result) and, for sysadmins, the
start / stop switch (stop asks for a confirmation). Seen by sysadmins and QUEUE_MANAGE operators.

The first view does not run the self-tests (a PING each); the button does. A failing or missing start/stop
command is flashed with its exit code and output; nothing else changes."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _

from ...errors import BadGateway, Conflict, Forbidden
from ...services import filter_services
from ..render import render, wants_fragment
from ..session import current_principal
from .blueprint import bp

PAGE = "admin/services/page.html"
CARD = "admin/services/_card.html"


def _cards(tested: str | None = None) -> list[dict[str, Any]]:
    return [_card(name, self_test=name == tested) for name in filter_services.names()]


def _card(name: str, *, self_test: bool) -> dict[str, Any]:
    principal = current_principal()
    result = filter_services.status(principal, name, self_test=self_test)
    return {**result, "label": filter_services.label(name),
            "can_start": filter_services.command_line(name, True) is not None,
            "can_stop": filter_services.command_line(name, False) is not None}


def _require_reader() -> None:
    if not filter_services.may_read(current_principal()):
        raise Forbidden(_("Seeing the filter services needs the QUEUE_MANAGE permission."))


@bp.get("/admin/services")
def services_page() -> Response:
    _require_reader()
    return render(PAGE, cards=_cards())


@bp.post("/admin/services/<name>/self-test")
def service_self_test(name: str) -> Response:
    """Run the service's self-test: its card (HTMX), or the page with the card's result."""
    _require_reader()
    filter_services.label(name)  # an unknown service: 404 before anything runs
    if wants_fragment():
        return render(CARD, CARD, card=_card(name, self_test=True))
    return render(PAGE, cards=_cards(tested=name))


@bp.post("/admin/services/<name>/enabled")
def service_enabled(name: str) -> Response:
    """Start (`enabled=true`) or stop the service with its configured command (sysadmins)."""
    enabled = request.form.get("enabled") == "true"
    label = filter_services.label(name)
    try:
        result = filter_services.set_enabled(current_principal(), name, enabled)
    except (Conflict, BadGateway) as error:
        flash(str(error.detail), "error")
        return redirect(url_for("admin.services_page"))
    message = _("%(name)s: the start command ran.", name=label) if enabled else \
        _("%(name)s: the stop command ran.", name=label)
    flash(f"{message} {result['output']}".strip(), "success")
    return redirect(url_for("admin.services_page"))
