"""The Mail queue page (issue 17): the gateway's Postfix queue — counts, a table that refreshes itself (paused while
messages are selected), filters, bulk actions after a confirmation, one message's view. Sysadmins, or QUEUE_MANAGE
on any broker (services/mailqueue.py); without Postfix the page says the queue is not available here (503)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Response, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from ...errors import ServiceError, Unavailable
from ...integrations.postfix import QUEUES
from ...services import mailqueue, tracking
from ...unit_of_work import attempt
from ..render import render
from ..session import current_principal
from .blueprint import bp

PAGE_SIZE = 50
ACTIONS = ("delete", "hold", "release", "resend")  # on the selected messages
QUEUE_ACTIONS = ("flush", "delete_held", "clear", "clear_all")  # on whole queues


def _when(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _tracked_since(epoch: int) -> str:
    """The start of a tracking search for a queued message (a minute before it arrived; within the longest range)."""
    start = max(datetime.fromtimestamp(epoch - 60, UTC), datetime.now(UTC) - timedelta(days=tracking.MAX_DAYS - 1))
    return start.strftime("%Y-%m-%dT%H:%M")


@bp.get("/admin/mailqueue")
def mailqueue_page() -> Response:
    principal = current_principal()
    mailqueue.require(principal)
    filters = mailqueue.Filters()
    errors: dict[str, object] = {}
    try:
        filters = mailqueue.parse_filters(request.args)
    except ServiceError as error:
        errors = error.field_messages()
    try:
        offset = max(int(request.args.get("offset") or 0), 0)
    except ValueError:
        offset = 0
    context = {"filters": filters, "errors": errors, "queues": QUEUES, "offset": offset, "page_size": PAGE_SIZE,
               "args": {k: v for k, v in request.args.items() if k in mailqueue.FILTERS and v}, "when": _when,
               "tracked_since": _tracked_since}
    try:
        found = mailqueue.list_messages(principal, filters, offset, PAGE_SIZE)
    except Unavailable as error:
        return render("admin/mailqueue/list.html", "admin/mailqueue/_live.html", status=503, down=error.detail,
                      rows=[], total=0, counts=None, **context)
    return render("admin/mailqueue/list.html", "admin/mailqueue/_live.html", rows=found.rows, total=found.total,
                  counts=found.counts, down=None, **context)


@bp.get("/admin/mailqueue/<queue_id>")
def mailqueue_message(queue_id: str) -> Response:
    principal = current_principal()
    mailqueue.require(principal)
    try:
        message, content = mailqueue.get(principal, queue_id)
    except Unavailable as error:
        return render("admin/mailqueue/message.html", status=503, down=error.detail, message=None, content=None,
                      queue_id=queue_id, when=_when, tracked_since=_tracked_since)
    return render("admin/mailqueue/message.html", down=None, message=message, content=content, queue_id=queue_id,
                  when=_when, tracked_since=_tracked_since)


@bp.post("/admin/mailqueue")
def mailqueue_action() -> Response:
    """Every change of the queue, from the page's buttons (each asks first: data-confirm)."""
    principal = current_principal()
    mailqueue.require(principal)
    action = request.form.get("action", "")
    ids = [i for i in request.form.getlist("ids") if i][:1000]
    back = request.form.get("next") or ""
    target = back if back.startswith("/admin/mailqueue") and "//" not in back else url_for("admin.mailqueue_page")
    if action not in ACTIONS + QUEUE_ACTIONS:
        flash(_("Choose an action."), "error")
        return redirect(target)
    if action in ACTIONS and not ids:
        flash(_("Select at least one message."), "error")
        return redirect(target)
    with attempt():
        try:
            if action == "delete":
                done = len(mailqueue.delete(principal, ids, field_name="ids"))
                flash(ngettext("%(num)d message deleted.", "%(num)d messages deleted.", done), "success")
            elif action == "hold":
                done = len(mailqueue.hold(principal, ids, field_name="ids"))
                flash(ngettext("%(num)d message put on hold.", "%(num)d messages put on hold.", done), "success")
            elif action == "release":
                done = len(mailqueue.release(principal, ids, field_name="ids"))
                flash(ngettext("%(num)d message released.", "%(num)d messages released.", done), "success")
            elif action == "resend":
                resent = mailqueue.resend(principal, ids, field_name="ids")
                flash(ngettext("%(num)d message re-sent.", "%(num)d messages re-sent.", len(resent)), "success")
                for old, new in resent.items():
                    if new:
                        flash(_("%(old)s is now queued as %(new)s.", old=old, new=new), "success")
            elif action == "flush":
                mailqueue.flush(principal)
                flash(_("Postfix tries to deliver the deferred messages now."), "success")
            elif action == "delete_held":
                mailqueue.delete_queue(principal, "hold")
                flash(_("The held messages are deleted."), "success")
            elif action == "clear":
                mailqueue.delete_queue(principal)
                flash(_("The deferred messages are deleted."), "success")
            else:
                mailqueue.delete_queue(principal, force=True)
                flash(_("Every queued message is deleted."), "success")
        except ServiceError as error:
            flash(str(error.detail), "error")
    if action in ("delete", "resend") and target.startswith(url_for("admin.mailqueue_page") + "/"):
        target = url_for("admin.mailqueue_page")  # the message's own page: it has left the queue or its id
    return redirect(target)
