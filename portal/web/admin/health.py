"""Domain diagnostics pages: the domain's *Health* tab (its last report, each check with its fix, *Run now* and
the progress HTMX polls), the *DNS records to publish* page, and the context of the dashboard's failing panel.

The tab's context comes from `health_tab()` (called by `domains._tab_context`); *Run now* asks for the
`domain_health` job (services/domain_health.request_run: rate-limited per domain, like the API) and answers the
progress fragment, which polls `/health/status` every 2 s until the report's state is done."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, url_for
from flask_babel import gettext as _

from ... import ids
from ...errors import ServiceError
from ...extensions import db
from ...models import Domain, Platform
from ...permissions import ObjectType, Permission
from ...services import domain_health, domains, health
from ...services.principal import Principal
from ..render import render, wants_fragment
from ..session import current_principal
from .blueprint import bp


def health_tab(principal: Principal, domain: Domain) -> dict[str, Any]:
    """What the Health tab shows: the last report (or none), its fixes, whether a run is on its way."""
    row = health.last(health.DOMAIN, domain.id)
    return {"health_row": row, "health": health.entity_health(row),
            "fixes": domain_health.fixes(domain, row.report if row else None),
            "running": row is not None and row.state == "running",
            "can_run": principal.holds_on(Permission.HEALTH_RUN, ObjectType.DOMAIN, domain.id)}


def _domain(domain_id: str) -> Domain:
    return domains.get(current_principal(), ids.decode(domain_id), Permission.DOMAIN_READ)


def _progress(domain: Domain, status: int = 200, refused: str | None = None) -> Response:
    principal = current_principal()
    return render("admin/domains/_health_report.html", status=status, domain=domain, domain_id=ids.encode(domain.id),
                  refused=refused, **health_tab(principal, domain))


@bp.post("/admin/domains/<domain_id>/health")
def domain_health_run(domain_id: str) -> Response:
    """*Run now*: ask for the job; the answer is the report fragment, polling while the job runs."""
    principal = current_principal()
    domain = _domain(domain_id)
    back = url_for("admin.domain_tab", domain_id=domain_id, tab="health")
    try:
        domain_health.request_run(principal, domain.id)
    except ServiceError as error:
        if error.status in (403, 404):
            raise
        if not wants_fragment():
            flash(str(error.detail), "error")
            return redirect(back)
        return _progress(domain, refused=str(error.detail))
    if not wants_fragment():
        flash(_("The diagnostics are running…"), "success")
        return redirect(back)
    return _progress(domain)


@bp.get("/admin/domains/<domain_id>/health/status")
def domain_health_status(domain_id: str) -> Response:
    """The report fragment (HTMX polls it while a run is on its way); a browser without HTMX gets the tab."""
    domain = _domain(domain_id)
    if not wants_fragment():
        return redirect(url_for("admin.domain_tab", domain_id=domain_id, tab="health"))
    return _progress(domain)


@bp.get("/admin/domains/<domain_id>/dns")
def domain_dns_records(domain_id: str) -> Response:
    """The DNS records the domain should publish for this gateway, each with a copy button."""
    domain = _domain(domain_id)
    return render("admin/domains/dns.html", domain=domain, domain_id=domain_id,
                  records=domain_health.records_to_publish(domain), policy=domain_health.mta_sts_policy(domain),
                  labels=domain_health.CHECK_LABELS, title=_("DNS records to publish"))


def failing_panel(principal: Principal) -> list[dict[str, Any]]:
    """The dashboard's panel: failing domains and relays the admin may see, with a link each (at most 20)."""
    rows = []
    for kind, pk, name, row in health.visible_failing(principal)[:20]:
        entries = (row.report or {}).get("entries", [])
        failing_checks = [str(e.get("type")) for e in entries if str(e.get("result", "")).startswith("ERROR")]
        rows.append({"kind": kind, "id": ids.encode(pk), "name": name, "since": row.failing_since,
                     "checks": failing_checks, "platform_domain": _platform_domain(pk) if kind == health.PLATFORM
                     else None})
    return rows


def _platform_domain(platform_id: int) -> str | None:
    platform = db.session.get(Platform, platform_id)
    return ids.encode(platform.domain_id) if platform is not None else None
