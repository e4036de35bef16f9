"""Mailbox-user pages."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from flask import Response, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ... import ids, safe_html
from ...errors import Forbidden, Invalid, ServiceError, Unavailable
from ...extensions import limiter
from ...permissions import END_USER_ABILITIES
from ...schemas.rules import FilterSenderAddList
from ...services import auth, signs, wblist
from ...services.login_throttle import Throttled
from ...unit_of_work import attempt
from .. import forms
from .. import session as web_session
from ..listing import list_page
from ..render import render
from ..session import current_principal
from .blueprint import bp


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.before_request
def _only_users() -> Response | None:
    if current_user.is_authenticated and current_user.kind != "user" and request.endpoint != "user.login":
        return redirect(url_for("admin.dashboard"))
    return None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Response:
    if request.method == "GET":
        if current_user.is_authenticated and current_user.kind == "user":
            return redirect(url_for("user.home"))
        return render("user/login.html", form={}, errors={}, next=request.args.get("next", ""))
    form = {"email": request.form.get("email", "").strip()}
    nxt = web_session.safe_next(request.form.get("next"), url_for("user.home"))
    try:
        user = auth.check_user_password(form["email"], request.form.get("password", ""))
    except Throttled as error:
        return web_session.with_retry_after(render("user/login.html", status=429, form=form, next=nxt,
                                                   errors={"password": web_session.refused(error)}), error)
    except Unavailable as error:
        return render("user/login.html", status=503, form=form, next=nxt,
                      errors={"_form": _("Your password cannot be checked now: %(why)s", why=error.detail)})
    except Invalid as error:
        return render("user/login.html", status=400, form=form, errors=error.field_messages(), next=nxt)
    auth.record_login(user)
    web_session.start(user)
    return redirect(nxt)


@bp.get("/")
@login_required
def home() -> Response:
    user = current_user.user
    return render("user/home.html", user=user, descriptions=END_USER_ABILITIES)


def _owner() -> wblist.Owner:
    try:
        return wblist.user_owner(current_principal(), current_user.user.id, write=True)
    except Forbidden as error:
        raise Forbidden(_("Your domain does not let you edit your senders.")) from error


@bp.get("/senders")
@login_required
def senders() -> Response:
    owner = _owner()
    return list_page(wblist.list_query(owner), wblist.LIST_SPEC, "user/senders.html", "user/_senders_table.html",
                     search_field="value", form={}, form_errors={})


@bp.post("/senders")
@login_required
def senders_add() -> Response:
    owner = _owner()
    form = request.form
    item: dict[str, object] = {"value": form.get("value", ""), "type": form.get("type", "BLOCK"),
                               "description": forms.blank_to_none(form.get("description"))}
    if item["type"] == "ALLOW":
        item["spfOn"] = False
    expire = forms.blank_to_none(form.get("expire_at"))
    if expire:
        try:
            item["expireAt"] = int(datetime.fromisoformat(expire).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            item["expireAt"] = "not a date"
    try:
        with attempt():
            wblist.add(owner, forms.parse(FilterSenderAddList, [item]).root)
    except ServiceError as error:
        errors = {e.field.removeprefix("[0].") or "_form": e.message for e in error.errors} or {"_form": error.detail}
        return list_page(wblist.list_query(_owner()), wblist.LIST_SPEC, "user/senders.html", "user/senders.html",
                         status=error.status, search="", form=form, form_errors=errors)
    flash(_("Saved."), "success")
    return redirect(url_for("user.senders"))


@bp.post("/senders/<rule_id>/delete")
@login_required
def senders_delete(rule_id: str) -> Response:
    wblist.delete(_owner(), ids.decode(rule_id))
    flash(_("Removed."), "success")
    return redirect(url_for("user.senders"))


@bp.route("/signature", methods=["GET", "POST"])
@login_required
def signature() -> Response:
    """The user's HTML signature, sanitized when saved, previewed in a sandboxed frame."""
    user = current_user.user
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        html = request.form.get("sign", "")
        try:
            with attempt():
                signs.set_sign(current_principal(), user.id, base64.b64encode(html.encode()).decode())
            flash(_("Your signature was saved."), "success")
            return redirect(url_for("user.signature"))
        except ServiceError as error:
            errors, status = forms.messages(error), error.status
    current = base64.b64decode(signs.get(current_principal(), user.id)).decode()
    frame = safe_html.frame_document(current, allow_remote_images=False) if current else ""
    return render("user/signature.html", status=status, current=request.form.get("sign", current),
                  frame=frame, errors=errors)
