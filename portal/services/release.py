"""Release a quarantined message to its recipient, losing nothing and sending nothing twice.

- An infected message (`scanner.is_infected`: the filter's headers, or a live clamd scan) needs
  `X-Virus-Lover`; that header on a clean message is refused too (412, as the seed says).
- The copy sent has no spam subject prefix (the user's policy) and no verdict headers, and carries
  `X-Postern-Released`; it goes to the platform's relay, then its fallback.
- Exactly once across processes and machines: before anything is sent, the request claims
  (user, message key, recipient) by inserting a `releases` row (state `sending`) under its unique
  constraint, in a short transaction of its own. One request wins; the others find the row and send
  nothing: `delivered` -> already done, `sending` -> in flight (the API answers 409, try again). After
  the relay's 250 the row becomes `delivered`, committed at once: the one exception to "one commit per
  request", so that the record is durable before the store is flagged. A refusal (550/452) or an
  unreachable relay drops the claim (nothing was sent; a later try may send); a failure after DATA was sent
  keeps it (the relay may have the message) until it is stale. A claim older than
  `claim_lifetime()` (the SMTP deadlines plus a margin) is a crashed worker's and may be retaken.
- `force` sends again to a recipient already served; the re-send is claimed too (one per request,
  none while another request is delivering).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..clock import utcnow
from ..errors import MaybeDelivered, NotFound, PreconditionFailed, Unavailable
from ..extensions import db
from ..integrations.mailstore import RELEASED, MailStore, Summary
from ..models import MailUser, Release
from ..unit_of_work import apart
from ..words import _l
from . import delivery, mailboxes, scanner, statistics
from .header_words import encoded_words
from .principal import Principal

log = logging.getLogger(__name__)

SENDING, DELIVERED = "sending", "delivered"  # states of a Release row
ALREADY, IN_FLIGHT = "already", "in flight"  # what a claim may find instead
CLAIM_MARGIN_SECONDS = 30
RETRY_AFTER_SECONDS = 5  # what a request answering "being released" suggests
IN_FLIGHT_DETAIL = _l("The message is being released by another request; try again in a moment.")

VERDICT_HEADERS = ("X-Spam-Score", "X-Spam-Status", "X-Spam-Flag", "X-Spam-Level", "X-Quarantine-Reason",
                   "X-Virus-Name", "X-Virus-Status")


@dataclass
class Outcome:
    delivered: list[str]
    already: list[str]
    refused: dict[str, str] = field(default_factory=dict)  # recipient -> the relay's answer
    sender: str = ""  # who sent the released message (for an allow rule that follows)
    in_flight: list[str] = field(default_factory=list)  # another request is delivering to these now


def _who(principal: Principal) -> str:
    if principal.user is not None:
        return principal.user.email
    return principal.admin.login if principal.admin else "?"


def _prepare(raw: bytes, user: MailUser) -> bytes:
    """The copy a release sends, made on the raw bytes (a hostile header, an encoded CR/LF say, must not
    make a message unreleasable, and nothing is re-serialised): the verdict headers go (with their folded
    lines), the policy's spam / advert prefix leaves the Subject, `X-Postern-Released` is added at the
    end of the header; every other header line and the body are the bytes received, their line ends made
    SMTP's CRLF (a Maildir store keeps LF; a bare LF is not sent to a relay)."""
    props = (user.policy or user.domain.default_policy)
    relay_props = (props.relay_props or {}) if props else {}
    prefixes = [str(p) for p in (relay_props.get("prefixSpam"), relay_props.get("advertPrefix")) if p]
    fields, rest = _header_fields(_BARE_LF.sub(b"\r\n", raw))
    eol = b"\r\n"
    kept = []
    for line in fields:
        name = _field_name(line)
        if name in _VERDICT:
            continue
        kept.append(_without_prefixes(line, prefixes, eol) if name == b"subject" else line)
    if kept and not kept[-1].endswith(b"\n"):  # a header block without an end of line (no body)
        kept[-1] += eol
    released = b"X-Postern-Released: " + utcnow().strftime("%Y-%m-%dT%H:%M:%SZ").encode() + eol
    return b"".join(kept) + released + rest


_VERDICT = {name.lower().encode() for name in VERDICT_HEADERS}
_LINE = re.compile(rb"[^\n]*\n|[^\n]+")
_BARE_LF = re.compile(rb"(?<!\r)\n")
_FOLDING = rb"(?:[ \t]|\r?\n[ \t])*"  # white space inside a field, its folds included


def _header_fields(raw: bytes) -> tuple[list[bytes], bytes]:
    """The header fields of a message, each with its continuation lines and line ends, as received; and the
    rest (the empty line and the body, byte for byte). Lines end at LF only: a bare CR is content."""
    fields: list[bytes] = []
    position = 0
    for match in _LINE.finditer(raw):
        line = match.group()
        if line in (b"\r\n", b"\n"):
            break
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
        position = match.end()
    return fields, raw[position:]


def _field_name(field: bytes) -> bytes:
    name, colon, _value = field.partition(b":")
    return name.strip().lower() if colon else b""


