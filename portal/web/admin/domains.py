"""Domain pages: list, creation, and the domain page with its tabs."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ... import ids, serializers
from ...errors import Invalid, NotFound, ServiceError
from ...extensions import db
from ...models import Admin, Customer, Domain
from ...options import OPTIONS
from ...permissions import ADMIN_PERMISSIONS, END_USER_PERMISSIONS, ObjectType, Permission
from ...schemas.accounts import AdminAdd
from ...schemas.domains import DomainAdd, DomainStatus, DomainUpdate, PlatformIn
from ...services import admins, dkim, domain_rows, domains, options, providers
from ...services.principal import ANY_AUTHORITY
from ...unit_of_work import attempt
from .. import forms
from ..i18n import LANGUAGES
from ..listing import list_page
from ..render import render
from ..session import current_principal
from .blueprint import bp
from .health import health_tab

# The domain page's tabs and the permission that opens each; an admin sees the tabs they may open (and the links
# to the domain's users and rules pages likewise), so one who holds only USER_READ on a domain lands on its users.
TAB_NEEDS: dict[str, Permission] = {
    "settings": Permission.DOMAIN_READ, "aliases": Permission.DOMAIN_READ, "platforms": Permission.DOMAIN_READ,
    "policies": Permission.DOMAIN_READ, "options": Permission.DOMAIN_READ, "admins": Permission.GRANT,
    "access": Permission.DOMAIN_READ, "dkim": Permission.DOMAIN_READ, "health": Permission.DOMAIN_READ,
}
TABS = tuple(TAB_NEEDS)


@bp.get("/admin/domains")
def domains_list() -> Response:
    principal = current_principal()
    stmt = domain_rows.as_rows(domains.list_query(principal, ANY_AUTHORITY))
    return list_page(stmt, domain_rows.ROWS_SPEC, "admin/domains/list.html", "admin/domains/_table.html",
                     columns=serializers.DOMAIN_COLUMNS, export_name="domains",
                     search_field="name", status_filter=request.args.get("status", ""),
                     statuses=[s.value for s in DomainStatus],
                     can_create=principal.holds_anywhere(Permission.DOMAIN_CREATE))


def _creatable_customers() -> list[Customer]:
    scope = current_principal().scope(Permission.DOMAIN_CREATE)
    return list(db.session.scalars(select(Customer).where(scope.customer_clause()).order_by(Customer.name)
                                   .limit(500)))


@bp.route("/admin/domains/new", methods=["GET", "POST"])
def domain_new() -> Response:
    principal = current_principal()
    if not principal.holds_anywhere(Permission.DOMAIN_CREATE):
        abort(403)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = request.form
        platform = None
        if form.get("transport_dest", "").strip():
            platform = {"name": form.get("platform_name") or "relay", "transportDest": form["transport_dest"],
                        "transportType": form.get("transport_type", "SMTP"),
                        "transportPort": form.get("transport_port") or 25, "default": True}
        try:
            body = forms.parse(DomainAdd, {
                "name": form.get("name", ""), "customerId": form.get("customer_id") or None,
                "status": form.get("status", "ENABLED"), "defaultLanguage": form.get("default_language", "EN"),
                "quarantine": form.get("quarantine") == "on", "retention": form.get("retention") == "on",
                "archive": form.get("archive") == "on", "description": forms.blank_to_none(form.get("description")),
                "platforms": [platform] if platform else [],
            })
            with attempt():
                domain = domains.create(principal, body, ignore_mx=form.get("ignore_mx") == "on")
            flash(_("Domain %(name)s was created.", name=domain.name), "success")
            return redirect(url_for("admin.domain_tab", domain_id=ids.encode(domain.id), tab="settings", created=1))
        except ServiceError as error:
            errors, status = forms.messages(error), error.status
    return render("admin/domains/new.html", status=status, form=request.form, errors=errors,
                  customers=_creatable_customers(), languages=LANGUAGES,
                  statuses=[s.value for s in DomainStatus if s != DomainStatus.DELETED])


def _domain(domain_id: str, need: Permission = Permission.DOMAIN_READ) -> Domain:
    return domains.get(current_principal(), ids.decode(domain_id), need)


def _open_tabs(domain: Domain) -> list[str]:
    principal = current_principal()
    return [tab for tab, need in TAB_NEEDS.items() if principal.holds_on(need, ObjectType.DOMAIN, domain.id)]


def _tab_context(domain: Domain, tab: str | None) -> dict[str, Any]:
    principal = current_principal()
    ctx: dict[str, Any] = {
        "domain": domain, "domain_id": ids.encode(domain.id), "tab": tab, "tabs": _open_tabs(domain),
        "can_edit": principal.holds_on(Permission.DOMAIN_EDIT, ObjectType.DOMAIN, domain.id),
        "can_grant": principal.holds_on(Permission.GRANT, ObjectType.DOMAIN, domain.id),
        "can_users": principal.holds_on(Permission.USER_READ, ObjectType.DOMAIN, domain.id),
        "can_rules": principal.holds_on(Permission.DOMAIN_READ, ObjectType.DOMAIN, domain.id),
        "is_sysadmin": principal.is_sysadmin, "languages": LANGUAGES,
        "statuses": [s.value for s in DomainStatus if s != DomainStatus.DELETED],
    }
    if tab == "settings":
        ctx["providers"] = providers.catalog()
    elif tab == "options":
        ctx["option_rows"] = options.listing(options.domain_chain(domain))
    elif tab == "admins" and ctx["can_grant"]:
        stmt = admins.domain_admins_query(principal, domain).options(selectinload(Admin.authorities))
        ctx["domain_admins"] = list(db.session.scalars(stmt.order_by(Admin.login)))
        ctx["permissions"] = ADMIN_PERMISSIONS
    elif tab == "access":
        ctx["access"] = domains.end_user_access(domain)
        ctx["access_help"] = END_USER_PERMISSIONS
    elif tab == "dkim":  # the tab's forms: portal/web/admin/dkim.py
        ctx["dkim"] = dkim.overview(domain)
        ctx["can_dkim"] = principal.holds_on(Permission.DKIM_EDIT, ObjectType.DOMAIN, domain.id)
        ctx["dkim_selector"] = dkim.default_selector(domain)
    elif tab == "health":
        ctx.update(health_tab(principal, domain))
    return ctx


def _render_tab(domain: Domain, tab: str, status: int = 200, **extra: Any) -> Response:
    if tab not in TABS:
        abort(404)
    return render("admin/domains/page.html", "admin/domains/_tabs.html", status=status,
                  **_tab_context(domain, tab), **extra)


@bp.get("/admin/domains/<domain_id>")
def domain_page(domain_id: str) -> Response:
    """The domain's first section the admin may open: a tab, else its users; else the page without a section."""
    domain = domains.get(current_principal(), ids.decode(domain_id), ANY_AUTHORITY)
    tabs = _open_tabs(domain)
    if tabs:
        return redirect(url_for("admin.domain_tab", domain_id=domain_id, tab=tabs[0]))
    context = _tab_context(domain, None)
    if context["can_users"]:
        return redirect(url_for("admin.domain_users", domain_id=domain_id))
    return render("admin/domains/page.html", "admin/domains/_tabs.html", **context, form={}, errors={})


