"""The mailbox user's mail pages: quarantine actions, folders, raw source, compose with uploads,
and the way back for an administrator viewing the portal as the user (audited: `portal/unit_of_work.py`)."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError, validate_csrf
from markupsafe import escape
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import ValidationError as CsrfInvalid

from ... import ids
from ...errors import Forbidden, Invalid, PayloadTooLarge, ServiceError
from ...extensions import csrf, db
from ...models import Upload
from ...schemas.emails import SmtpMessageIn
from ...services import audit, mailboxes, sending, signs, uploads, wblist
from ...services.principal import principal_for_admin
from ...words import Message
from .. import forms
from .. import quarantine_pages as pages
from .. import session as web_session
from ..listing import MailPage, clear_search_url, mail_search
from ..render import render, wants_fragment
from ..session import current_principal
from .blueprint import bp


@bp.post("/impersonation/stop")
@login_required
def stop_impersonating() -> Response:
    impersonator = getattr(current_user, "impersonator", None)
    if impersonator is None:
        return redirect(url_for("user.home"))
    user = current_user.user
    audit.end(impersonator, user)
    web_session.start(impersonator)
    return redirect(url_for("admin.user_edit", user_id=ids.encode(user.id)))


# --- quarantine ------------------------------------------------------------------------------------

def _where() -> pages.Where:
    """What this user may do on the quarantine pages; the domain's rules only for an administrator
    viewing the portal as them who may edit those."""
    user = current_user.user
    impersonator = getattr(current_user, "impersonator", None)
    caps = mailboxes.capabilities(current_principal(), user)
    domain_rules = impersonator is not None and mailboxes.capabilities(principal_for_admin(impersonator),
                                                                       user).domain_rules
    return pages.Where("user.quarantine", dataclasses.replace(caps, domain_rules=domain_rules,
                                                          source=caps.source and impersonator is None))


@bp.get("/quarantine")
@login_required
def quarantine() -> Response:
    return pages.list_page(current_principal(), current_user.user, _where())


@bp.get("/quarantine/message")
@login_required
def quarantine_message() -> Response:
    """One message, held or of a folder (`folder`)."""
    return pages.message_page(current_principal(), current_user.user, _where())


@bp.get("/quarantine/attachment")
@login_required
def quarantine_attachment() -> Response:
    return pages.attachment_download(current_principal(), current_user.user, _where())


@bp.get("/quarantine/source")
@login_required
def quarantine_source() -> Response:
    """The raw message: the mailbox owner's only, so an administrator viewing as the user asks as themselves."""
    impersonator = getattr(current_user, "impersonator", None)
    principal = current_principal() if impersonator is None else principal_for_admin(impersonator)
    return pages.source_download(principal, current_user.user)


@bp.post("/quarantine/release")
@login_required
def quarantine_release() -> Response:
    return pages.release_action(current_principal(), current_user.user, _where())


def _rules_owner(scope: str) -> wblist.Owner | None:
    """Domain-wide rules: only for an administrator (viewing as the user) who may edit the domain's."""
    if scope != "domain":
        return None
    impersonator = getattr(current_user, "impersonator", None)
    if impersonator is None:
        raise Forbidden(_("Only your own list can be changed here."))
    return wblist.domain_owner(principal_for_admin(impersonator), current_user.user.domain_id, write=True)


@bp.post("/quarantine/bulk")
@login_required
def quarantine_bulk() -> Response:
    """Release, release and allow, block the senders of, or delete the selected messages."""
    return pages.bulk_action(current_principal(), current_user.user, _where(),
                             _rules_owner(request.form.get("scope", "user")))


# --- folders ---------------------------------------------------------------------------------------

@bp.get("/folders")
@login_required
def folders() -> Response:
    """Retention and archive folders: the tree on the left, a folder's messages on the right."""
    user = current_user.user
    path = request.args.get("path", "").strip("/")
    args = {k: v for k, v in request.args.items() if k in ("offset", "pageSize", "sort")}
    args.setdefault("pageSize", "40")
    query = request.args.get("q", "").strip()
    if query:
        args.update({"from": mail_search(query), "subject": mail_search(query), "operator": "OR"})
    error = None
    status = 200
    tree: list[Any] = []
    rows: list[Any] = []
    total = 0
    if path == mailboxes.QUARANTINE:
        return redirect(url_for("user.quarantine"))
    try:
        mailboxes.check_folder(path or "INBOX", "path")
    except Invalid:  # a NUL, a control character, `..`: said, not echoed; the top-level folders are shown
        path, error, status = "", _("This is not a folder name."), 400
    try:
        if not wants_fragment():  # a search or a page of the table does not redraw the tree
            tree = mailboxes.folders(current_principal(), user, path or None, stats=True)
            if not tree and path:  # a folder without sub-folders: show the top-level ones
                tree = mailboxes.folders(current_principal(), user, None, stats=True)
            tree = [f for f in tree if f.path != mailboxes.QUARANTINE]
        if path:
            rows, total = mailboxes.messages(current_principal(), user, path, args)
    except Forbidden:
        raise
    except Invalid as exc:
        error = "; ".join(str(e.message) for e in exc.errors) or exc.detail
        status, query = 400, pages.printable(query)
    except ServiceError as exc:
        error = exc.detail
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    return render("user/folders.html", "user/_folder_table.html", status=status, tree=tree, path=path, parent=parent,
                  rows=rows, total=total, error=error, q=query, params=MailPage.of(args),
                  filtered=bool(query), clear_url=clear_search_url("q"),
                  table_error=error if wants_fragment() else None)  # a search swaps the table only


# --- compose ---------------------------------------------------------------------------------------

