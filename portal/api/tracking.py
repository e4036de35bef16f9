"""Message tracking (issue 17, item 5), a Postern extension: messages of the Postfix log (POSTERN_MAIL_LOG), searched
by sender, recipient, queue id or Message-ID over a time range (default the last 24 hours, at most 31 days), newest
first, each with its path. Sysadmins, or QUEUE_MANAGE held on any broker (the mail queue's operators)."""

from __future__ import annotations

from flask import Response, current_app, request

from ..clock import to_ms
from ..permissions import Permission
from ..schemas.tracking import TrackedMessageOut, TrackingEventOut
from ..services import listing, tracking
from .framework import QueryParam, endpoint, json_response, principal

TAG = "MailTracking"
TIME = {"type": "string", "description": "Epoch milliseconds, or ISO 8601 (no offset: UTC)"}
QUERY = (
    QueryParam("offset", schema={"type": "integer", "minimum": 0, "default": 0}),
    QueryParam("pageSize", schema={"type": "integer", "minimum": 1, "default": 40}),
    QueryParam("start", "Messages first seen at or after this time (default: 24 hours before `end`)", schema=TIME),
    QueryParam("end", "Messages first seen before this time (default: now); at most 31 days after `start`",
               schema=TIME),
    QueryParam("sender", "The envelope sender: exact, prefix*, *suffix or *contains* (case-insensitive); <> for "
                         "the null sender"),
    QueryParam("recipient", "Any recipient: exact, prefix*, *suffix or *contains* (case-insensitive)"),
    QueryParam("queueId", "A Postfix queue id (it may name several messages over time)"),
    QueryParam("messageId", "The Message-ID header's value, with or without <>"),
)


def message_out(found: tracking.Tracked) -> TrackedMessageOut:
    m = found.message
    return TrackedMessageOut(
        queue_id=m.queue_id, received_at=to_ms(m.received_at), last_at=to_ms(m.last_at), sender=m.sender,
        message_id=m.message_id, client=m.client, size=m.size, nrcpt=m.nrcpt, status=m.status, removed=m.closed,
        events=[TrackingEventOut(at=to_ms(e.at), kind=e.kind, recipient=e.recipient, relay=e.relay, dsn=e.dsn,
                                 status=e.status, delay=e.delay, text=e.text) for e in found.events])


@endpoint("/mailtracking", "GET", access=Permission.QUEUE_MANAGE, tag=TAG, extension=True,
          summary="Search the messages of the mail log, newest first, each with its path",
          response=list[TrackedMessageOut], query=QUERY, errors={400: "A bad filter, time or range"})
def search_mailtracking() -> Response:
    query = tracking.parse_query(request.args)
    offset, page_size = listing.paging(request.args, current_app.config["API_MAX_PAGE_SIZE"])
    found = tracking.search(principal(), query, offset, page_size)
    return json_response([message_out(t) for t in found.rows], headers={
        "X-Total-Count": str(found.total), "Access-Control-Expose-Headers": "X-Total-Count"})