@bp.get("/admin/domains/<domain_id>/tab/<tab>")
def domain_tab(domain_id: str, tab: str) -> Response:
    if tab not in TABS:
        abort(404)
    return _render_tab(_domain(domain_id, TAB_NEEDS[tab]), tab, form={}, errors={})


def _after(domain_id: str, tab: str, message: str) -> Response:
    flash(message, "success")
    return redirect(url_for("admin.domain_tab", domain_id=domain_id, tab=tab))


def _failed(domain_id: str, tab: str, error: ServiceError, **extra: Any) -> Response:
    """The tab again with the error (the call ran in `attempt()`: nothing it wrote is left)."""
    domain = _domain(domain_id)
    return _render_tab(domain, tab, status=error.status,
                       errors=forms.messages(error), **extra)


@bp.post("/admin/domains/<domain_id>/settings")
def domain_settings(domain_id: str) -> Response:
    form = request.form
    subnets = [line.strip() for line in form.get("outgoing_subnets", "").splitlines() if line.strip()]
    domain = _domain(domain_id, Permission.DOMAIN_EDIT)
    current_policy = ids.encode(domain.default_policy.id) if domain.default_policy else None
    chosen_policy = form.get("policy_id") or None
    try:
        body = forms.parse(DomainUpdate, {
            "description": forms.blank_to_none(form.get("description")), "status": form.get("status"),
            "wblistPriority": form.get("wblist_priority"), "defaultLanguage": form.get("default_language"),
            "autoProvisioningOn": form.get("auto_provisioning_on") == "on",
            "senderVerifyOn": form.get("sender_verify_on") == "on",
            "externalId": forms.blank_to_none(form.get("external_id")), "outgoingSubnets": subnets,
            "outgoingProvidersIds": form.getlist("provider_ids"),
            # an unchanged default policy is not sent: changing it alone needs POLICY_ASSIGN
            **({"policyId": chosen_policy} if chosen_policy and chosen_policy != current_policy else {}),
        })
        with attempt():
            domains.update(current_principal(), domain.id, body, ignore_mx=form.get("ignore_mx") == "on")
    except ServiceError as error:
        return _failed(domain_id, "settings", error, form=form)
    return _after(domain_id, "settings", _("Settings saved."))


