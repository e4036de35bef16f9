"""The dashboard: what the signed-in admin can reach, and how the system runs."""

from __future__ import annotations

from flask import Response, redirect, url_for

from ...jobs import status
from ...services import system
from ..render import render
from ..session import current_principal
from .blueprint import bp
from .health import failing_panel


@bp.get("/")
def dashboard() -> Response:
    principal = current_principal()
    jobs = status.health() if principal.is_sysadmin else None  # the moving parts: system administrators
    return render("admin/dashboard.html", overview=system.overview(principal), jobs=jobs,
                  failing=failing_panel(principal))


@bp.get("/admin")
def admin_home() -> Response:
    return redirect(url_for("admin.dashboard"))
