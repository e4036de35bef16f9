"""Installation-wide option values (system administrators): what every customer, domain and user
inherits unless they set their own."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from ...errors import ServiceError
from ...options import OPTIONS, Scope
from ...services import options
from ...unit_of_work import attempt
from ..render import render
from ..session import current_principal
from .blueprint import bp

CHAIN = [(Scope.PLATFORM, 0)]


def _page(status: int = 200, errors: dict[str, str] | None = None, form: object = None) -> Response:
    return render("admin/installation.html", status=status, option_rows=options.listing(CHAIN),
                  errors=errors or {}, form=form or {})


@bp.get("/admin/options")
def installation_options() -> Response:
    current_principal().require_sysadmin()
    return _page()


@bp.post("/admin/options")
def installation_option_set() -> Response:
    principal = current_principal()
    principal.require_sysadmin()
    name = request.form.get("name", "")
    try:
        with attempt():
            options.set_value(principal, CHAIN, name, request.form.get("value", ""))
    except ServiceError as error:
        message = error.errors[0].message if error.errors else error.detail
        return _page(error.status, {f"option.{name}": message}, request.form)
    flash(_("Option %(name)s saved.", name=name), "success")
    return redirect(url_for("admin.installation_options"))


@bp.post("/admin/options/<name>/delete")
def installation_option_delete(name: str) -> Response:
    principal = current_principal()
    principal.require_sysadmin()
    if name not in OPTIONS:
        abort(404)
    options.delete_value(principal, CHAIN, name)
    flash(_("Option %(name)s now inherits its value.", name=name), "success")
    return redirect(url_for("admin.installation_options"))
