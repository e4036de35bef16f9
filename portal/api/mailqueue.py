"""The gateway's Postfix mail queue (issue 17, seed 004), a Postern extension: sysadmins, or QUEUE_MANAGE held on
any broker. Postfix missing or not permitted here: 503 "The mail queue is not available here."

Bulk actions take `{"ids": [...]}` (1 to 1000 Postfix queue ids; one that is not a queue id is a 400 before
Postfix runs) and skip ids that already left the queue: the answer names the ids acted on
(`{"ids": [...]}`; for a re-send `{"resent": {old: new}}`).
"""

from __future__ import annotations

from flask import Response, current_app, request

from ..errors import Invalid
from ..integrations.postfix import MessageContent, QueuedMessage
from ..permissions import Permission
from ..schemas.mailqueue import (
    BulkResendOut,
    QueueCountOut,
    QueuedMessageDetailOut,
    QueuedMessageOut,
    QueueIdsIn,
    QueueIdsOut,
    QueueRecipientOut,
    ResendOut,
)
from ..services import listing, mailqueue
from .framework import QueryParam, endpoint, json_response, no_content, principal

TAG = "MailQueue"
ACCESS = Permission.QUEUE_MANAGE  # sysadmins hold every permission
DOWN = {503: "The mail queue is not available here (Postfix is not installed, or may not be run)"}
ONE = {404: "No message with this queue id is in the mail queue", **DOWN}
BULK = {400: "An id is not a Postfix queue id", **DOWN}
LIST_QUERY = (
    QueryParam("offset", schema={"type": "integer", "minimum": 0, "default": 0}),
    QueryParam("pageSize", schema={"type": "integer", "minimum": 1, "default": 40}),
    QueryParam("queue", "active, deferred, hold, incoming or maildrop",
               schema={"type": "string", "enum": ["active", "deferred", "hold", "incoming", "maildrop"]}),
    QueryParam("sender", "The sender: exact, prefix*, *suffix or *contains* (case-insensitive)"),
    QueryParam("recipient", "Any recipient: exact, prefix*, *suffix or *contains* (case-insensitive)"),
    QueryParam("minAge", "Only messages queued at least this many seconds ago",
               schema={"type": "integer", "minimum": 0}),
)


def message_out(m: QueuedMessage) -> QueuedMessageOut:
    return QueuedMessageOut(queue_id=m.queue_id, queue_name=m.queue_name, arrival_time=m.arrival_time * 1000,
                            size=m.size, sender=m.sender,
                            recipients=[QueueRecipientOut(address=r.address, delay_reason=r.delay_reason)
                                        for r in m.recipients])


def _detail_out(m: QueuedMessage, content: MessageContent) -> QueuedMessageDetailOut:
    return QueuedMessageDetailOut(**message_out(m).model_dump(), headers=content.headers, body=content.body,
                                  truncated=content.truncated)


@endpoint("/mailqueue", "GET", access=ACCESS, tag=TAG, summary="List the mail queue (oldest first)",
          response=list[QueuedMessageOut], query=LIST_QUERY, errors={400: "A bad filter", **DOWN}, extension=True)
def list_mailqueue() -> Response:
    filters = mailqueue.parse_filters(request.args)
    offset, page_size = listing.paging(request.args, current_app.config["API_MAX_PAGE_SIZE"])
    found = mailqueue.list_messages(principal(), filters, offset, page_size)
    return json_response([message_out(m) for m in found.rows], headers={
        "X-Total-Count": str(found.total), "Access-Control-Expose-Headers": "X-Total-Count"})


@endpoint("/mailqueue/count", "GET", access=ACCESS, tag=TAG, summary="Messages in each queue",
          response=QueueCountOut, errors=DOWN, extension=True)
def count_mailqueue() -> Response:
    return json_response(QueueCountOut(**mailqueue.counts(principal())))


def _flag(name: str) -> bool:
    value = (request.args.get(name) or "false").lower()
    if value not in ("true", "false"):
        raise Invalid.on(name, "Give true or false.")
    return value == "true"


