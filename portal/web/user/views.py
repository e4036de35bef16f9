"""Mailbox-user pages."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from flask import Response, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ... import ids
from ...errors import Forbidden, Invalid, NotFound, ServiceError, Unavailable
from ...extensions import db, limiter
from ...permissions import END_USER_PERMISSIONS, ObjectType, Permission
from ...responses import download
from ...schemas.rules import FilterSenderAddList
from ...services import auth, mailboxes, messages, release, signs, wblist
from ...services.principal import principal_for_admin
from .. import forms
from .. import session as web_session
from ..listing import MailPage, list_page
from ..render import render
from ..security_headers import CSP
from ..session import current_principal
from . import bp


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
    except Unavailable as error:
        return render("user/login.html", status=503, form=form, next=nxt,
                      errors={"_form": _("Your password cannot be checked now: %(why)s", why=error.detail)})
    except Invalid as error:
        return render("user/login.html", status=400, form=form, errors=error.field_messages(), next=nxt)
    auth.record_login(user)
    db.session.commit()
    web_session.start(user)
    return redirect(nxt)


@bp.get("/")
@login_required
def home() -> Response:
    user = current_user.user
    granted = set(user.domain.end_user_permissions.split())
    return render("user/home.html", user=user, granted=granted, descriptions=END_USER_PERMISSIONS)


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
                     search=request.args.get("value", ""), form={}, form_errors={})


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
        wblist.add(owner, forms.parse(FilterSenderAddList, [item]).root)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        errors = {e.field.removeprefix("[0].") or "_form": e.message for e in error.errors} or {"_form": error.detail}
        return list_page(wblist.list_query(_owner()), wblist.LIST_SPEC, "user/senders.html", "user/senders.html",
                         status=error.status, search="", form=form, form_errors=errors)
    flash(_("Saved."), "success")
    return redirect(url_for("user.senders"))


@bp.post("/senders/<rule_id>/delete")
@login_required
def senders_delete(rule_id: str) -> Response:
    wblist.delete(_owner(), ids.decode(rule_id))
    db.session.commit()
    flash(_("Removed."), "success")
    return redirect(url_for("user.senders"))


@bp.get("/quarantine")
@login_required
def quarantine() -> Response:
    """The user's quarantined mail: server-side search (sender or subject), reason filter, sort, paging."""
    user = current_user.user
    query = request.args.get("q", "").strip()
    args = {k: v for k, v in request.args.items() if k in ("offset", "pageSize", "sort", "reason")}
    args.setdefault("pageSize", "20")
    if query:
        args.update({"from": query, "subject": query, "operator": "OR"})
    errors: dict[str, str] = {}
    status = 200
    try:
        _user, rows, total = mailboxes.messages(current_principal(), user.email, mailboxes.QUARANTINE, args)
    except Invalid as error:
        rows, total, errors = [], 0, error.field_messages()
    except NotFound:
        rows, total = [], 0
    except Unavailable as error:  # the store is down: the page says so instead of failing
        rows, total, status = [], 0, error.status
        errors = {_("Mail server"): _("Your messages cannot be read now: %(why)s", why=error.detail)}
    granted = set(user.domain.end_user_permissions.split())
    impersonator = getattr(current_user, "impersonator", None)
    return render("user/quarantine.html", "user/_quarantine_table.html", status=status, rows=rows, total=total,
                  params=MailPage.of(args if not errors else {}, 20), q=query, reason=args.get("reason", ""),
                  reasons=mailboxes.REASONS, errors=errors, page_sizes=(20, 40, 100),
                  released=release.released_keys(user), can_release="QUARANTINE_RELEASE" in granted,
                  can_rules="WBLIST_EDIT" in granted,
                  can_domain_rules=impersonator is not None and principal_for_admin(impersonator).holds_on(
                      Permission.FILTER_EDIT, ObjectType.DOMAIN, user.domain_id))


def _folder() -> str:
    return request.args.get("folder", mailboxes.QUARANTINE).strip("/") or mailboxes.QUARANTINE


@bp.get("/quarantine/message")
@login_required
def quarantine_message() -> Response:
    """One message (held, or of a folder): escaped headers, the HTML in a sandboxed iframe (images on request)."""
    images = request.args.get("images") == "1"
    folder = _folder()
    _user, found = messages.content(current_principal(), current_user.user.email, folder,
                                    request.args.get("id", ""), allow_remote_images=images)
    frame = messages.frame_document(found.html, allow_remote_images=images) if found.html else ""
    granted = set(current_user.user.domain.end_user_permissions.split())
    held = folder == mailboxes.QUARANTINE
    response = render("user/message.html", message=found, message_id=request.args.get("id", ""), images=images,
                      view=request.args.get("view", "html" if found.html else "text"), frame=frame, folder=folder,
                      held=held, can_release=held and "QUARANTINE_RELEASE" in granted,
                      can_reply=not held and "SEND_MAIL" in granted,
                      released=found.summary.released or release.message_key(found.summary)
                      in release.released_keys(current_user.user),
                      infected=bool(found.summary.headers.get("X-Virus-Name"))
                      or found.summary.headers.get("X-Quarantine-Reason") == "VIRUS")
    if images:  # a srcdoc frame inherits the page's policy: let its images load, nothing else
        response.headers["Content-Security-Policy"] = CSP.replace("img-src 'self' data:", "img-src 'self' data: https:")
    return response


@bp.get("/quarantine/attachment")
@login_required
def quarantine_attachment() -> Response:
    """Download one attachment of a message (always a download, never displayed)."""
    part = request.args.get("part", "")
    if not part.isdigit():
        raise NotFound("No such attachment.")
    found, data = messages.attachment(current_principal(), current_user.user.email, _folder(),
                                      request.args.get("id", ""), int(part))
    return download(data, found.filename)


@bp.post("/quarantine/release")
@login_required
def quarantine_release() -> Response:
    """Release a held message to the user's mailbox (once; infected mail needs an explicit choice)."""
    message_id = request.form.get("id", "")
    try:
        outcome = release.release(current_principal(), current_user.user.email, "Quarantine", message_id,
                                  virus_lover=request.form.get("virus_lover") == "on")
    except ServiceError as error:
        db.session.rollback()
        flash(error.detail, "error")
        return redirect(url_for("user.quarantine_message", id=message_id))
    db.session.commit()
    if outcome.refused:
        flash(_("The relay refused the message; it stays in quarantine."), "error")
    elif outcome.delivered:
        flash(_("The message was delivered to your mailbox."), "success")
    else:
        flash(_("This message was already released."), "success")
    return redirect(url_for("user.quarantine_message", id=message_id))


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
            signs.set_sign(current_principal(), user.id, base64.b64encode(html.encode()).decode())
            db.session.commit()
            flash(_("Your signature was saved."), "success")
            return redirect(url_for("user.signature"))
        except ServiceError as error:
            db.session.rollback()
            errors, status = error.field_messages() or {"_form": error.detail}, error.status
    current = base64.b64decode(signs.get(current_principal(), user.id)).decode()
    frame = messages.frame_document(current, allow_remote_images=False) if current else ""
    return render("user/signature.html", status=status, current=request.form.get("sign", current),
                  frame=frame, errors=errors)
