"""The quarantine pages, shared by the mailbox user's portal (/me) and the administrators' view of a
user's quarantine (/admin/users/<id>/quarantine). `Where` says which routes the templates link to
and what the viewer may do; the services check every permission again."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from flask import Response, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf.csrf import generate_csrf

from .. import safe_html
from ..errors import Invalid, NotFound, PreconditionFailed, ServiceError, Unavailable
from ..models import MailUser
from ..responses import download
from ..services import mailboxes, messages, quarantine, release, scanner, wblist
from ..services.mailboxes import Capabilities
from ..services.principal import Principal
from . import session as web_session
from .listing import MailPage, clear_search_url, mail_search
from .render import render
from .security_headers import CSP


@dataclass
class Where:
    prefix: str  # endpoint of the list; "<prefix>_message", "_attachment", "_source", "_release", "_bulk"
    caps: Capabilities  # what the viewer may do (mailboxes.capabilities: the rule the services check too)
    args: dict[str, Any] = field(default_factory=dict)  # path arguments of those endpoints
    admin_view: str | None = None  # the user's address when an administrator is looking

    def url(self, suffix: str = "", **args: Any) -> str:
        return url_for(self.prefix + suffix, **args, **self.args)

    def context(self) -> dict[str, Any]:
        return {"qp": self.prefix, "qargs": self.args, "admin_view": self.admin_view}


def list_page(principal: Principal, user: MailUser, where: Where) -> Response:
    """Held mail: server-side search (sender or subject), reason filter, sort, paging; a store outage is a panel."""
    query = request.args.get("q", "").strip()
    args = {k: v for k, v in request.args.items() if k in ("offset", "pageSize", "sort", "reason")}
    args.setdefault("pageSize", "20")
    if query:
        args.update({"from": mail_search(query), "subject": mail_search(query), "operator": "OR"})
    errors: dict[str, str] = {}
    status = 200
    try:
        rows, total = mailboxes.messages(principal, user, mailboxes.QUARANTINE, args)
    except Invalid as error:  # a search with a control character, a bad sort: said, and not echoed raw
        rows, total, errors, status, query = [], 0, error.field_messages(), 400, printable(query)
    except NotFound:
        rows, total = [], 0
    except Unavailable as error:
        rows, total, status = [], 0, error.status
        errors = {_("Mail server"): _("Your messages cannot be read now: %(why)s", why=error.detail)}
    return render("user/quarantine.html", "user/_quarantine_table.html", status=status, rows=rows, total=total,
                  params=MailPage.of(args if not errors else {}, 20), q=query, reason=args.get("reason", ""),
                  filtered=bool(query or args.get("reason")), clear_url=clear_search_url("q", "reason"),
                  reasons=mailboxes.REASONS, errors=errors, page_sizes=(20, 40, 100),
                  released=release.released_keys(user, rows),
                  infected={m.key for m in rows if scanner.is_infected(m)},  # the headers' verdict: no scan
                  can_release=where.caps.release, can_rules=where.caps.rules,
                  can_domain_rules=where.caps.domain_rules, can_delete=where.caps.delete, **where.context())


def printable(text: str) -> str:
    """`text` without its control characters, to show back in a page (a NUL never reaches the HTML)."""
    return "".join(c for c in text if c.isprintable())


def folder_arg() -> str:
    return request.args.get("folder", mailboxes.QUARANTINE).strip("/") or mailboxes.QUARANTINE


def message_page(principal: Principal, user: MailUser, where: Where) -> Response:
    """One message: escaped headers, the HTML in a sandboxed iframe (remote images on request only); a held
    one offers the list's actions (release, allow or block its sender, delete), checked as on the list."""
    images = request.args.get("images") == "1"
    folder = folder_arg()
    message_id = request.args.get("id", "")
    held = folder == mailboxes.QUARANTINE
    # A held message is scanned as its release would be: the page and the release agree on "infected".
    found = messages.content(principal, user, folder, message_id, allow_remote_images=images,
                             scan=held and where.caps.release)
    frame = safe_html.frame_document(found.html, allow_remote_images=images) if found.html else ""
    response = render("user/message.html", message=found, message_id=message_id, images=images, frame=frame,
                      view=request.args.get("view", "html" if found.html else "text"), folder=folder, held=held,
                      can_release=held and where.caps.release,
                      # the list's actions on this one message: its bulk endpoint, with the way back
                      can_rules=held and where.caps.rules, can_domain_rules=held and where.caps.domain_rules,
                      can_delete=held and where.caps.delete, here=where.url("_message", id=message_id),
                      list_url=where.url(),
                      can_reply=not held and where.caps.send and not where.admin_view,
                      can_source=where.caps.source,
                      released=release.was_released(user, found.summary),
                      infected=found.infected, scan_error=found.scan_error, **where.context())
    if images:  # a srcdoc frame inherits the page's policy: let its images load, nothing else
        response.headers["Content-Security-Policy"] = CSP.replace("img-src 'self' data:", "img-src 'self' data: https:")
    return response