def _pending() -> list[Upload]:
    return list(db.session.scalars(select(Upload).where(Upload.user_id == current_user.user.id)
                                   .order_by(Upload.created_at)))


def _compose_page(status: int = 200, form: dict[str, Any] | None = None, errors: dict[str, str] | None = None
                  ) -> Response:
    user = current_user.user
    try:
        signature = base64.b64decode(signs.get(current_principal(), user.id)).decode()
    except ServiceError:
        signature = ""
    return render("user/compose.html", status=status, form=form or {}, errors=errors or {}, files=_pending(),
                  limit_mb=uploads.user_size_limit(user) // (1024 * 1024), signature=signature)


def _may_send() -> None:
    try:
        sending.require_send_mail(current_user.user)
    except Forbidden as error:
        raise Forbidden(_("Your domain does not let you send mail from the portal.")) from error


@bp.get("/compose")
@login_required
def compose() -> Response:
    _may_send()
    form: dict[str, Any] = {}
    if request.args.get("reply"):
        form = _reply_form(request.args.get("folder", "INBOX"), request.args["reply"])
    return _compose_page(form=form)


def _reply_form(folder: str, message_id: str) -> dict[str, Any]:
    """The reply's fields from the (perhaps hostile) original: its sender's parsed addresses only (an encoded
    display name adds no one), its subject without control characters, its Message-ID when it is one."""
    reply = sending.reply_fields(current_principal(), current_user.user, folder, message_id)
    return {"to": ", ".join(reply.to), "subject": reply.subject, "origin_id": reply.origin_id}


def _html_body(text: str, with_signature: bool) -> str:
    """The page's plain text as HTML (escaped, line breaks kept), then the saved signature if asked."""
    body = "<p>" + str(escape(text)).replace("\r\n", "\n").replace("\n", "<br>") + "</p>"
    if with_signature:
        with contextlib.suppress(ServiceError):  # no service with a signature: none added
            body += "<p>-- </p>" + base64.b64decode(signs.get(current_principal(), current_user.user.id)).decode()
    return body


_COMPOSE_FIELDS = {"from": "_form", "originId": "_form"}  # no field of the page: above the form


def _header_message(field: str, message: Message) -> Message:
    """The page's words for the header refusals of `sending` (its messages are the API's English)."""
    if field == "from" and message in (sending.CONTROL_REFUSED, sending.TOO_ENCODED, sending.UNREADABLE):
        return _("Your display name holds control characters (line breaks, NUL, ...), perhaps encoded: "
                 "ask your administrator to correct it.")
    if message == sending.CONTROL_REFUSED:
        return _("Must not contain control characters (line breaks, NUL, ...), not even encoded (RFC 2047).")
    if message == sending.TOO_ENCODED:
        return _("Is encoded (RFC 2047) too many times.")
    if message == sending.UNREADABLE:
        return _("Cannot be read as a mail header.")
    return message


def _addresses(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


@bp.post("/compose")
@login_required
def compose_send() -> Response:
    _may_send()
    form = request.form
    chosen = [u for u in _pending() if u.uid in form.getlist("attach")]
    raw = {"to": _addresses(form.get("to", "")), "cc": _addresses(form.get("cc", "")),
           "bcc": _addresses(form.get("bcc", "")), "subject": form.get("subject", ""),
           "body": _html_body(form.get("body", ""), form.get("add_signature") == "on"),
           "important": form.get("important") == "on", "ack": form.get("ack") == "on",
           "originId": form.get("origin_id") or None,
           "attachments": [{"name": u.name, "uid": u.uid} for u in chosen]}
    try:
        sending.header_text(raw["subject"], "subject")  # before the schema: its message is the page's own
        data = forms.parse(SmtpMessageIn, raw)
        sent = sending.send(current_principal(), current_user.user, data)
    except ServiceError as error:
        errors = {_COMPOSE_FIELDS.get(e.field.split("[")[0], e.field.split("[")[0]): _header_message(e.field, e.message)
                  for e in error.errors} or {"_form": error.detail}
        return _compose_page(error.status, form, errors)
    flash(ngettext("Your message was sent to %(num)d recipient.", "Your message was sent to %(num)d recipients.",
                   len(sent.recipients)), "success")
    return redirect(url_for("user.compose"))


@bp.post("/compose/attachments")
@csrf.exempt  # checked below, once the body may be as large as the user's limit
@login_required
def compose_upload() -> Response:
    """HTMX: upload one file (the page shows a progress bar) and answer the list of pending files."""
    _may_send()
    request.max_content_length = uploads.user_size_limit(current_user.user) + 64 * 1024
    error, status = None, 200
    try:
        try:
            try:
                validate_csrf(request.headers.get("X-CSRFToken") or request.form.get("csrf_token"))
            except CsrfInvalid as exc:
                raise CSRFError(str(exc)) from exc
            file = request.files.get("file")
        except RequestEntityTooLarge as exc:
            raise PayloadTooLarge(_("The file is larger than your limit of %(mb)d MB.",
                                    mb=uploads.user_size_limit(current_user.user) // (1024 * 1024))) from exc
        if file is None:
            raise Invalid.on("file", _("Choose a file."))
        uploads.store(current_principal(), file.stream, file.filename, file.mimetype)
    except ServiceError as exc:
        error, status = (exc.errors[0].message if exc.errors else exc.detail), exc.status
    return render("user/_attachments.html", status=status, files=_pending(), upload_error=error,
                  checked={u.uid for u in _pending()})


@bp.post("/compose/attachments/<uid>/delete")
@login_required
def compose_upload_delete(uid: str) -> Response:
    upload = uploads.get(current_principal(), uid)
    db.session.delete(upload)
    return render("user/_attachments.html", files=_pending(), upload_error=None,
                  checked=set(request.form.getlist("attach")) - {uid})
