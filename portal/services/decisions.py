"""Explain a sender: which sender rule decides for a (sender, recipient) pair, and which are shadowed.

Order of evaluation (what the data plane applies, in the same order):
1. PROTECTED rules of the recipient's mailbox and domain: a sender matching one is refused as a
   spoof unless SPF or DKIM passed ("an address or domain that outside senders may not use").
2. The owners in the domain's `wblistPriority` order (USER: the mailbox's rules, then the domain's;
   DOMAIN: the reverse). The first owner with a matching ALLOW or BLOCK rule decides.
3. Within an owner the most specific match wins: the exact address, then the sender's domain, then
   its parent domains. An ALLOW rule with `spfOn` applies only when SPF passed.
Expired rules no longer apply (they are listed as such). No rule: the normal filtering applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..clock import utcnow
from ..errors import Forbidden, Invalid
from ..extensions import db
from ..permissions import Permission
from ..words import Message, Text, _l
from . import domains, names
from .principal import Principal

RESULTS = ("pass", "fail", "none")


@dataclass(frozen=True)
class RuleRow:
    """A sender rule as the decision reads it (the fields the API shows)."""

    id: int
    owner_key: str
    value: str
    type: str
    expire_at: datetime | None
    spf_on: bool | None
    description: str | None
    created_at: datetime


@dataclass
class Considered:
    rule: RuleRow
    owner: str
    reason: Message  # words: translated on pages, English in the API


@dataclass
class Decision:
    sender: str
    recipient: str
    verdict: str  # ALLOW, BLOCK or NONE
    reason: Message
    decided_by: Considered | None
    shadowed: list[Considered] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)


def _candidates(sender: str) -> list[str]:
    """The values that can match a sender, most specific first: the address, its domain, the parents."""
    domain = sender.rsplit("@", 1)[1]
    parts = domain.split(".")
    return [sender] + [".".join(parts[i:]) for i in range(len(parts) - 1)]


def decide(principal: Principal, sender: str, recipient: str, spf: str | None = None,
           dkim: str | None = None) -> Decision:
    sender = names.address(sender, "sender")
    recipient = names.address(recipient, "recipient")
    for value, name in ((spf, "spf"), (dkim, "dkim")):
        if value is not None and value not in RESULTS:
            raise Invalid.on(name, f"Must be one of {', '.join(RESULTS)}.")
    connection = db.session.connection()
    cursor = connection.connection.cursor()
    mark = "?" if connection.dialect.name == "sqlite" else "%s"
    found = _recipient(cursor, mark, recipient)
    if found is None:
        raise Invalid.on("recipient", _l("The recipient's domain is not managed here."))
    user_id, domain_id, domain_name, priority = found
    _check_access(principal, domain_id, user_id)

    owners: list[tuple[str, str]] = [(f"d:{domain_id}", domain_name)]
    if user_id is not None:
        mailbox = (f"u:{user_id}", recipient)
        owners = [mailbox, *owners] if priority == "USER" else [*owners, mailbox]
    labels = dict(owners)
    values = _candidates(sender)
    specificity = {v: i for i, v in enumerate(values)}
    rules = _rules(cursor, mark, [key for key, _ in owners], values)
    now = utcnow()
    live, expired = [], []
    for rule in rules:
        (expired if rule.expire_at is not None and rule.expire_at <= now else live).append(rule)
    decision = Decision(sender, recipient, "NONE", _l("No sender rule matches: the normal filtering applies."), None,
                        owners=[label for _, label in owners])
    decision.shadowed = [Considered(r, labels[r.owner_key], _l("expired")) for r in expired]
    authenticated = spf == "pass" or dkim == "pass"

    protected = sorted((r for r in live if r.type == "PROTECTED"), key=lambda r: specificity[r.value])
    if protected and not authenticated:
        decision.verdict, decision.decided_by = "BLOCK", Considered(protected[0], labels[protected[0].owner_key],
                                                                    _l("protected"))
        decision.reason = _l("%(value)s is protected and neither SPF nor DKIM passed for %(sender)s: "
                             "refused as a spoof.", value=protected[0].value, sender=sender)
        decision.shadowed += [Considered(r, labels[r.owner_key], _l("shadowed by the protection"))
                              for r in live if r is not protected[0]]
        return decision
    decision.shadowed += [Considered(r, labels[r.owner_key], _l("protected, and SPF or DKIM passed"))
                          for r in protected]
    for key, label in owners:
        matching = sorted((r for r in live if r.owner_key == key and r.type in ("ALLOW", "BLOCK")),
                          key=lambda r: specificity[r.value])
        for rule in matching:
            if rule.type == "ALLOW" and rule.spf_on and spf != "pass":
                decision.shadowed.append(Considered(rule, label, _l("needs SPF to pass")))
                continue
            if decision.decided_by is None:
                decision.verdict = rule.type
                decision.decided_by = Considered(rule, label, _l("decides"))
                decision.reason = _reason(rule, label, sender)
            elif rule.owner_key == decision.decided_by.rule.owner_key:
                decision.shadowed.append(Considered(rule, label, _l("shadowed: less specific")))
            else:
                decision.shadowed.append(Considered(rule, label, _l(
                    "shadowed: %(owner)s comes first (wblistPriority %(priority)s)",
                    owner=decision.decided_by.owner, priority=priority)))
    return decision


def _reason(rule: RuleRow, owner: str, sender: str) -> Text:
    """Why the deciding rule decides, in words (one sentence each, so that every language can say it)."""
    if rule.value == sender:
        if rule.type == "ALLOW":
            return _l("%(owner)s allows the exact address.", owner=owner)
        return _l("%(owner)s blocks the exact address.", owner=owner)
    if rule.type == "ALLOW":
        return _l("%(owner)s allows the domain %(domain)s.", owner=owner, domain=rule.value)
    return _l("%(owner)s blocks the domain %(domain)s.", owner=owner, domain=rule.value)


def _check_access(principal: Principal, domain_id: int, user_id: int | None) -> None:
    if principal.user is not None:
        if user_id is None or principal.user.id != user_id:
            raise Forbidden(_l("End users can only explain the mail they receive."))
        return
    principal.reach(domain_id, Permission.DOMAIN_READ, missing=_l("The recipient's domain is not managed here."))


# --- the lookups: the hot path of a decision, on the session's own DB-API connection ------------------
# Two statements (the recipient with its domain, then the rules of both owners for the sender's
# address and domains), both answered from indexes; SQLAlchemy's per-statement overhead would be
# most of the cost here.

def _recipient(cursor: Any, mark: str, recipient: str) -> tuple[int | None, int, str, str] | None:
    """(user id or None, domain id, domain name, wblistPriority) of a recipient address."""
    cursor.execute(
        "SELECT users.id, domains.id, domains.name, domains.wblist_priority FROM users "
        f"JOIN domains ON domains.id = users.domain_id WHERE users.email = {mark}", (recipient,))
    row = cursor.fetchone()
    if row is not None:
        return row[0], row[1], row[2], row[3]
    domain = domains.by_name(recipient.rsplit("@", 1)[1])
    return None if domain is None else (None, domain.id, domain.name, domain.wblist_priority)


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _rules(cursor: Any, mark: str, owner_keys: list[str], values: list[str]) -> list[RuleRow]:
    cursor.execute(
        "SELECT id, owner_key, value, type, expire_at, spf_on, description, created_at FROM sender_rules "
        f"WHERE owner_key IN ({', '.join([mark] * len(owner_keys))}) "
        f"AND value IN ({', '.join([mark] * len(values))})", (*owner_keys, *values))
    return [RuleRow(r[0], r[1], r[2], r[3], _as_datetime(r[4]), None if r[5] is None else bool(r[5]), r[6],
                    _as_datetime(r[7]))  # type: ignore[arg-type]
            for r in cursor.fetchall()]