@bp.route("/admin/domains/<domain_id>/delete", methods=["GET", "POST"])
def domain_delete(domain_id: str) -> Response:
    domain = _domain(domain_id)
    if request.method == "GET":
        current_principal().require_sysadmin()  # as domains.delete: the page is only for who may confirm
        return render("admin/domains/delete.html", domain=domain, domain_id=domain_id, errors={})
    try:
        with attempt():
            domains.delete(current_principal(), domain.id, ignore_mx=request.form.get("ignore_mx") == "on")
    except ServiceError as error:
        return render("admin/domains/delete.html", status=error.status, domain=_domain(domain_id),
                      domain_id=domain_id, errors=forms.messages(error))
    return _after(domain_id, "settings", _("The domain is deleted; it can be restored until its purge date."))


@bp.post("/admin/domains/<domain_id>/revert")
def domain_revert(domain_id: str) -> Response:
    domains.update(current_principal(), ids.decode(domain_id), DomainUpdate(status=DomainStatus.ENABLED),
                   ignore_mx=True)
    return _after(domain_id, "settings", _("The deletion was reverted."))


@bp.post("/admin/domains/<domain_id>/aliases")
def domain_alias_add(domain_id: str) -> Response:
    name = request.form.get("alias", "")
    try:
        with attempt():
            domains.add_aliases(current_principal(), ids.decode(domain_id), [name])
    except ServiceError as error:
        error = type(error)(error.detail, [type(e)("alias", e.message) for e in error.errors])
        return _failed(domain_id, "aliases", error, form=request.form)
    return _after(domain_id, "aliases", _("Alias added."))


@bp.post("/admin/domains/<domain_id>/aliases/<alias_id>/delete")
def domain_alias_delete(domain_id: str, alias_id: str) -> Response:
    domains.delete_alias(current_principal(), ids.decode(domain_id), ids.decode(alias_id))
    return _after(domain_id, "aliases", _("Alias removed."))


def _platform_items(domain: Domain) -> list[dict[str, Any]]:
    return [serializers.platform_out(p) for p in domain.platforms]  # type: ignore[union-attr]