def attachment_download(principal: Principal, user: MailUser, where: Where) -> Response:
    """One attachment, always a download, never displayed; an infected message's only after a confirmation,
    as its release."""
    part = request.args.get("part", "")
    if not (part.isascii() and part.isdigit()):  # "²" is a digit to str.isdigit, not to int()
        raise NotFound(_("No such attachment."))
    message_id, folder = request.args.get("id", ""), folder_arg()
    try:
        found, data = messages.attachment(principal, user, folder, message_id, int(part),
                                          virus_lover=_confirmed(message_id, part))
    except PreconditionFailed:
        anyway = where.url("_attachment", id=message_id, part=part, folder=folder,
                           confirm=_confirm_token(message_id, part))
        return render("user/attachment_confirm.html", anyway=anyway,
                      back=where.url("_message", id=message_id, folder=folder), **where.context())
    return download(data, found.filename)


def _confirm_token(message_id: str, part: str) -> str:
    """The confirm page's "download anyway" value: bound to this session (its CSRF secret) and this attachment,
    so a link from elsewhere (a phishing mail pointing at the virus with confirm=1) still lands on the warning,
    and the session's CSRF token itself never goes into a URL."""
    generate_csrf()  # the session holds its CSRF secret from here on
    secret = str(session.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), ""))
    key = current_app.secret_key
    key_bytes = key.encode() if isinstance(key, str) else bytes(key or b"")
    return hmac.new(key_bytes, f"infected-download\n{secret}\n{message_id}\n{part}".encode(), "sha256").hexdigest()


def _confirmed(message_id: str, part: str) -> bool:
    return hmac.compare_digest(request.args.get("confirm", "").encode(), _confirm_token(message_id, part).encode())


def source_download(principal: Principal, user: MailUser) -> Response:
    """The raw message, as a download (the mailbox's owner only, as in the API)."""
    message_id = request.args.get("id", "")
    found = messages.content(principal, user, folder_arg(), message_id, with_source=True)
    if found.source is None:
        raise NotFound(_("No such message."))
    return download(found.source, messages.safe_filename(message_id, 0) + ".eml")


def release_action(principal: Principal, user: MailUser, where: Where) -> Response:
    """Release one held message (once; infected mail needs an explicit choice)."""
    message_id = request.form.get("id", "")
    try:
        outcome = release.release(principal, user, mailboxes.QUARANTINE, message_id,
                                  virus_lover=request.form.get("virus_lover") == "on")
    except ServiceError as error:
        flash(str(error.detail), "error")
        return redirect(where.url("_message", id=message_id))
    if outcome.refused:
        flash(_("The relay refused the message; it stays in quarantine."), "error")
    elif outcome.in_flight and not outcome.delivered:
        flash(_("This message is being released right now; look again in a moment."), "info")
    elif outcome.delivered:
        flash(_("The message was delivered to the mailbox.") if where.admin_view
              else _("The message was delivered to your mailbox."), "success")
    else:
        flash(_("This message was already released."), "success")
    return redirect(where.url("_message", id=message_id))


def bulk_action(principal: Principal, user: MailUser, where: Where, rules_owner: wblist.Owner | None) -> Response:
    """Release, release and allow, block the senders of, or delete the selected messages."""
    back = web_session.safe_next(request.form.get("back"), where.url())
    try:
        action = quarantine.Action(request.form.get("action", ""))
    except ValueError:
        flash(_("Choose an action."), "error")
        return redirect(back)
    try:
        outcome = quarantine.apply(principal, user, action, request.form.getlist("ids"),
                                   rules_owner=rules_owner)
    except ServiceError as error:
        flash(str(error.detail if not error.errors else error.errors[0].message), "error")
        return redirect(back)
    for text, category in summary(outcome):
        flash(text, category)
    return redirect(back)


def summary(outcome: quarantine.Outcome) -> list[tuple[str, str]]:
    lines = []
    if outcome.released:
        lines.append((ngettext("%(num)d message released.", "%(num)d messages released.",
                               len(outcome.released)), "success"))
    if outcome.deleted:
        lines.append((ngettext("%(num)d message deleted.", "%(num)d messages deleted.", outcome.deleted),
                      "success"))
    if outcome.rules:
        lines.append((_("Rules saved for: %(senders)s", senders=", ".join(outcome.rules)), "success"))
    if outcome.infected:
        lines.append((ngettext("%(num)d infected message was left: open it to release it.",
                               "%(num)d infected messages were left: open each to release it.",
                               len(outcome.infected)), "error"))
    if outcome.not_allowed:
        lines.append((ngettext("%(num)d message is infected: its sender was not allowed.",
                               "%(num)d messages are infected: their senders were not allowed.",
                               len(outcome.not_allowed)), "error"))
    if outcome.postponed:
        lines.append((ngettext("%(num)d message was not released yet (the relay is slow): select it again.",
                               "%(num)d messages were not released yet (the relay is slow): select them again.",
                               len(outcome.postponed)), "error"))
    for what, why in outcome.failed.items():
        lines.append((_("%(what)s: %(why)s", what=what, why=why), "error"))
    return lines
