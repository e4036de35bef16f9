"""Domain filter rules and email aliases pages: list (filter, sort, paging, export), add, delete;
and the "Why was this mail blocked / allowed?" page."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.orm import selectinload

from ... import ids, serializers
from ...errors import ServiceError
from ...models import EmailAlias
from ...permissions import ObjectType, Permission
from ...schemas.common import wire_name
from ...schemas.rules import FilterAttachmentAdd, FilterSenderAdd, FilterUriBlAdd
from ...services import content_rules, decisions, domains, rule_import, wblist
from ...services import email_aliases as groups
from ...unit_of_work import attempt
from ...words import value_label, yes_no
from .. import forms
from ..listing import list_page
from ..render import render
from ..session import current_principal
from .blueprint import bp


@dataclass(frozen=True)
class Kind:
    title: Any
    spec: Any
    columns: list[tuple[Any, Callable[[Any], Any]]]
    export: list[Any]
    filter_param: str
    filter_label: Any
    permission: Permission


def _expiry(rule: Any) -> str:
    return rule.expire_at.strftime("%Y-%m-%d %H:%M") if rule.expire_at else "—"


KINDS: dict[str, Kind] = {
    "senders": Kind(_l("Sender rules"), wblist.LIST_SPEC, [
        (_l("Sender"), lambda r: r.value), (_l("Type"), lambda r: value_label(r.type)),
        (_l("SPF"), lambda r: yes_no(r.spf_on)),
        (_l("Expires"), _expiry), (_l("Description"), lambda r: r.description or "")],
        serializers.SENDER_COLUMNS, "value", _l("sender; * as wildcard"), Permission.FILTER_EDIT),
    "attachments": Kind(_l("Attachment rules"), content_rules.ATTACHMENT_SPEC, [
        (_l("Action"), lambda r: value_label(r.action)),
        (_l("Checks"), lambda r: value_label(r.check_type)),
        (_l("Expression"), lambda r: r.filter), (_l("Priority"), lambda r: r.priority),
        (_l("Description"), lambda r: r.description or "")],
        serializers.ATTACHMENT_COLUMNS, "action", _l("ALLOW or DENY"), Permission.FILTER_EDIT),
    "uris": Kind(_l("URI rules"), content_rules.URI_SPEC, [
        (_l("Action"), lambda r: value_label(r.action)), (_l("Host"), lambda r: r.filter),
         (_l("Priority"), lambda r: r.priority),
        (_l("Description"), lambda r: r.description or "")],
        serializers.URI_COLUMNS, "action", _l("action"), Permission.FILTER_EDIT),
    "groups": Kind(_l("Email aliases"), groups.LIST_SPEC, [
        (_l("Address"), lambda a: a.email), (_l("Recipients"), lambda a: ", ".join(r.email for r in a.recipients))],
        serializers.ALIAS_COLUMNS, "email", _l("address; * as wildcard"), Permission.ALIAS_EDIT),
}


# --- one form -> schema mapping per rule kind (the add form and the row's inline edit share it) ----------

def _sender_rule(form: Mapping[str, str]) -> FilterSenderAdd:
    data: dict[str, Any] = {"value": form.get("value", ""), "type": form.get("type", ""),
                            "description": forms.blank_to_none(form.get("description"))}
    expire = forms.blank_to_none(form.get("expire_at"))
    if expire:
        try:
            data["expireAt"] = int(datetime.fromisoformat(expire).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            data["expireAt"] = "not a date"
    if data["type"] == "ALLOW":
        data["spfOn"] = form.get("spf_on") == "on"
    return forms.parse(FilterSenderAdd, data)


def _attachment_rule(form: Mapping[str, str]) -> FilterAttachmentAdd:
    return forms.parse(FilterAttachmentAdd, {
        "action": form.get("action"), "checkType": form.get("check_type"), "filter": form.get("filter", ""),
        "priority": form.get("priority") or 1, "description": forms.blank_to_none(form.get("description"))})


def _uri_rule(form: Mapping[str, str]) -> FilterUriBlAdd:
    return forms.parse(FilterUriBlAdd, {
        "action": form.get("action"), "filter": form.get("filter", ""),
        "description": forms.blank_to_none(form.get("description"))})


def _query(kind: str, domain_pk: int) -> Any:
    principal = current_principal()
    if kind == "senders":
        return wblist.list_query(wblist.domain_owner(principal, domain_pk, write=False))
    if kind == "attachments":
        return content_rules.attachment_query(principal, domain_pk)
    if kind == "uris":
        return content_rules.uri_query(principal, domain_pk)
    return groups.list_query(principal, domain_pk).options(selectinload(EmailAlias.recipients))


def _page(kind: str, domain_id: str, status: int = 200, form: Any = None, form_errors: dict[str, str] | None = None
          ) -> Response:
    if kind not in KINDS:
        abort(404)
    spec = KINDS[kind]
    domain = domains.get(current_principal(), ids.decode(domain_id))
    return list_page(
        _query(kind, domain.id), spec.spec, "admin/rules/list.html", "admin/rules/_table.html", status=status,
        columns=spec.export, export_name=f"{kind}-{domain.name}", kind=kind, kind_spec=spec, domain=domain,
        domain_id=domain_id, search_field=spec.filter_param, form=form or {},
        form_errors=form_errors or {},
        can_edit=current_principal().holds_on(spec.permission, ObjectType.DOMAIN, domain.id),
    )


@bp.get("/admin/domains/<domain_id>/rules/<kind>")
def rules_list(domain_id: str, kind: str) -> Response:
    return _page(kind, domain_id)


def _add(principal: Any, pk: int, kind: str, form: Any) -> None:
    if kind == "senders":
        wblist.add(wblist.domain_owner(principal, pk, write=True), [_sender_rule(form)])
    elif kind == "attachments":
        content_rules.add_attachment(principal, pk, _attachment_rule(form))
    elif kind == "uris":
        content_rules.add_uri(principal, pk, _uri_rule(form))
    elif kind == "groups":
        recipients = [r.strip() for r in form.get("recipients", "").replace(",", "\n").splitlines() if r.strip()]
        groups.create(principal, pk, form.get("email", ""), recipients)
    else:
        abort(404)


@bp.post("/admin/domains/<domain_id>/rules/<kind>")
def rules_add(domain_id: str, kind: str) -> Response:
    principal = current_principal()
    pk = ids.decode(domain_id)
    form = request.form
    try:
        with attempt():
            _add(principal, pk, kind, form)
    except ServiceError as error:
        # "[0].value" (a one-item batch) or "filter": the name of the form field
        errors = {e.field.removeprefix("[0].") or "_form": e.message for e in error.errors} or {"_form": error.detail}
        return _page(kind, domain_id, status=error.status, form=form, form_errors=errors)
    flash(_("Email alias added.") if kind == "groups" else _("Rule added."), "success")
    return redirect(url_for("admin.rules_list", domain_id=domain_id, kind=kind))


@bp.post("/admin/domains/<domain_id>/rules/<kind>/<item_id>/delete")
def rules_delete(domain_id: str, kind: str, item_id: str) -> Response:
    principal = current_principal()
    pk, item = ids.decode(domain_id), ids.decode(item_id)
    if kind == "senders":
        wblist.delete(wblist.domain_owner(principal, pk, write=True), item)
    elif kind == "attachments":
        content_rules.attachment_query(principal, pk)
        content_rules.delete_attachment(principal, item)
    elif kind == "uris":
        content_rules.uri_query(principal, pk)
        content_rules.delete_uri(principal, item)
    elif kind == "groups":
        groups.get(principal, pk, item, write=True)
        groups.delete(principal, item)
    else:
        abort(404)
    flash(_("Removed."), "success")
    return redirect(url_for("admin.rules_list", domain_id=domain_id, kind=kind))


@bp.get("/admin/explain")
def explain() -> Response:
    """Why was this mail blocked / allowed? (GET: nothing changes)"""
    args = request.args
    result, errors = None, {}
    if args.get("sender") or args.get("recipient"):
        try:
            result = decisions.decide(current_principal(), args.get("sender", ""), args.get("recipient", ""),
                                      args.get("spf") or None, args.get("dkim") or None)
        except ServiceError as error:
            errors = forms.messages(error)
    return render("admin/rules/explain.html", "admin/rules/_decision.html", status=400 if errors else 200,
                  form=args, errors=errors, result=result)


def _csv_text() -> str:
    """The CSV of an import form: the uploaded file, else the pasted text."""
    upload = request.files.get("file")
    return upload.read().decode("utf-8", errors="replace") if upload and upload.filename else request.form.get(
        "csv", "")


@bp.route("/admin/domains/<domain_id>/rules/senders/import", methods=["GET", "POST"])
def senders_import(domain_id: str) -> Response:
    """CSV import of the domain's sender rules: a preview of what changes, then a confirmation."""
    principal = current_principal()
    owner = wblist.domain_owner(principal, ids.decode(domain_id), write=True)  # the form too: FILTER_EDIT
    context: dict[str, Any] = {"domain": owner.domain, "domain_id": domain_id, "plan": None, "errors": {},
                               "text": "", "mode": request.form.get("mode", "add")}
    if request.method == "GET":
        return render("admin/rules/import.html", **context)
    context["text"] = text = _csv_text()
    replace = context["mode"] == "replace"
    try:
        items = rule_import.parse(text)
        plan = rule_import.plan(owner, items, replace=replace)
        if request.form.get("confirm") == "yes" and plan.applicable:
            with attempt():
                (wblist.replace_all if replace else wblist.add)(owner, items)
            flash(ngettext("%(num)d rule imported.", "%(num)d rules imported.", len(items)), "success")
            return redirect(url_for("admin.rules_list", domain_id=domain_id, kind="senders"))
        context["plan"] = plan
    except ServiceError as error:
        context["errors"] = error.field_messages() or {"csv": error.detail}
        return render("admin/rules/import.html", status=error.status, **context)
    return render("admin/rules/import.html", **context)


