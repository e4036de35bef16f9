"""Administrator accounts: list (live search, sort, paging, export), create, edit, disable, delete."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _

from ... import ids
from ...errors import Forbidden, Invalid, ServiceError
from ...models import Admin
from ...permissions import ADMIN_PERMISSIONS, ObjectType, Permission
from ...schemas.accounts import AdminCreate, AdminUpdate, AuthorityIn
from ...serializers import ADMIN_COLUMNS
from ...services import admins, objects
from ...unit_of_work import attempt
from .. import forms
from ..i18n import LANGUAGES
from ..listing import list_page
from ..render import render
from ..session import current_principal
from .blueprint import bp


@bp.get("/admin/admins")
def admins_list() -> Response:
    return list_page(admins.list_rows(current_principal()), admins.ROWS_SPEC, "admin/admins/list.html",
                     "admin/admins/_table.html", columns=ADMIN_COLUMNS, export_name="admins", search_field="search",
                     rows_context=lambda rows: {"names": {(x.object_type, x.object_id): x.object_name
                                                          for r in rows for x in r.authorities if x.object_name}})


def _authority_from_form(prefix: str, field: str) -> AuthorityIn | None:
    """An authority from the form's object type, object name and permission boxes (None if no name)."""
    name = (request.form.get(f"{prefix}object_name") or "").strip()
    if not name:
        return None
    try:
        object_type = ObjectType(request.form.get(f"{prefix}object_type", ""))
    except ValueError as exc:
        raise Invalid.on(f"{field}.objectType", _("Choose a broker, customer or domain.")) from exc
    object_pk = objects.find_by_name(object_type, name, f"{field}.objectId")
    return AuthorityIn(
        object_type=object_type, object_id=ids.encode(object_pk),
        permissions=request.form.getlist(f"{prefix}permissions"),
    )


def _form_context(**extra: Any) -> dict[str, Any]:
    return {
        "languages": LANGUAGES,
        "object_types": list(ObjectType),
        "permissions": ADMIN_PERMISSIONS,
        **extra,
    }


@bp.route("/admin/admins/new", methods=["GET", "POST"])
def admin_new() -> Response:
    principal = current_principal()
    if not principal.holds_anywhere(Permission.GRANT):
        raise Forbidden(_("Creating administrators needs the GRANT permission."))
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            authority = _authority_from_form("", "authorities[0]")
            body = forms.parse(AdminCreate, {
                "login": request.form.get("login", ""),
                "displayName": forms.blank_to_none(request.form.get("display_name")),
                "email": request.form.get("email", ""),
                "password": request.form.get("password", ""),
                "language": request.form.get("language", "EN"),
                "enabled": request.form.get("enabled") == "on",
                "sysAdmin": request.form.get("sys_admin") == "on",
                "authorities": [authority.model_dump(by_alias=True)] if authority else [],
            })
            with attempt():
                admin = admins.create(principal, body)
            flash(_("Administrator %(login)s was created.", login=admin.login), "success")
            return redirect(url_for("admin.admin_edit", admin_id=ids.encode(admin.id)))
        except ServiceError as error:
            errors = forms.messages(error)
            status = error.status
    return render("admin/admins/new.html", status=status,
                  **_form_context(form=request.form, errors=errors, is_sysadmin=principal.is_sysadmin))


def _edit_context(target: Admin, **extra: Any) -> dict[str, Any]:
    principal = current_principal()
    me = principal.require_admin()
    grant = principal.scope(Permission.GRANT)
    return _form_context(
        target=target,
        target_id=ids.encode(target.id),
        names=admins.authority_names([target]),
        is_self=target.id == me.id,
        can_edit=target.id == me.id or admins.governs(principal, target),
        can_grant=target.id != me.id and not grant.empty,
        removable={(a.object_type, a.object_id) for a in target.authorities
                   if (target.id != me.id or principal.is_sysadmin) and grant.covers(a.object_type, a.object_id)},
        **extra,
    )


@bp.get("/admin/admins/<admin_id>")
def admin_edit(admin_id: str) -> Response:
    target = admins.get(current_principal(), ids.decode(admin_id))
    return render("admin/admins/edit.html", **_edit_context(target, form={}, errors={}))


@bp.post("/admin/admins/<admin_id>")
def admin_update(admin_id: str) -> Response:
    principal = current_principal()
    pk = ids.decode(admin_id)
    values: dict[str, Any] = {
        "displayName": forms.blank_to_none(request.form.get("display_name")),
        "email": request.form.get("email", ""),
        "language": request.form.get("language", "EN"),
    }
    if request.form.get("password"):
        values["password"] = request.form["password"]
    try:
        with attempt():
            admins.update(principal, pk, forms.parse(AdminUpdate, values))
    except ServiceError as error:
        target = admins.get(principal, pk)
        return render("admin/admins/edit.html", status=error.status, **_edit_context(
            target, form=request.form, errors=forms.messages(error)))
    flash(_("Changes saved."), "success")
    return redirect(url_for("admin.admin_edit", admin_id=admin_id))


@bp.post("/admin/admins/<admin_id>/authorities")
def admin_grant(admin_id: str) -> Response:
    principal = current_principal()
    pk = ids.decode(admin_id)
    try:
        authority = _authority_from_form("", "authority")
        if authority is None:
            raise Invalid.on("authority.objectId", _("Name the broker, customer or domain."))
        with attempt():
            admins.set_authority(principal, pk, authority)
    except ServiceError as error:
        target = admins.get(principal, pk)
        return render("admin/admins/edit.html", status=error.status, **_edit_context(
            target, form={}, grant_form=request.form,
            errors=error.field_messages() or {"_grant": error.detail}))
    flash(_("Authority saved."), "success")
    return redirect(url_for("admin.admin_edit", admin_id=admin_id))


@bp.post("/admin/admins/<admin_id>/authorities/<object_type>/<object_id>/delete")
def admin_revoke(admin_id: str, object_type: str, object_id: str) -> Response:
    try:
        kind = ObjectType(object_type)
    except ValueError as exc:
        raise Invalid.on("objectType", _("Unknown object type.")) from exc
    admins.set_authority(current_principal(), ids.decode(admin_id),
                         AuthorityIn(object_type=kind, object_id=object_id, permissions=[]))
    flash(_("Authority removed."), "success")
    return redirect(url_for("admin.admin_edit", admin_id=admin_id))


@bp.post("/admin/admins/<admin_id>/enabled")
def admin_toggle(admin_id: str) -> Response:
    enabled = request.form.get("enabled") == "true"
    admins.update(current_principal(), ids.decode(admin_id), AdminUpdate(enabled=enabled))
    flash(_("Account enabled.") if enabled else _("Account disabled: its sessions and tokens no longer work."),
          "success")
    return redirect(url_for("admin.admin_edit", admin_id=admin_id))


@bp.route("/admin/admins/<admin_id>/delete", methods=["GET", "POST"])
def admin_delete(admin_id: str) -> Response:
    principal = current_principal()
    target = admins.get(principal, ids.decode(admin_id))
    if request.method == "GET":
        if target.id == principal.require_admin().id or not admins.governs(principal, target):
            raise Forbidden("You may not delete this administrator.")  # as admins.delete: the page is for who may
        return render("admin/admins/delete.html", target=target, target_id=admin_id)
    login = target.login
    admins.delete(principal, target.id)
    flash(_("Administrator %(login)s was deleted.", login=login), "success")
    return redirect(url_for("admin.admins_list"))