@endpoint("/mailqueue", "DELETE", access=ACCESS, tag=TAG, status=204, extension=True,
          summary="Clear the queue: the deferred queue; `queue=hold` deletes the held (frozen) messages; "
                  "`force=true` deletes every queue",
          query=(QueryParam("queue", "The one queue to empty (default deferred)",
                            schema={"type": "string", "enum": ["active", "deferred", "hold", "incoming",
                                                               "maildrop"]}),
                 QueryParam("force", "Every queue, active and hold included", schema={"type": "boolean"})),
          errors={400: "An unknown queue", **DOWN})
def clear_mailqueue() -> Response:
    queue = (request.args.get("queue") or "").strip().lower() or None
    mailqueue.delete_queue(principal(), queue, force=_flag("force"))
    return no_content()


@endpoint("/mailqueue/flush", "POST", access=ACCESS, tag=TAG, status=204, errors=DOWN, extension=True,
          summary="Try to deliver every deferred message now")
def flush_mailqueue() -> Response:
    mailqueue.flush(principal())
    return no_content()


@endpoint("/mailqueue/delete", "POST", access=ACCESS, tag=TAG, body=QueueIdsIn, response=QueueIdsOut,
          errors=BULK, extension=True, summary="Delete the messages with these queue ids")
def bulk_delete_mailqueue(body: QueueIdsIn) -> Response:
    return json_response(QueueIdsOut(ids=mailqueue.delete(principal(), body.ids, field_name="ids")))


@endpoint("/mailqueue/hold", "POST", access=ACCESS, tag=TAG, body=QueueIdsIn, response=QueueIdsOut,
          errors=BULK, extension=True, summary="Put the messages with these queue ids on hold")
def bulk_hold_mailqueue(body: QueueIdsIn) -> Response:
    return json_response(QueueIdsOut(ids=mailqueue.hold(principal(), body.ids, field_name="ids")))


@endpoint("/mailqueue/release", "POST", access=ACCESS, tag=TAG, body=QueueIdsIn, response=QueueIdsOut,
          errors=BULK, extension=True, summary="Release the held messages with these queue ids")
def bulk_release_mailqueue(body: QueueIdsIn) -> Response:
    return json_response(QueueIdsOut(ids=mailqueue.release(principal(), body.ids, field_name="ids")))


@endpoint("/mailqueue/resend", "POST", access=ACCESS, tag=TAG, body=QueueIdsIn, response=BulkResendOut,
          errors=BULK, extension=True, summary="Re-send the messages with these queue ids (each gets a new id)")
def bulk_resend_mailqueue(body: QueueIdsIn) -> Response:
    return json_response(BulkResendOut(resent=mailqueue.resend(principal(), body.ids, field_name="ids")))


@endpoint("/mailqueue/<queueId>", "GET", access=ACCESS, tag=TAG, summary="A queued message, headers and body",
          response=QueuedMessageDetailOut, errors=ONE, extension=True)
def get_mailqueue_message(queueId: str) -> Response:
    message, content = mailqueue.get(principal(), queueId)
    return json_response(_detail_out(message, content))


@endpoint("/mailqueue/<queueId>", "DELETE", access=ACCESS, tag=TAG, status=204, errors=ONE, extension=True,
          summary="Delete a queued message")
def delete_mailqueue_message(queueId: str) -> Response:
    mailqueue.delete(principal(), [queueId])
    return no_content()


@endpoint("/mailqueue/<queueId>/resend", "POST", access=ACCESS, tag=TAG, response=ResendOut, errors=ONE,
          extension=True, summary="Re-send a queued message; Postfix gives it a new queue id")
def resend_mailqueue_message(queueId: str) -> Response:
    return json_response(ResendOut(queue_id=mailqueue.resend(principal(), [queueId]).get(queueId)))


@endpoint("/mailqueue/<queueId>/hold", "POST", access=ACCESS, tag=TAG, status=204, errors=ONE, extension=True,
          summary="Put a queued message on hold (freeze it)")
def hold_mailqueue_message(queueId: str) -> Response:
    mailqueue.hold(principal(), [queueId])
    return no_content()


@endpoint("/mailqueue/<queueId>/release", "POST", access=ACCESS, tag=TAG, status=204, errors=ONE, extension=True,
          summary="Release a held message")
def release_mailqueue_message(queueId: str) -> Response:
    mailqueue.release(principal(), [queueId])
    return no_content()
