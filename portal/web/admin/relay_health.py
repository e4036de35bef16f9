"""Relay checks on a domain's Platforms tab: *Check relay* per platform (a job; the card polls while it runs),
the last result with a plain-language fix per failing entry, and *Try these settings* in the platform form.

Without JavaScript the buttons post and come back to the tab; with HTMX they swap the platform's card."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _

from ... import ids
from ...errors import NotFound, ServiceError
from ...extensions import htmx
from ...models import HealthReport, Platform
from ...permissions import ObjectType, Permission
from ...schemas.relay_health import RelayCheckHealthDTO
from ...services import health, relay_health
from .. import forms
from ..render import render
from ..session import current_principal
from .blueprint import bp

CARD = "admin/domains/_relay_health.html"
CARD_PAGE = "admin/domains/relay_health.html"
TRY = "admin/domains/_relay_try.html"
TRY_PAGE = "admin/domains/relay_try.html"


def relay_checks(domain_id: int) -> dict[str, Any]:
    """For the Platforms tab (a template global): each platform's last report row, and whether checks may run."""
    principal = current_principal()
    return {"reports": relay_health.reports_of_domain(principal, domain_id), "fixes": relay_health.FIXES,
            "labels": relay_health.LABELS, "running": relay_health.running,
            "can_run": principal.holds_on(Permission.HEALTH_RUN, ObjectType.DOMAIN, domain_id)}


bp.add_app_template_global(relay_checks, "relay_checks")


def _platform(domain_id: str, platform_id: str) -> tuple[Platform, HealthReport | None]:
    platform, row = relay_health.status(current_principal(), ids.decode(platform_id))
    if platform.domain_id != ids.decode(domain_id):
        raise NotFound(_("Platform does not exist."))
    return platform, row


def _card(platform: Platform, row: HealthReport | None, domain_id: str, status: int = 200,
          error: str | None = None) -> Response:
    checks = relay_checks(platform.domain_id)
    return render(CARD_PAGE, CARD, status=status, p=platform, row=row, domain_id=domain_id, checks=checks,
                  error=error)


@bp.get("/admin/domains/<domain_id>/platforms/<platform_id>/health")
def relay_health_card(domain_id: str, platform_id: str) -> Response:
    """The platform's card: the last result, or progress while a check runs (the card polls itself); opened as
    a page (not by HTMX), the card on a page of its own."""
    platform, row = _platform(domain_id, platform_id)
    return _card(platform, row, domain_id)


@bp.post("/admin/domains/<domain_id>/platforms/<platform_id>/health")
def relay_health_check(domain_id: str, platform_id: str) -> Response:
    """*Check relay*: ask for the job; the card shows progress until its report is kept."""
    platform, _row = _platform(domain_id, platform_id)
    relay_health.get(current_principal(), platform.id, Permission.HEALTH_RUN)  # 403 here; a 429 is shown below
    try:  # no savepoint: the claim commits apart, and a refused ask (a 429, a bad address) wrote nothing
        relay_health.ask(current_principal(), platform.id, test_address=request.form.get("test_address"))
    except ServiceError as error:
        message = str(forms.messages(error).get("test_address") or error.detail)
        if not htmx:
            flash(message, "error")
            return redirect(url_for("admin.domain_tab", domain_id=domain_id, tab="platforms"))
        return _card(platform, health.last(health.PLATFORM, platform.id), domain_id, error=message)
    if not htmx:
        flash(_("The relay check has started."), "success")
        return redirect(url_for("admin.domain_tab", domain_id=domain_id, tab="platforms"))
    return _card(platform, health.last(health.PLATFORM, platform.id), domain_id)


def _number(value: str | None) -> int | str | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else (value or None)


@bp.post("/admin/domains/<domain_id>/relay-try")
def relay_try(domain_id: str) -> Response:
    """*Try these settings*: the platform form's relay and fallback, probed now; nothing is saved."""
    current_principal().reach(ids.decode(domain_id), Permission.HEALTH_RUN)
    form = request.form
    result: dict[str, Any] | None = None
    errors: dict[str, Any] = {}
    try:
        body = forms.parse(RelayCheckHealthDTO, {
            "domainId": domain_id, "transportDest": form.get("transport_dest", ""),
            "transportPort": _number(form.get("transport_port")) or 25,
            "transportType": form.get("transport_type") or "SMTP",
            "fallbackTransportDest": forms.blank_to_none(form.get("fallback_transport_dest")),
            "fallbackTransportPort": _number(form.get("fallback_transport_port")),
            "testAddress": forms.blank_to_none(form.get("test_address"))})
        result = relay_health.try_relay(current_principal(), body)
    except ServiceError as error:
        errors = forms.messages(error)
    # with HTMX the result replaces the form's result box; without, it is a page of its own
    return render(TRY_PAGE, TRY, status=200 if result is not None else 400, result=result, errors=errors,
                  checks={"fixes": relay_health.FIXES, "labels": relay_health.LABELS}, domain_id=domain_id)
