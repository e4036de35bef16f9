"""The dashboard: what the signed-in admin can reach, and how the system runs."""

from __future__ import annotations

from flask import Response, redirect, url_for

from ...services import system
from ..render import render
from ..session import current_principal
from .blueprint import bp


@bp.get("/")
def dashboard() -> Response:
    principal = current_principal()
    return render("admin/dashboard.html", overview=system.overview(principal))


@bp.get("/admin")
def admin_home() -> Response:
    return redirect(url_for("admin.dashboard"))
