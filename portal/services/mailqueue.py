"""The gateway's Postfix mail queue (issue 17, seed 004): list, count, read, delete, re-send, hold, release,
flush and clear, for the API and the Mail queue page alike.

- Who: a system administrator, or an administrator holding QUEUE_MANAGE on any broker. The queue holds every
  tenant's mail and is not divided by tenant, so the permission on one broker grants the whole queue (that is
  why it is an operator's permission, granted on brokers only).
- The queue is Postfix's, not the database's: nothing here reads or writes a table except the audit trail.
  Every action (and every read of a message's content, which is someone's mail) is recorded with the queue ids.
- Ids are checked before Postfix's tools run (`integrations.postfix.check_ids`); an id no longer queued is a 404
  for a single message; a bulk action skips ids that left the queue meanwhile and answers the ids it acted on.
- Postfix missing or not permitted: `QueueUnavailable` (503, "The mail queue is not available here.").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app

from ..clock import utcnow
from ..errors import FieldError, Forbidden, Invalid
from ..integrations.postfix import QUEUES, MessageContent, Postfix, QueuedMessage, check_ids, message_of
from ..permissions import Permission
from ..words import _l
from . import audit
from .principal import Principal

FILTERS = ("queue", "sender", "recipient", "minAge")


def postfix() -> Postfix:
    config = current_app.config
    return Postfix(bin_dir=config.get("POSTFIX_BIN") or "/usr/sbin", config_dir=config.get("POSTFIX_CONFIG"),
                   timeout=float(config.get("POSTFIX_TIMEOUT") or 30))


def allowed(principal: Principal) -> bool:
    """Whether the principal may see and act on the queue (`Principal.operates_gateway`; the shell's link too)."""
    return principal.operates_gateway


def require(principal: Principal) -> None:
    if not allowed(principal):
        raise Forbidden(_l("You need the %(permission)s permission.", permission=Permission.QUEUE_MANAGE))


@dataclass(frozen=True)
class Filters:
    """All given filters apply together (unlike the one-filter rule of SQL lists: the queue is filtered while
    it streams). `sender` and `recipient` take the house wildcards: exact, `prefix*`, `*suffix`, `*contains*`."""

    queue: str | None = None
    sender: str | None = None
    recipient: str | None = None
    min_age: int | None = None  # seconds since arrival

    @property
    def empty(self) -> bool:
        return self.queue is None and self.sender is None and self.recipient is None and self.min_age is None


def parse_filters(args: Mapping[str, str]) -> Filters:
    errors: list[FieldError] = []
    values: dict[str, str | None] = {}
    for name in FILTERS:
        raw = (args.get(name) or "").strip()
        if len(raw) > 255 or any(ord(c) < 32 for c in raw):
            errors.append(FieldError(name, _l("Must be at most 255 printable characters.")))
            raw = ""
        values[name] = raw or None
    queue = values["queue"].lower() if values["queue"] else None
    if queue is not None and queue not in QUEUES:
        errors.append(FieldError("queue", _l("One of: %(choices)s.", choices=", ".join(QUEUES))))
    min_age: int | None = None
    if values["minAge"] is not None:
        try:
            min_age = int(values["minAge"])
            if not 0 <= min_age <= 10**9:
                raise ValueError
        except ValueError:
            errors.append(FieldError("minAge", _l("Must be between %(low)d and %(high)d.", low=0, high=10**9)))
    if errors:
        raise Invalid(_l("Invalid list parameters."), errors)
    return Filters(queue=queue, sender=values["sender"], recipient=values["recipient"], min_age=min_age)


def _matcher(pattern: str) -> Callable[[str], bool]:
    """The house wildcard rule (services/listing.py) for one text: case-insensitive."""
    starts, ends = pattern.startswith("*"), pattern.endswith("*") and len(pattern) > 1
    core = pattern.strip("*").lower()
    if starts and ends:
        return lambda text: core in text.lower()
    if starts:
        return lambda text: text.lower().endswith(core)
    if ends:
        return lambda text: text.lower().startswith(core)
    return lambda text: text.lower() == core


def _keep(filters: Filters) -> Callable[[QueuedMessage], bool]:
    sender = _matcher(filters.sender) if filters.sender is not None else None
    recipient = _matcher(filters.recipient) if filters.recipient is not None else None
    newest = int(utcnow().timestamp()) - filters.min_age if filters.min_age is not None else None

    def keep(message: QueuedMessage) -> bool:
        if filters.queue is not None and message.queue_name != filters.queue:
            return False
        if newest is not None and message.arrival_time > newest:
            return False
        if sender is not None and not sender(message.sender):
            return False
        return recipient is None or any(recipient(r.address) for r in message.recipients)

    return keep


@dataclass
class QueuePage:
    rows: list[QueuedMessage]  # one page of the filtered queue
    total: int  # the filtered queue's size
    counts: dict[str, int]  # the whole queue's, per queue and "total" (from the same pass)


def list_messages(principal: Principal, filters: Filters, offset: int = 0, page_size: int = 40) -> QueuePage:
    """One page of the filtered queue, oldest first (arrival time, then queue id), its total, and the counts of
    the whole queue: one `postqueue -j`, streamed."""
    require(principal)
    keep = None if filters.empty else _keep(filters)
    counts = dict.fromkeys(QUEUES, 0)
    kept: list[tuple[int, str, dict[str, Any]]] = []  # (arrival, id, entry): typed only when shown (or filtered)
    for entry in postfix().entries():
        counts[entry["queue_name"]] = counts.get(entry["queue_name"], 0) + 1
        if keep is not None:
            message = message_of(entry)
            if message is None or not keep(message):
                continue
        kept.append((entry.get("arrival_time") or 0, entry["queue_id"], entry))
    kept.sort(key=lambda row: (row[0], row[1]))
    page = [m for _, _, entry in kept[offset:offset + page_size] if (m := message_of(entry)) is not None]
    return QueuePage(page, len(kept), {**counts, "total": sum(counts.values())})


def counts(principal: Principal) -> dict[str, int]:
    require(principal)
    return postfix().counts()


def get(principal: Principal, queue_id: str) -> tuple[QueuedMessage, MessageContent]:
    """A message and its headers and body: someone's mail, so the read is in the audit trail."""
    require(principal)
    tools = postfix()
    message = tools.get(queue_id)
    content = tools.content(queue_id)
    _record(principal, "MAILQUEUE_READ", [queue_id])
    return message, content


def _record(principal: Principal, action: str, ids: list[str], detail: str = "") -> None:
    if principal.admin is not None:
        audit.record(principal.admin, action, None, ("queue ids " + ", ".join(ids))[:320] if ids else "mail queue",
                     detail)


def _ids(queue_ids: list[str], field_name: str | None) -> list[str]:
    return check_ids(queue_ids, field_name)


def delete(principal: Principal, queue_ids: list[str], *, field_name: str | None = None) -> list[str]:
    require(principal)
    done = postfix().delete(_ids(queue_ids, field_name))
    _record(principal, "MAILQUEUE_DELETE", done)
    return done


def hold(principal: Principal, queue_ids: list[str], *, field_name: str | None = None) -> list[str]:
    require(principal)
    done = postfix().hold(_ids(queue_ids, field_name))
    _record(principal, "MAILQUEUE_HOLD", done)
    return done


def release(principal: Principal, queue_ids: list[str], *, field_name: str | None = None) -> list[str]:
    require(principal)
    done = postfix().release(_ids(queue_ids, field_name))
    _record(principal, "MAILQUEUE_RELEASE", done)
    return done


def resend(principal: Principal, queue_ids: list[str], *, field_name: str | None = None) -> dict[str, str | None]:
    """Re-queue ("reship"): Postfix gives each message a new queue id, reported old -> new."""
    require(principal)
    done = postfix().resend(_ids(queue_ids, field_name))
    _record(principal, "MAILQUEUE_RESEND", list(done),
            ", ".join(f"{old} -> {new or '?'}" for old, new in done.items()))
    return done


def delete_queue(principal: Principal, queue: str | None = None, *, force: bool = False) -> None:
    """Delete every message of `queue`; no queue: the deferred queue ("clear"), or all queues with `force`."""
    require(principal)
    if queue is not None and queue not in QUEUES:
        raise Invalid.on("queue", _l("One of: %(choices)s.", choices=", ".join(QUEUES)))
    target = None if force and queue is None else (queue or "deferred")
    postfix().delete_queue(target)
    _record(principal, "MAILQUEUE_CLEAR", [], f"queue {target or 'all'}")


def flush(principal: Principal) -> None:
    require(principal)
    postfix().flush()
    _record(principal, "MAILQUEUE_FLUSH", [])
