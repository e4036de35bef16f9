"""Brokers and customers: the list, new brokers (system administrators), new customers (DOMAIN_CREATE on
the broker), and a customer's page with its domains and its option values."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ... import ids
from ...errors import ServiceError
from ...extensions import db
from ...models import Domain
from ...options import OPTIONS, Scope
from ...permissions import ObjectType, Permission
from ...services import customers, options
from ...unit_of_work import attempt
from .. import forms
from ..listing import list_page
from ..render import render
from ..session import current_principal
from .blueprint import bp


def _list(status: int = 200, **extra: Any) -> Response:
    principal = current_principal()
    context: dict[str, Any] = {"form": {}, "form_errors": {}, **extra}
    return list_page(customers.list_query(principal), customers.LIST_SPEC, "admin/customers/list.html",
                     "admin/customers/_table.html", status=status, search_field="name",
                     brokers=customers.brokers_for_new_customers(principal), is_sysadmin=principal.is_sysadmin,
                     counts_for=customers.domain_counts, **context)


@bp.get("/admin/customers")
def customers_list() -> Response:
    return _list()


@bp.post("/admin/customers")
def customer_create() -> Response:
    form = request.form
    try:
        broker_id = ids.decode(form["broker_id"]) if form.get("broker_id") else None
        with attempt():
            customer = customers.create_customer(current_principal(), broker_id, form.get("name", ""),
                                                 form.get("description"), form.get("external_id"))
    except ServiceError as error:
        return _list(error.status, form=form, form_errors=forms.messages(error))
    flash(_("Customer %(name)s created.", name=customer.name), "success")
    return redirect(url_for("admin.customer_page", customer_id=ids.encode(customer.id)))


@bp.post("/admin/brokers")
def broker_create() -> Response:
    try:
        with attempt():
            broker = customers.create_broker(current_principal(), request.form.get("broker_name", ""),
                                             request.form.get("broker_description"))
    except ServiceError as error:
        errors = {f"broker_{k}": v for k, v in error.field_messages().items()} or {"_form": error.detail}
        return _list(error.status, form=request.form, form_errors=errors)
    flash(_("Broker %(name)s created.", name=broker.name), "success")
    return redirect(url_for("admin.customers_list"))


def _page(customer_id: str, status: int = 200, errors: dict[str, str] | None = None, form: Any = None) -> Response:
    principal = current_principal()
    customer = customers.get(principal, ids.decode(customer_id))
    chain = [(Scope.PLATFORM, 0), (Scope.CUSTOMER, customer.id)]
    domain_rows = list(db.session.scalars(select(Domain).where(Domain.customer_id == customer.id)
                                          .order_by(Domain.name).limit(200)))
    return render("admin/customers/page.html", status=status, customer=customer, customer_id=customer_id,
                  domain_rows=domain_rows, option_rows=options.listing(chain),
                  can_edit=customers.may_edit(principal, customer), is_sysadmin=principal.is_sysadmin,
                  can_create_domain=principal.holds_on(Permission.DOMAIN_CREATE, ObjectType.CUSTOMER, customer.id),
                  errors=errors or {}, form=form or {})


@bp.get("/admin/customers/<customer_id>")
def customer_page(customer_id: str) -> Response:
    return _page(customer_id)


def _editable(customer_id: str) -> list[tuple[Scope, int]]:
    principal = current_principal()
    customer = customers.get(principal, ids.decode(customer_id))
    if not customers.may_edit(principal, customer):
        abort(403)
    return [(Scope.PLATFORM, 0), (Scope.CUSTOMER, customer.id)]


@bp.post("/admin/customers/<customer_id>/options")
def customer_option_set(customer_id: str) -> Response:
    chain = _editable(customer_id)
    name = request.form.get("name", "")
    try:
        with attempt():
            options.set_value(current_principal(), chain, name, request.form.get("value", ""))
    except ServiceError as error:
        message = error.errors[0].message if error.errors else error.detail
        return _page(customer_id, error.status, {f"option.{name}": message}, request.form)
    flash(_("Option %(name)s saved.", name=name), "success")
    return redirect(url_for("admin.customer_page", customer_id=customer_id))


@bp.post("/admin/customers/<customer_id>/options/<name>/delete")
def customer_option_delete(customer_id: str, name: str) -> Response:
    chain = _editable(customer_id)
    if name not in OPTIONS:
        abort(404)
    options.delete_value(current_principal(), chain, name)
    flash(_("Option %(name)s now inherits its value.", name=name), "success")
    return redirect(url_for("admin.customer_page", customer_id=customer_id))
