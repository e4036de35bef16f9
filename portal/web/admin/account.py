"""One's own account: profile and password, API tokens, TOTP second factor."""

from __future__ import annotations

from datetime import datetime

from flask import Response, flash, redirect, request, session, url_for
from flask_babel import gettext as _

from ... import ids
from ...errors import Invalid, ServiceError
from ...schemas.accounts import AdminUpdate, TokenAdd
from ...services import admins, auth, tokens
from ...services.passwords import verify_password
from ...unit_of_work import attempt
from .. import forms
from .. import session as web_session
from ..i18n import LANGUAGES
from ..render import render
from ..session import current_principal
from .blueprint import bp


@bp.route("/account", methods=["GET", "POST"])
def account() -> Response:
    principal = current_principal()
    me = principal.require_admin()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values: dict[str, object] = {
            "displayName": forms.blank_to_none(request.form.get("display_name")),
            "email": request.form.get("email", ""),
            "language": request.form.get("language", me.language),
        }
        try:
            if request.form.get("new_password"):
                if not verify_password(me.password_hash, request.form.get("current_password", "")):
                    raise Invalid.on("current_password", _("This is not your current password."))
                values["password"] = request.form["new_password"]
            with attempt():
                admins.update(principal, me.id, forms.parse(AdminUpdate, values))
            session["lang"] = me.language
            if "password" in values:
                web_session.start(me)  # the password change logged out every other session
            flash(_("Your account was saved."), "success")
            return redirect(url_for("admin.account"))
        except ServiceError as error:
            errors, status = forms.messages(error), error.status
    return render("admin/account/profile.html", status=status, me=me, form=request.form, errors=errors,
                  languages=LANGUAGES)


@bp.get("/account/tokens")
def my_tokens() -> Response:
    me = current_principal().require_admin()
    return render("admin/account/tokens.html", rows=tokens.list_for(current_principal(), me.id),
                  form={}, errors={}, new_value=None)


@bp.post("/account/tokens")
def my_tokens_create() -> Response:
    principal = current_principal()
    me = principal.require_admin()
    expiration_ms = None
    try:
        raw_date = request.form.get("expiration", "").strip()
        if raw_date:
            try:
                expiration_ms = int(datetime.fromisoformat(raw_date + "T23:59:59+00:00").timestamp() * 1000)
            except ValueError as exc:
                raise Invalid.on("expiration", _("Give a date as YYYY-MM-DD.")) from exc
        body = forms.parse(TokenAdd, {"name": request.form.get("name", ""), "expiration": expiration_ms})
        with attempt():
            token, value = tokens.create(principal, me.id, body.name, body.expiration)
    except ServiceError as error:
        return render("admin/account/tokens.html", status=error.status, rows=tokens.list_for(principal, me.id),
                      form=request.form, errors=forms.messages(error), new_value=None)
    return render("admin/account/tokens.html", rows=tokens.list_for(principal, me.id), form={}, errors={},
                  new_value=value, new_name=token.name)


@bp.post("/account/tokens/<token_id>/revoke")
def my_tokens_revoke(token_id: str) -> Response:
    principal = current_principal()
    tokens.revoke(principal, principal.require_admin().id, ids.decode(token_id))
    flash(_("The token was revoked."), "success")
    return redirect(url_for("admin.my_tokens"))


@bp.get("/account/security")
def security() -> Response:
    me = current_principal().require_admin()
    context: dict[str, object] = {"me": me, "errors": {}}
    if not me.totp:
        secret = session.get("totp_enrol") or auth.new_totp_secret()
        session["totp_enrol"] = secret
        context.update(secret=secret, qr=auth.provisioning_qr_svg(me, secret))
    return render("admin/account/security.html", **context)


@bp.post("/account/security/totp")
def security_enable() -> Response:
    me = current_principal().require_admin()
    secret = session.get("totp_enrol")
    if not secret:
        return redirect(url_for("admin.security"))
    try:
        with attempt():
            auth.enable_totp(me, secret, request.form.get("code", ""))
    except ServiceError as error:
        return render("admin/account/security.html", status=400, me=me, errors=error.field_messages(),
                      secret=secret, qr=auth.provisioning_qr_svg(me, secret))
    session.pop("totp_enrol", None)
    flash(_("Two-factor authentication is on."), "success")
    return redirect(url_for("admin.security"))


@bp.post("/account/security/totp/disable")
def security_disable() -> Response:
    me = current_principal().require_admin()
    if not verify_password(me.password_hash, request.form.get("password", "")):
        return render("admin/account/security.html", status=400, me=me,
                      errors={"password": _("This is not your current password.")})
    auth.disable_totp(me)
    flash(_("Two-factor authentication is off."), "success")
    return redirect(url_for("admin.security"))