def _without_prefixes(field: bytes, prefixes: list[str], eol: bytes) -> bytes:
    """A Subject field without the policy's prefixes: cut from the raw bytes when the prefix is there as
    text; when it is inside an encoded word, the whole field is decoded, cut and encoded again (base64
    encoded words: a control character the original encoded stays encoded, never a raw line end)."""
    name, _colon, value = field.partition(b":")
    for prefix in prefixes:
        literal = re.match(rb"^" + _FOLDING + re.escape(prefix.encode()) + _FOLDING, value)
        if literal:
            value = b" " + value[literal.end():]
            continue
        text = _decoded(value)
        cut = re.sub(r"^\s*" + re.escape(prefix) + r"\s*", "", text, count=1)
        if cut != text:
            value = (b" " + encoded_words(cut, eol.decode()).encode() if cut else b"") + eol
    return name + b":" + value


def _decoded(value: bytes) -> str:
    """A raw Subject value as a reader sees it: unfolded, its encoded words decoded (never an exception)."""
    text = re.sub(r"\r?\n(?=[ \t])", "", value.decode("utf-8", errors="replace")).strip()
    try:
        return str(policy.default.header_factory("subject", text))
    except Exception:  # the policy's parser is lenient; should it fail on some input, a plainer reading
        try:
            return str(make_header(decode_header(text)))
        except (ValueError, LookupError, UnicodeError, HeaderParseError):
            return text


def claim_lifetime() -> timedelta:
    """How long a claim holds off other requests: the SMTP deadline of the relay and of its fallback, and a
    margin. A `sending` row older than this belongs to a worker that died: it may be retaken."""
    return timedelta(seconds=2 * float(current_app.config["SMTP_TIMEOUT"]) + CLAIM_MARGIN_SECONDS)


@dataclass(frozen=True)
class _Claim:
    id: int
    token: str
    recipient: str
    delivered_before: bool  # the row records an earlier delivery: a forced re-send holds it


def _claim(user: MailUser, key: str, recipient: str, who: str, *, force: bool) -> _Claim | str:
    """Take the right to deliver `key` to `recipient`, committed before anything is sent: a claim, ALREADY
    (delivered, and not forced) or IN_FLIGHT (another request holds it).

    A new claim is an insert under the unique constraint (ON CONFLICT DO NOTHING): of concurrent requests
    in any process, one inserts, the others insert nothing and read the row. A delivered row (for `force`)
    or a stale one is retaken by a compare-and-set on its claim token, so again only one request wins."""
    table = Release.__table__
    dialect = sqlite if db.engine.dialect.name == "sqlite" else postgresql
    for _attempt in range(3):  # a holder may drop its claim between our insert and our read
        token, now = secrets.token_hex(16), utcnow()
        with apart() as conn:
            inserted = conn.execute(dialect.insert(table).values(
                user_id=user.id, message_key=key, recipient=recipient, relay="", released_by=who,
                created_at=now, state=SENDING, claim=token, claimed_at=now, delivered_at=None,
            ).on_conflict_do_nothing(index_elements=["user_id", "message_key", "recipient"])
                .returning(table.c.id)).scalar()
            row = None if inserted is not None else conn.execute(select(
                table.c.id, table.c.state, table.c.claim, table.c.claimed_at, table.c.delivered_at).where(
                table.c.user_id == user.id, table.c.message_key == key, table.c.recipient == recipient)).first()
        if inserted is not None:
            return _Claim(int(inserted), token, recipient, False)
        if row is None:
            continue
        delivered = row.delivered_at is not None
        stale = row.state == SENDING and row.claimed_at < now - claim_lifetime()
        if row.state == SENDING and not stale:
            return IN_FLIGHT
        if delivered and not force:
            return ALREADY
        with apart() as conn:
            taken = conn.execute(update(table).where(table.c.id == row.id, table.c.claim == row.claim).values(
                state=SENDING, claim=token, claimed_at=now, released_by=who)).rowcount
        if taken == 1:
            if stale:
                log.warning("retook a stale release claim of %s for %s (claimed at %s)", key, recipient,
                            row.claimed_at)
            return _Claim(row.id, token, recipient, delivered)
    return IN_FLIGHT


def _delivered(claim: _Claim, relay: str, user: MailUser, sender: str) -> None:
    """The delivery record, durable at once: the one write committed before the request's end, so that
    a crash after the relay's 250 (before the store is flagged, before the request commits) never lets a
    retry send again. The release is counted in the statistics with it: once per claim that delivered first
    (a retry finds the record and claims nothing; a forced re-send is not a new release)."""
    table = Release.__table__
    with apart() as conn:
        done = conn.execute(update(table).where(table.c.id == claim.id, table.c.claim == claim.token).values(
            state=DELIVERED, delivered_at=utcnow(), relay=relay)).rowcount
        if done and not claim.delivered_before:
            statistics.count(user.domain_id, statistics.RELEASED, sender=sender, on=conn)
    if not done:  # held past its lifetime and retaken: the other request delivers too
        log.error("release claim %s for %s was retaken while this request delivered", claim.id, claim.recipient)


