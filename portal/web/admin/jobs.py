"""The jobs page (system administrators): the queue, and the jobs that failed — retry or dismiss them."""

from __future__ import annotations

from flask import Response, flash, redirect, url_for
from flask_babel import gettext as _

from ...jobs import status
from ..render import render
from ..session import current_principal
from .blueprint import bp


@bp.get("/admin/jobs")
def jobs_page() -> Response:
    current_principal().require_sysadmin()
    return render("admin/jobs.html", overview=status.overview())


@bp.post("/admin/jobs/<job_id>/retry")
def job_retry(job_id: str) -> Response:
    current_principal().require_sysadmin()
    status.retry(job_id)
    flash(_("The job is queued again."), "success")
    return redirect(url_for("admin.jobs_page"))


@bp.post("/admin/jobs/<job_id>/dismiss")
def job_dismiss(job_id: str) -> Response:
    current_principal().require_sysadmin()
    status.dismiss(job_id)
    flash(_("The failure is dismissed."), "success")
    return redirect(url_for("admin.jobs_page"))
