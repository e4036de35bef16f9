"""Mailbox users of a domain: list (server-side search, sort, paging, export), create, edit, delete."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ... import ids, serializers
from ...errors import ServiceError
from ...models import MailUser
from ...options import OPTIONS
from ...permissions import ObjectType, Permission
from ...schemas.users import NewUser, UpdateUser, UserStatus
from ...services import audit, domains, options, users
from ...unit_of_work import attempt
from .. import forms
from .. import session as web_session
from ..i18n import LANGUAGES
from ..listing import clear_search_url, list_page
from ..render import render
from ..session import current_principal
from .blueprint import bp


@bp.get("/admin/domains/<domain_id>/users")
def domain_users(domain_id: str) -> Response:
    principal = current_principal()
    domain, stmt = users.domain_list(principal, ids.decode(domain_id))
    return list_page(stmt, users.LIST_SPEC, "admin/users/list.html", "admin/users/_table.html",
                     columns=serializers.USER_COLUMNS, export_name=f"users-{domain.name}",
                     domain=domain, domain_id=domain_id, search_field="name", unfiltered_total=domain.users_count,
                     can_edit=principal.holds_on(Permission.USER_EDIT, ObjectType.DOMAIN, domain.id),
                     form={}, form_errors={})


@bp.post("/admin/domains/<domain_id>/users")
def domain_user_create(domain_id: str) -> Response:
    principal = current_principal()
    domain = domains.get(principal, ids.decode(domain_id), Permission.USER_EDIT)
    form = request.form
    local = form.get("local_part", "").strip()
    try:
        body = forms.parse(NewUser, {
            "email": f"{local}@{domain.name}", "firstname": forms.blank_to_none(form.get("firstname")),
            "lastname": forms.blank_to_none(form.get("lastname")),
            "password": forms.blank_to_none(form.get("password")), "domainId": domain_id,
            "sendNotification": form.get("send_notification") == "on",
        })
        with attempt():
            user = users.create(principal, body)
    except ServiceError as error:
        stmt = users.list_query(principal, domain)
        return list_page(stmt, users.LIST_SPEC, "admin/users/list.html", "admin/users/list.html",
                         status=error.status, domain=domain, domain_id=domain_id, search="", can_edit=True, form=form,
                         form_errors=forms.messages(error))
    flash(_("User %(email)s was created.", email=user.email), "success")
    return redirect(url_for("admin.user_edit", user_id=ids.encode(user.id)))


def _user_page(user: MailUser, status: int = 200, **extra: Any) -> Response:
    principal = current_principal()
    return render(
        "admin/users/edit.html", status=status, user=user, user_id=ids.encode(user.id), domain=user.domain,
        domain_id=ids.encode(user.domain_id), languages=LANGUAGES, statuses=[s.value for s in UserStatus],
        option_rows=options.listing(options.user_chain(user)),
        can_edit=principal.holds_on(Permission.USER_EDIT, ObjectType.DOMAIN, user.domain_id),
        can_assign=principal.holds_on(Permission.POLICY_ASSIGN, ObjectType.DOMAIN, user.domain_id),
        can_read_quarantine=principal.holds_on(Permission.QUARANTINE_READ, ObjectType.DOMAIN, user.domain_id),
        can_impersonate=user.enabled and principal.holds_on(Permission.IMPERSONATE, ObjectType.DOMAIN, user.domain_id),
        **{"form": {}, "errors": {}, **extra},
    )


@bp.route("/admin/users/<user_id>", methods=["GET", "POST"])
def user_edit(user_id: str) -> Response:
    principal = current_principal()
    user = users.get(principal, ids.decode(user_id))
    if request.method == "GET":
        return _user_page(user)
    form = request.form
    values: dict[str, Any] = {
        "firstname": forms.blank_to_none(form.get("firstname")), "lastname": forms.blank_to_none(form.get("lastname")),
        "status": form.get("status"), "language": form.get("language"),
        "senderVerifyOn": form.get("sender_verify_on") == "on", "platformId": form.get("platform_id") or None,
    }
    policy_id = form.get("policy_id") or None
    if policy_id != (ids.encode(user.policy_id) if user.policy_id else None):
        values["policyId"] = policy_id
    if form.get("password"):
        values["password"] = form["password"]
    try:
        with attempt():
            users.update(principal, user.id, forms.parse(UpdateUser, values))
    except ServiceError as error:
        return _user_page(users.get(principal, ids.decode(user_id)), error.status, form=form,
                          errors=forms.messages(error))
    flash(_("User saved."), "success")
    return redirect(url_for("admin.user_edit", user_id=user_id))


@bp.post("/admin/users/<user_id>/delete")
def user_delete(user_id: str) -> Response:
    principal = current_principal()
    user = users.get(principal, ids.decode(user_id), Permission.USER_EDIT)
    domain_id, email = ids.encode(user.domain_id), user.email
    users.delete(principal, user.id)
    flash(_("User %(email)s was deleted.", email=email), "success")
    return redirect(url_for("admin.domain_users", domain_id=domain_id))


@bp.post("/admin/users/<user_id>/options")
def user_option_set(user_id: str) -> Response:
    principal = current_principal()
    user = users.get(principal, ids.decode(user_id), Permission.USER_EDIT)
    name = request.form.get("name", "")
    try:
        with attempt():
            options.set_value(principal, options.user_chain(user), name, request.form.get("value", ""))
    except ServiceError as error:
        return _user_page(users.get(principal, ids.decode(user_id)), error.status,
                          errors={f"option.{name}": error.detail})
    flash(_("Option %(name)s saved.", name=name), "success")
    return redirect(url_for("admin.user_edit", user_id=user_id))


@bp.post("/admin/users/<user_id>/options/<name>/delete")
def user_option_delete(user_id: str, name: str) -> Response:
    principal = current_principal()
    user = users.get(principal, ids.decode(user_id), Permission.USER_EDIT)
    if name in OPTIONS:
        options.delete_value(principal, options.user_chain(user), name)
    return redirect(url_for("admin.user_edit", user_id=user_id))


@bp.post("/admin/users/<user_id>/impersonate")
def user_impersonate(user_id: str) -> Response:
    """Open the user's portal as the user (IMPERSONATE); the start, every change and the end are audited."""
    admin = current_user.admin
    user = audit.start(current_principal(), ids.decode(user_id))
    web_session.impersonate(admin, user)
    return redirect(url_for("user.home"))


@bp.get("/admin/audit")
def audit_list() -> Response:
    """What administrators changed and whose mail they read (the events about users one may see, and
    one's own; every event for a sysadmin), by target and by administrator."""
    actor = request.args.get("actor", "").strip()[:320]
    return list_page(audit.list_query(current_principal(), actor=actor), audit.LIST_SPEC, "admin/audit.html",
                     "admin/_audit_table.html", search_field="target", actor=actor,
                     filtered=request.args.get("target", "") or actor, clear_url=clear_search_url("target", "actor"))