def _drop(claim: _Claim) -> None:
    """Nothing was sent (refused, or no relay reachable): a later try may send."""
    table = Release.__table__
    mine = (table.c.id == claim.id) & (table.c.claim == claim.token)
    with apart() as conn:
        if claim.delivered_before:
            conn.execute(update(table).where(mine).values(state=DELIVERED))
        else:
            conn.execute(delete(table).where(mine))


def release(principal: Principal, user: MailUser, folder: str, message_id: str, *, virus_lover: bool,
            force: bool = False) -> Outcome:
    """Deliver a held message once per recipient across all processes (see the module's docstring)."""
    mailboxes.require_release(principal, user, folder)
    with mailboxes.store_for(user) as store:
        summary, raw = store.message(folder, message_id)
        infected = scanner.is_infected(summary, raw)
        if infected and not virus_lover:
            raise PreconditionFailed(_l("The message is infected: send X-Virus-Lover to release it anyway."))
        if virus_lover and not infected:
            raise PreconditionFailed(_l("X-Virus-Lover was sent but the message is not infected."))
        key = message_key(summary)
        recipients = [_recipient(user, summary)]
        outcome = Outcome([], [], sender=summary.sender)
        claims: list[_Claim] = []
        for recipient in recipients:
            taken = _claim(user, key, recipient, _who(principal), force=force)
            if isinstance(taken, _Claim):
                claims.append(taken)
            elif taken == ALREADY:
                outcome.already.append(recipient)
            else:
                outcome.in_flight.append(recipient)
        if claims:
            _send(user, raw, claims, outcome)
        if not outcome.refused and not outcome.in_flight and not summary.released:
            _flag(store, folder, summary)
    return outcome


def _recipient(user: MailUser, summary: Summary) -> str:
    """Where the release goes: the envelope recipient the filter recorded (`X-Original-To`: an alias, say)
    when it is an address of the user's domain or of one of its aliases, else the user's address. The
    header is part of the held message: when the filter did not add its own, the sender wrote it, and a
    release must not relay spam to an address of the sender's choosing."""
    original = summary.headers.get("X-Original-To", "").strip().strip("<>").lower()
    local, at, domain = original.rpartition("@")
    names = {user.domain.name, *(alias.name for alias in user.domain.aliases)}
    return original if at and local and domain in names else user.email


def _send(user: MailUser, raw: bytes, claims: list[_Claim], outcome: Outcome) -> None:
    try:
        handed = delivery.deliver(user, current_app.config.get("MAIL_FROM", "postern@localhost"),
                                  [c.recipient for c in claims], _prepare(raw, user))
    except MaybeDelivered:
        # the relay may have it: the claims stay ('sending') until they are stale, so no retry sends at once
        log.warning("release of %s: the relay's answer never came; the claims %s are kept until stale (%s)",
                    [c.recipient for c in claims], [c.id for c in claims], claim_lifetime())
        raise
    except Unavailable:
        for claim in claims:  # no relay took it: nothing was sent
            _drop(claim)
        raise
    for claim in claims:
        if claim.recipient in handed.refused:
            _drop(claim)
        else:
            try:
                _delivered(claim, handed.relay, user, outcome.sender)
            except Exception:  # the database went away after the relay's 250: say so, the generic 503 does not
                log.error("release claim %s: delivered to %s through %s but not recorded; once the claim is stale "
                          "(%s) a new request sends it again", claim.id, claim.recipient, handed.relay,
                          claim_lifetime())
                raise
            outcome.delivered.append(claim.recipient)
    outcome.refused.update(handed.refused)


def _flag(store: MailStore, folder: str, summary: Summary) -> None:
    """Mark the quarantine copy released; the releases table stays the record when the store fails."""
    try:
        store.add_flag(folder, summary.key, RELEASED, by_key=True)
    except (Unavailable, NotFound) as error:
        log.warning("released %s but could not flag it in %s: %s", summary.key, folder, error)


def message_key(summary: Summary) -> str:
    """What a release is recorded under: the quarantine id, else the Message-ID, else the store's key."""
    return summary.headers.get("X-Fuglu-Id") or summary.headers.get("Message-ID", "").strip("<>") or summary.key


def was_released(user: MailUser, summary: Summary) -> bool:
    """Whether a held message was delivered by a release: its flag, else the record."""
    return summary.released or db.session.scalar(select(Release.id).where(
        Release.user_id == user.id, Release.message_key == message_key(summary),
        Release.delivered_at.is_not(None)).limit(1)) is not None


def released_keys(user: MailUser, shown: Iterable[Summary]) -> set[str]:
    """The keys of the shown messages that a release delivered (their record; the store's flag may be missing):
    the page's keys only, not every release the user ever had."""
    keys = {message_key(summary) for summary in shown}
    if not keys:
        return set()
    return set(db.session.scalars(select(Release.message_key).where(
        Release.user_id == user.id, Release.message_key.in_(keys), Release.delivered_at.is_not(None))))
