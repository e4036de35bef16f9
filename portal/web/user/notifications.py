"""The mailbox user's Notifications page: the quarantine digest's frequency, time, day, time zone, and the
language of mails and pages."""

from __future__ import annotations

import zoneinfo

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ...errors import ServiceError
from ...services import digest
from ...unit_of_work import attempt
from .. import forms
from ..render import render
from ..session import current_principal
from .blueprint import bp

_ZONES: list[str] = []


def _zones() -> list[str]:
    if not _ZONES:
        _ZONES.extend(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))
    return _ZONES


def _page(status: int = 200, errors: dict[str, str] | None = None, form: dict[str, str] | None = None) -> Response:
    user = current_user.user
    return render("user/notifications.html", status=status, choices=digest.choices(user), zones=_zones(),
                  frequencies=digest.FREQUENCIES, days=digest.DAYS, errors=errors or {}, form=form,
                  language=user.language, runs=digest.recent_runs(user))


@bp.route("/notifications", methods=["GET", "POST"])
@login_required
def notifications() -> Response:
    if request.method == "GET":
        return _page()
    form = {name: request.form.get(name, "") for name in (*digest.SETTING_FIELDS, "language")}
    try:
        with attempt():
            digest.save_settings(current_principal(), current_user.user, form)
    except ServiceError as error:
        return _page(error.status, forms.messages(error), form)
    flash(_("Your notification settings were saved."), "success")
    return redirect(url_for("user.notifications"))
