"""Actions on several quarantined messages at once (the quarantine page's selection).

- release: each message as a single release would (infected ones are left for a one-by-one
  decision, refused ones stay with the reason);
- release and allow: the same, then an ALLOW rule for each released message's sender;
- allow: an ALLOW rule for each sender, the messages staying where they are; an infected message's
  sender is never allowed (`scanner.is_infected`, as release decides), as release and allow never does;
- block: a BLOCK rule for each sender (the user's list, or the domain's when the acting admin may
  edit its rules); the messages stay where they are;
- delete: the messages are removed from the quarantine for good.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import ValidationError

from ..errors import Forbidden, Invalid, PreconditionFailed, ServiceError
from ..models import MailUser
from ..schemas.rules import SenderRuleType
from ..unit_of_work import attempt
from ..words import Message, _l
from . import mailboxes, names, release, scanner, statistics, wblist
from .principal import Principal

FOLDER = mailboxes.QUARANTINE
MAX_SELECTED = 100
RELEASE_BUDGET_SECONDS = 20.0  # no release of a selection starts after this long: the request must end well
# within a web worker's timeout (100 messages through a slow relay took minutes; gunicorn killed the worker)


class Action(StrEnum):
    RELEASE = "release"
    RELEASE_ALLOW = "release_allow"
    ALLOW = "allow"
    BLOCK = "block"
    DELETE = "delete"


@dataclass
class Outcome:
    released: list[str] = field(default_factory=list)
    infected: list[str] = field(default_factory=list)  # left: they need an explicit choice each
    failed: dict[str, Message] = field(default_factory=dict)  # message id -> why (words for people)
    deleted: int = 0
    rules: list[str] = field(default_factory=list)  # senders allowed or blocked
    postponed: list[str] = field(default_factory=list)  # not tried: the selection's time budget ran out
    not_allowed: list[str] = field(default_factory=list)  # infected: their senders were not allowed


def _owner(principal: Principal, user: MailUser) -> wblist.Owner:
    try:
        return wblist.user_owner(principal, user.id, write=True)
    except Forbidden as error:
        raise Forbidden(_l("Your domain does not let you edit your senders.")) from error


def _rule(owner: wblist.Owner, sender: str, kind: SenderRuleType, outcome: Outcome) -> None:
    try:
        value = names.address(sender, "value")
        wblist.put(owner, value, kind, "From the quarantine")
    except (Invalid, ValidationError):
        outcome.failed[sender] = _l("not an address a rule can name")
        return
    if value not in outcome.rules:
        outcome.rules.append(value)


def apply(principal: Principal, user: MailUser, action: Action, message_ids: list[str], *,
          rules_owner: wblist.Owner | None = None) -> Outcome:
    """`rules_owner`: whose list the allow / block rules go to (default: the user's own).

    Releases are claimed one by one (`release.release`), before the rules are written."""
    if not message_ids:
        raise Invalid.on("ids", _l("Select at least one message."))
    if len(message_ids) > MAX_SELECTED:
        raise Invalid.on("ids", _l("Select at most %(num)d messages.", num=MAX_SELECTED))
    mailboxes.require_read(principal, user, FOLDER)
    outcome = Outcome()
    if action == Action.DELETE:
        mailboxes.require_delete(principal, user)
        with mailboxes.store_for(user) as store:
            outcome.deleted = store.delete(FOLDER, message_ids)
        statistics.count(user.domain_id, statistics.DELETED, n=outcome.deleted)
        return outcome
    if action in (Action.BLOCK, Action.ALLOW):
        owner = rules_owner or _owner(principal, user)
        senders = []
        with mailboxes.store_for(user) as store:
            for message_id in message_ids:
                summary, raw = store.message(FOLDER, message_id)
                if action == Action.ALLOW and scanner.is_infected(summary, raw):
                    outcome.not_allowed.append(message_id)
                else:
                    senders.append(summary.sender)
        kind = SenderRuleType.BLOCK if action == Action.BLOCK else SenderRuleType.ALLOW
        with attempt():  # all the rules or none
            for sender in dict.fromkeys(senders):
                _rule(owner, sender, kind, outcome)
        return outcome
    mailboxes.require_release(principal, user, FOLDER)
    owner = (rules_owner or _owner(principal, user)) if action == Action.RELEASE_ALLOW else None
    senders: list[str] = []
    started = time.monotonic()
    for message_id in message_ids:
        if time.monotonic() - started >= RELEASE_BUDGET_SECONDS and (outcome.released or outcome.failed):
            outcome.postponed.append(message_id)
            continue
        try:
            done = release.release(principal, user, FOLDER, message_id, virus_lover=False)
        except PreconditionFailed:
            outcome.infected.append(message_id)
            continue
        except ServiceError as error:  # a refused release wrote nothing: it records only what was delivered
            outcome.failed[message_id] = error.detail
            continue
        if done.refused:
            outcome.failed[message_id] = "; ".join(done.refused.values())
            continue
        if done.in_flight:
            outcome.failed[message_id] = release.IN_FLIGHT_DETAIL
            continue
        outcome.released.append(message_id)
        senders.append(done.sender)
    if owner is not None and senders:
        with attempt():
            for sender in dict.fromkeys(senders):
                _rule(owner, sender, SenderRuleType.ALLOW, outcome)
    return outcome