@bp.route("/admin/domains/<domain_id>/rules/<kind>/import", methods=["GET", "POST"])
def content_import(domain_id: str, kind: str) -> Response:
    """CSV import of attachment or URI rules: a preview, then a confirmation (all or nothing)."""
    if kind not in content_rules.KINDS:
        abort(404)
    principal = current_principal()
    domain = domains.get(principal, ids.decode(domain_id), Permission.FILTER_EDIT)
    context: dict[str, Any] = {"domain": domain, "domain_id": domain_id, "kind": kind, "title": KINDS[kind].title,
                               "columns": [(wire_name(f), f) for f in content_rules.KINDS[kind][0].fields],
                               "plan": None, "errors": {}, "text": "", "mode": request.form.get("mode", "add")}
    if request.method == "GET":
        return render("admin/rules/import_content.html", **context)
    context["text"] = text = _csv_text()
    replace = context["mode"] == "replace"
    try:
        items = rule_import.parse_content(kind, text)
        if request.form.get("confirm") == "yes":
            with attempt():
                done = content_rules.apply_import(kind, principal, domain.id, items, replace=replace)
            flash(ngettext("%(num)d rule added", "%(num)d rules added", done.added) + ", "
                  + ngettext("%(num)d removed.", "%(num)d removed.", done.removed), "success")
            return redirect(url_for("admin.rules_list", domain_id=domain_id, kind=kind))
        context["plan"] = content_rules.plan_import(kind, principal, domain.id, items, replace=replace)
    except ServiceError as error:
        context["errors"] = error.field_messages() or {"csv": error.detail}
        return render("admin/rules/import_content.html", status=error.status, **context)
    return render("admin/rules/import_content.html", **context)


def _update(principal: Any, pk: int, item: int, kind: str, form: Any) -> None:
    if kind == "senders":
        wblist.replace_one(wblist.domain_owner(principal, pk, write=True), item, _sender_rule(form))
    elif kind == "attachments":
        content_rules.edit_attachment(principal, item, _attachment_rule(form))
    elif kind == "uris":
        content_rules.edit_uri(principal, item, _uri_rule(form))
    else:
        abort(404)


@bp.post("/admin/domains/<domain_id>/rules/<kind>/<item_id>")
def rules_update(domain_id: str, kind: str, item_id: str) -> Response:
    """Inline edit of one rule (the row's form)."""
    principal = current_principal()
    pk, item = ids.decode(domain_id), ids.decode(item_id)
    try:
        with attempt():
            _update(principal, pk, item, kind, request.form)
    except ServiceError as error:
        detail = "; ".join(str(e.message) for e in error.errors) or error.detail
        return _page(kind, domain_id, status=error.status, form_errors={"_form": detail})
    flash(_("Saved."), "success")
    return redirect(url_for("admin.rules_list", domain_id=domain_id, kind=kind))
