"""The pages behind the links of Postern's mails: sign in with a link, choose a password, forgot my password.

A link's GET is a confirm page that changes nothing; its POST does the action (rules in
`portal/services/account_links.py`). A link that cannot be used is a page that says why (410: unknown, used,
expired or for another action; 403: for another account than the signed-in one) and how to get a new one.
Every POST is rate-limited per client (LOGIN_RATE_LIMIT); "forgot my password" and "mail me a sign-in link"
also per account name (PASSWORD_RESET_ACCOUNT_RATE_LIMIT), and answer the same for accounts that exist and names
that do not.
"""

from __future__ import annotations

import hashlib

from flask import Response, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ...errors import Invalid, ServiceError
from ...extensions import limiter
from ...models import Admin, MailUser
from ...permissions import EndUserPermission
from ...services import account_links
from ...services.links import LinkRefused, Purpose
from ...unit_of_work import attempt
from .. import session as web_session
from ..render import render
from .blueprint import bp


def _client_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_limit() -> str:
    return current_app.config["PASSWORD_RESET_ACCOUNT_RATE_LIMIT"]


def _forgot_key() -> str:
    """The per-account-name key of "forgot my password": the name as it is looked up, whoever asks."""
    name = request.form.get("name", "").strip().lower()
    return "forgot:" + hashlib.sha256(f"{request.endpoint}:{name}".encode()).hexdigest()


def _signed_in() -> Admin | MailUser | None:
    """The account of this browser's session. An administrator viewing a user's portal is refused every link
    (`OtherAccount`: log out first), so that no link ends a view-as behind the audit trail's back."""
    if not current_user.is_authenticated:
        return None
    if current_user.impersonator is not None:
        raise account_links.OtherAccount(account_links.OTHER_ACCOUNT)
    return current_user.admin or current_user.user


_TOKEN_PAGES = {"auth.link_login", "auth.link_login_post", "auth.password_setup", "auth.password_setup_post",
                "auth.password_reset", "auth.password_reset_post"}


@bp.after_request
def _no_referrer(response: Response) -> Response:
    """The URL of a link page carries its token: no Referer header names it, not even to this site."""
    if request.endpoint in _TOKEN_PAGES:
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _refused(error: ServiceError, purpose: Purpose) -> Response:
    return render("auth/link_refused.html", status=error.status, message=error.detail, purpose=str(purpose),
                  other_account=isinstance(error, account_links.OtherAccount))


# --- sign in with a link ----------------------------------------------------------------------------------

@bp.get("/me/link/<token>")
def link_login(token: str) -> Response:
    try:
        opened = account_links.open_link(token, Purpose.LOGIN, _signed_in())
    except ServiceError as error:
        return _refused(error, Purpose.LOGIN)
    return render("auth/link_login.html", email=opened.name)


@bp.post("/me/link/<token>")
@limiter.limit(_client_limit, methods=["POST"])
def link_login_post(token: str) -> Response:
    try:
        user = account_links.sign_in(token, _signed_in())
    except ServiceError as error:
        return _refused(error, Purpose.LOGIN)
    web_session.start(user)  # a new session: nothing of the one before survives
    if user.domain.grants(EndUserPermission.QUARANTINE_VIEW):
        return redirect(url_for("user.quarantine"))
    return redirect(url_for("user.home"))


def _link_request() -> Response:
    form = {"name": request.form.get("name", "")}
    if request.method == "GET":
        return render("auth/link_request.html", form={}, errors={}, sent=False)
    try:
        account_links.mail_login_link(form["name"])
    except Invalid as error:
        return render("auth/link_request.html", status=400, form=form, errors=error.field_messages(), sent=False)
    return render("auth/link_request.html", form={}, errors={}, sent=True)


@bp.get("/me/link")
def link_request() -> Response:
    return _link_request()


@bp.post("/me/link")
@limiter.limit(_client_limit, methods=["POST"])
@limiter.limit(_account_limit, key_func=_forgot_key, methods=["POST"])
def link_request_post() -> Response:
    return _link_request()


# --- choose a password --------------------------------------------------------------------------------------

def _password_page(token: str, purpose: Purpose) -> Response:
    try:
        signed_in = _signed_in()
        opened = account_links.open_link(token, purpose, signed_in)
    except ServiceError as error:
        return _refused(error, purpose)
    errors: dict[str, object] = {}
    status = 200
    can_set = account_links.signs_in_with_portal_password(opened.account)
    if not can_set:
        errors, status = {"_form": _("Your account signs in with the password of your mailbox: change it in your "
                                     "mail program or ask your administrator.")}, 422
    elif request.method == "POST":
        try:
            with attempt():
                account = account_links.set_password(token, purpose, request.form.get("password", ""),
                                                     request.form.get("confirm", ""), signed_in)
        except (LinkRefused, account_links.OtherAccount) as error:  # used by a parallel request meanwhile
            return _refused(error, purpose)
        except ServiceError as error:
            errors, status = (error.field_messages() or {"_form": error.detail}), error.status
        else:
            return _password_saved(account, signed_in)
    return render("auth/password_link.html", status=status, purpose=str(purpose), name=opened.name,
                  is_admin=opened.is_admin, errors=errors, can_set=can_set)


def _password_saved(account: Admin | MailUser, signed_in: Admin | MailUser | None) -> Response:
    is_admin = isinstance(account, Admin)
    if signed_in is not None:  # the same account (another one is refused): this browser stays signed in
        web_session.start(account)
        flash(_("Your password was saved. Your other sessions have ended."), "success")
        return redirect(url_for("admin.dashboard" if is_admin else "user.home"))
    flash(_("Your password was saved. Log in with it."), "success")
    return redirect(url_for("auth.login" if is_admin else "user.login"))


@bp.get("/password/setup/<token>")
def password_setup(token: str) -> Response:
    return _password_page(token, Purpose.PASSWORD_SETUP)


@bp.post("/password/setup/<token>")
@limiter.limit(_client_limit, methods=["POST"])
def password_setup_post(token: str) -> Response:
    return _password_page(token, Purpose.PASSWORD_SETUP)


@bp.get("/password/reset/<token>")
def password_reset(token: str) -> Response:
    return _password_page(token, Purpose.PASSWORD_RESET)


@bp.post("/password/reset/<token>")
@limiter.limit(_client_limit, methods=["POST"])
def password_reset_post(token: str) -> Response:
    return _password_page(token, Purpose.PASSWORD_RESET)


# --- forgot my password ---------------------------------------------------------------------------------------

def _forgot(kind: str) -> Response:
    form = {"name": request.form.get("name", "")}
    if request.method == "GET":
        return render("auth/forgot.html", kind=kind, form={}, errors={}, sent=False)
    try:
        account_links.forgot(kind, form["name"])
    except Invalid as error:
        return render("auth/forgot.html", status=400, kind=kind, form=form, errors=error.field_messages(),
                      sent=False)
    return render("auth/forgot.html", kind=kind, form={}, errors={}, sent=True)


@bp.get("/me/password/forgot")
def forgot_user() -> Response:
    return _forgot("user")


@bp.post("/me/password/forgot")
@limiter.limit(_client_limit, methods=["POST"])
@limiter.limit(_account_limit, key_func=_forgot_key, methods=["POST"])
def forgot_user_post() -> Response:
    return _forgot("user")


@bp.get("/password/forgot")
def forgot_admin() -> Response:
    return _forgot("admin")


@bp.post("/password/forgot")
@limiter.limit(_client_limit, methods=["POST"])
@limiter.limit(_account_limit, key_func=_forgot_key, methods=["POST"])
def forgot_admin_post() -> Response:
    return _forgot("admin")
