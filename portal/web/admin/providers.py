"""The outgoing providers catalog (system administrators)."""

from __future__ import annotations

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _

from ... import ids
from ...errors import ServiceError
from ...services import providers
from ...unit_of_work import attempt
from .. import forms
from ..render import render
from ..session import current_principal
from .blueprint import bp


def _page(status: int = 200, errors: dict[str, str] | None = None, form: object = None) -> Response:
    return render("admin/providers.html", status=status, providers=providers.catalog(), usage=providers.usage(),
                  errors=errors or {}, form=form or {})


@bp.get("/admin/providers")
def providers_list() -> Response:
    current_principal().require_sysadmin()
    return _page()


@bp.post("/admin/providers")
def provider_create() -> Response:
    try:
        with attempt():
            provider = providers.create(current_principal(), request.form.get("name", ""),
                                        request.form.get("spf_provider", ""))
    except ServiceError as error:
        return _page(error.status, forms.messages(error), request.form)
    flash(_("Provider %(name)s added.", name=provider.name), "success")
    return redirect(url_for("admin.providers_list"))


@bp.post("/admin/providers/<provider_id>/active")
def provider_active(provider_id: str) -> Response:
    provider = providers.set_active(current_principal(), ids.decode(provider_id), request.form.get("active") == "on")
    flash(_("Provider %(name)s saved.", name=provider.name), "success")
    return redirect(url_for("admin.providers_list"))


@bp.post("/admin/providers/<provider_id>/delete")
def provider_delete(provider_id: str) -> Response:
    providers.delete(current_principal(), ids.decode(provider_id))
    flash(_("Provider removed."), "success")
    return redirect(url_for("admin.providers_list"))
