"""Admin login with an optional TOTP step; both rate-limited."""

from __future__ import annotations

from flask import Response, current_app, redirect, request, session, url_for
from flask_login import current_user

from ...errors import Invalid
from ...extensions import db, limiter
from ...models import Admin
from ...services import audit, auth
from ...services.login_throttle import Throttled
from .. import session as web_session
from ..i18n import LANGUAGES
from ..render import render
from .blueprint import bp


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.get("/login")
def login() -> Response:
    if current_user.is_authenticated:
        home = url_for("admin.dashboard") if current_user.kind == "admin" else url_for("user.home")
        return redirect(web_session.safe_next(request.args.get("next"), home))
    return render("auth/login.html", next=request.args.get("next", ""), errors={}, form={})


@bp.post("/login")
@limiter.limit(_login_limit, methods=["POST"])
def login_post() -> Response:
    form = {"login": request.form.get("login", "").strip()}
    nxt = web_session.safe_next(request.form.get("next"), url_for("admin.dashboard"))
    try:
        admin = auth.check_password(form["login"], request.form.get("password", ""))
    except Throttled as error:
        return web_session.with_retry_after(render("auth/login.html", status=429, next=nxt, form=form,
                                                   errors={"password": web_session.refused(error)}), error)
    except Invalid as error:
        return render("auth/login.html", status=400, next=nxt, errors=error.field_messages(), form=form)
    if admin.totp:
        session.clear()
        session["pending_2fa"] = {"admin": admin.id, "nonce": admin.session_nonce, "next": nxt}
        return redirect(url_for("auth.totp"))
    return _complete(admin, nxt)


def _complete(admin: Admin, nxt: str) -> Response:
    auth.record_login(admin)
    web_session.start(admin)
    return redirect(nxt)


def _pending() -> Admin | None:
    pending = session.get("pending_2fa")
    if not pending:
        return None
    admin = db.session.get(Admin, pending["admin"])
    if admin is None or not admin.enabled or admin.session_nonce != pending["nonce"]:
        return None
    return admin


@bp.get("/login/totp")
def totp() -> Response:
    if _pending() is None:
        return redirect(url_for("auth.login"))
    return render("auth/totp.html", errors={})


@bp.post("/login/totp")
@limiter.limit(_login_limit, methods=["POST"])
def totp_post() -> Response:
    admin = _pending()
    if admin is None:
        return redirect(url_for("auth.login"))
    try:  # no savepoint: a wrong code writes nothing but its count, which must outlive the rollback
        auth.check_totp(admin, request.form.get("code", ""))
    except Throttled as error:
        return web_session.with_retry_after(render("auth/totp.html", status=429,
                                                   errors={"code": web_session.refused(error)}), error)
    except Invalid as error:
        return render("auth/totp.html", status=400, errors=error.field_messages())
    return _complete(admin, session["pending_2fa"]["next"])


@bp.post("/logout")
def logout() -> Response:
    was_user = current_user.is_authenticated and current_user.kind == "user"
    impersonator = getattr(current_user, "impersonator", None) if current_user.is_authenticated else None
    if impersonator is not None:  # leaving a user's portal by logging out still closes the trail
        audit.end(impersonator, current_user.user)
    if current_user.is_authenticated:  # viewing as a user: the administrator's sessions end, not the user's
        auth.end_sessions(impersonator or current_user.admin or current_user.user)
    web_session.end()
    return redirect(url_for("user.login" if was_user else "auth.login"))


@bp.post("/language")
def language() -> Response:
    code = request.form.get("lang", "").upper()
    if code in LANGUAGES:
        session["lang"] = code
        if current_user.is_authenticated and getattr(current_user, "impersonator", None) is None:
            (current_user.admin or current_user.user).language = code
    return redirect(web_session.safe_next(request.form.get("next"), url_for("admin.dashboard")))
