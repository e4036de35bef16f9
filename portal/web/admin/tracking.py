"""The Message tracking page (issue 17, item 5): search the Postfix log's messages by sender, recipient, queue id or
Message-ID over a time range (UTC; default the last 24 hours), each message with its path (received, filtered,
queued, delivered / deferred / bounced with the remote server's answer). The mail queue's operators
(services/tracking.py)."""

from __future__ import annotations

from datetime import datetime

from flask import Response, current_app, request
from flask_babel import lazy_gettext as _l

from ...errors import ServiceError
from ...services import tracking
from ..render import render
from ..session import current_principal
from .blueprint import bp

PAGE_SIZE = 25
STEPS = {  # kind -> what the path says
    "received": _l("Received"), "cleanup": _l("Filtered"), "filter": _l("Filter action"), "queued": _l("Queued"),
    "delivery": _l("Delivery"), "expired": _l("Expired"), "notice": _l("Notice"), "hold": _l("Put on hold"),
    "released": _l("Released from hold"), "requeued": _l("Re-queued"), "removed": _l("Removed from the queue"),
}
STATUSES = {"sent": _l("Delivered"), "deferred": _l("Deferred"), "bounced": _l("Bounced"), "expired": _l("Expired"),
            "reject": _l("Rejected"), "milter-reject": _l("Rejected"), "discard": _l("Discarded"),
            "milter-discard": _l("Discarded"), "hold": _l("Held"), "milter-hold": _l("Held"),
            "redirect": _l("Redirected"), "filter": _l("Sent to a content filter")}


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


@bp.get("/admin/tracking")
def tracking_page() -> Response:
    principal = current_principal()
    tracking.require(principal)
    errors: dict[str, object] = {}
    try:
        query = tracking.parse_query(request.args)
    except ServiceError as error:
        errors = error.field_messages()
        query = tracking.parse_query({})
    try:
        offset = min(max(int(request.args.get("offset") or 0), 0), 10**9)
    except ValueError:
        offset = 0
    found = tracking.search(principal, query, offset, PAGE_SIZE) if not errors else tracking.SearchPage([], 0)
    given = {k: v for k, v in request.args.items() if k in tracking.FILTERS and v}
    return render("admin/tracking/list.html", status=400 if errors else 200, query=query, errors=errors,
                  rows=found.rows, total=found.total, offset=offset, page_size=PAGE_SIZE,
                  args=query.args if not errors else given, given=given, steps=STEPS, statuses=STATUSES,
                  when=_when, log_configured=bool(current_app.config.get("MAIL_LOG")))