@bp.post("/admin/domains/<domain_id>/platforms")
def domain_platform_save(domain_id: str) -> Response:
    domain = _domain(domain_id, Permission.DOMAIN_EDIT)
    form = request.form
    item = {
        "name": form.get("name", ""), "transportDest": form.get("transport_dest", ""),
        "transportType": form.get("transport_type", "SMTP"), "transportPort": form.get("transport_port") or 25,
        "fallbackTransportDest": forms.blank_to_none(form.get("fallback_transport_dest")),
        "fallbackTransportPort": form.get("fallback_transport_port") or None,
        "authType": form.get("auth_type", "local"), "default": form.get("default") == "on",
    }
    items = _platform_items(domain)
    platform_id = form.get("platform_id")
    if platform_id:
        for existing in items:
            if existing["id"] == platform_id:
                existing.update(item)
    else:
        items.append(item)
    if item["default"]:
        for existing in items:
            existing["default"] = existing is item or existing.get("id") == platform_id
    try:
        body = forms.parse(DomainUpdate, {"platforms": [forms.parse(PlatformIn, i).model_dump(by_alias=True)
                                                        for i in items]})
        with attempt():
            domains.update(current_principal(), domain.id, body, ignore_mx=True)
    except ServiceError as error:
        return _failed(domain_id, "platforms", error, form=form)
    return _after(domain_id, "platforms", _("Platform saved."))


@bp.post("/admin/domains/<domain_id>/platforms/<platform_id>/delete")
def domain_platform_delete(domain_id: str, platform_id: str) -> Response:
    domain = _domain(domain_id, Permission.DOMAIN_EDIT)
    items = [i for i in _platform_items(domain) if i["id"] != platform_id]
    try:
        with attempt():
            domains.update(current_principal(), domain.id, forms.parse(DomainUpdate, {"platforms": items}),
                           ignore_mx=True)
    except ServiceError as error:
        return _failed(domain_id, "platforms", error, form={})
    return _after(domain_id, "platforms", _("Platform removed."))


@bp.post("/admin/domains/<domain_id>/options")
def domain_option_set(domain_id: str) -> Response:
    domain = _domain(domain_id, Permission.DOMAIN_EDIT)
    name = request.form.get("name", "")
    try:
        with attempt():
            options.set_value(current_principal(), options.domain_chain(domain), name, request.form.get("value", ""))
    except ServiceError as error:
        error = type(error)(error.detail, [type(e)(f"option.{name}", e.message) for e in error.errors])
        return _failed(domain_id, "options", error, form=request.form)
    return _after(domain_id, "options", _("Option %(name)s saved.", name=name))


@bp.post("/admin/domains/<domain_id>/options/<name>/delete")
def domain_option_delete(domain_id: str, name: str) -> Response:
    domain = _domain(domain_id, Permission.DOMAIN_EDIT)
    if name not in OPTIONS:
        abort(404)
    options.delete_value(current_principal(), options.domain_chain(domain), name)
    return _after(domain_id, "options", _("Option %(name)s now inherits its value.", name=name))


@bp.post("/admin/domains/<domain_id>/access")
def domain_access(domain_id: str) -> Response:
    domains.set_end_user_access(current_principal(), ids.decode(domain_id), request.form.getlist("access"))
    return _after(domain_id, "access", _("End-user access saved."))


@bp.post("/admin/domains/<domain_id>/admins")
def domain_admin_add(domain_id: str) -> Response:
    domain = _domain(domain_id, Permission.GRANT)
    login = request.form.get("login", "").strip()
    unknown = Invalid.on("login", _("No administrator has this login (create the account first)."))
    try:
        target = admins.find_by_login(login) if login else None
        with attempt():  # an account one may not attach answers as an unknown login (the service's 404)
            admins.add_domain_admin(current_principal(), domain, forms.parse(AdminAdd, {
                "id": ids.encode(target.id) if target else "", "permissions": request.form.getlist("permissions")}))
    except NotFound as error:
        if "id" not in error.field_messages():
            raise
        return _failed(domain_id, "admins", unknown, form=request.form)
    except ServiceError as error:
        return _failed(domain_id, "admins", error, form=request.form)
    return _after(domain_id, "admins", _("Access given to %(login)s.", login=login))


@bp.post("/admin/domains/<domain_id>/admins/<admin_id>/revoke")
def domain_admin_revoke(domain_id: str, admin_id: str) -> Response:
    admins.revoke_domain_admin(current_principal(), _domain(domain_id, Permission.GRANT), ids.decode(admin_id))
    return _after(domain_id, "admins", _("Access revoked."))
