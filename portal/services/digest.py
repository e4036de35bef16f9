"""The quarantine digest: per user, what was held since the previous digest, with one-click links.

- Settings are options (`portal/options.py`, inherited installation -> customer -> domain -> user):
  DIGEST_FREQUENCY (NEVER / DAILY / WEEKLY), DIGEST_TIME (HH:MM), DIGEST_DAY (weekly), TIMEZONE; the language is
  the user's own (`MailUser.language`).
- A period is the user's local day ("2026-11-27") or ISO week ("2026-W48"); it is *due* once the local time has
  passed the digest time of that day (of the DIGEST_DAY of that week).
- Never twice: before anything is sent the job claims (user, period) by inserting a `digest_runs` row (state
  `sending`) under its unique constraint, in a short transaction of its own (`unit_of_work.apart`). Of parallel
  or retried jobs one inserts; the others find the row and send nothing. After the server's 250 the row becomes
  `sent` in the job's transaction, which commits it with the mail's links right away. A send that fails before
  the mail was handed over (refused, no server) drops the claim and the job fails, so RQ retries it; a crash
  between the claim and the 250 leaves a `sending` row, which a retried job may take again once it is older than
  `claim_lifetime()` (the SMTP deadline and a margin): then (only then) the digest may be sent twice.
- What is listed: the Quarantine folder's messages that arrived on or after the day of the previous digest
  (the stores search by day), not released, and not listed already by an earlier digest (the earlier digest's
  links name them: `link_tokens.subject`); newest first, at most MAX_LISTED.
- Each listed message gets the links the user may use (`mailboxes.capabilities`): release, release and allow the
  sender, block the sender; each one token for that message and that action, expiring with the message's
  quarantine retention. Plus a "view my quarantine" login link, and List-Unsubscribe (+ List-Unsubscribe-Post,
  RFC 8058) to turn the digest off.
- Headers of held mail are hostile: subject and sender are shown escaped in HTML, without control characters in
  the text part, and cut to a readable length.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_datetime
from flask import current_app
from flask_babel import force_locale, get_locale, gettext, ngettext
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from .. import branding as portal_branding
from ..clock import utcnow
from ..errors import Invalid, MaybeDelivered, NotFound, ServiceError
from ..extensions import db
from ..integrations.mailstore import Search, Summary
from ..models import DigestRun, Domain, LinkToken, MailUser, OptionValue, Policy
from ..options import OPTIONS
from ..permissions import Permission
from ..unit_of_work import apart, attempt
from ..words import _l, value_label
from . import links, mailboxes, options, own_mail, release, statistics
from .branding import DEFAULT as DEFAULT_BRAND
from .branding import Brand
from .principal import Principal, principal_for_user

log = logging.getLogger(__name__)

NAMES = ("DIGEST_FREQUENCY", "DIGEST_TIME", "DIGEST_DAY", "TIMEZONE")
FREQUENCIES = ("NEVER", "DAILY", "WEEKLY")
DAYS = OPTIONS["DIGEST_DAY"].values or ()
SENDING, SENT, EMPTY = "sending", "sent", "empty"
MAX_LISTED = 200  # a digest lists at most this many messages (newest first) and says how many more there are
SUBJECT_CUT, SENDER_CUT = 140, 120
LOGIN_LINK_VALID = timedelta(hours=72)
OFF_LINK_VALID = timedelta(days=60)
CLAIM_MARGIN_SECONDS = 60
ACTIONS = (links.Purpose.DIGEST_RELEASE, links.Purpose.DIGEST_RELEASE_ALLOW, links.Purpose.DIGEST_BLOCK)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class Settings:
    frequency: str
    at: time
    day: int  # 0 Monday .. 6 Sunday
    zone: ZoneInfo


def _settings(values: dict[str, str | None]) -> Settings:
    """Settings from resolved option values; a stored value that is not valid any more counts as the default."""
    frequency = values.get("DIGEST_FREQUENCY") or "NEVER"
    if frequency not in FREQUENCIES:
        frequency = OPTIONS["DIGEST_FREQUENCY"].default or "NEVER"
    try:
        hour, minute = (int(p) for p in (values.get("DIGEST_TIME") or "").split(":"))
        at = time(hour, minute)
    except ValueError:
        at = time(8, 0)
    day = DAYS.index(values["DIGEST_DAY"]) if values.get("DIGEST_DAY") in DAYS else 0
    try:
        zone = ZoneInfo(values.get("TIMEZONE") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return Settings(frequency, at, day, zone)


def settings_of(user: MailUser) -> Settings:
    return _options_of(user)[0]


def _options_of(user: MailUser) -> tuple[Settings, Brand]:
    """The user's digest settings and brand from one read of the option values along its chain (the rules of
    `options.effective` and `branding.of_chain`, without a query per name)."""
    chain = options.user_chain(user)
    stored = options._stored(chain)
    settings = _settings({name: options._resolve(OPTIONS[name], chain, stored) for name in NAMES})

    def valid(name: str, check: Callable[[str | None], str | None]) -> str | None:
        for end in range(len(chain), 0, -1):  # the most specific valid value, as branding.of_chain
            found = check(options._resolve(OPTIONS[name], chain[:end], stored))
            if found:
                return found
        return None

    brand = Brand(valid("BRAND_COLOR", portal_branding.safe_color) or DEFAULT_BRAND.color,
                  valid("LOGO_URL", portal_branding.safe_logo))
    return settings, brand


def period(settings: Settings, now: datetime) -> str | None:
    """The key of the period whose digest is due at `now` (naive UTC), or None (not yet, or never)."""
    if settings.frequency == "NEVER":
        return None
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(settings.zone)
    if settings.frequency == "DAILY":
        due = datetime.combine(local.date(), settings.at, settings.zone)
        return local.date().isoformat() if local >= due else None
    year, week, weekday = local.isocalendar()
    day = local.date() - timedelta(days=weekday - 1) + timedelta(days=settings.day)
    due = datetime.combine(day, settings.at, settings.zone)
    return f"{year}-W{week:02d}" if local >= due else None


def current_period(settings: Settings, now: datetime) -> str:
    """The key of the period `now` is in, due or not (the command line's digest of one user)."""
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(settings.zone)
    if settings.frequency == "WEEKLY":
        year, week, _weekday = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.date().isoformat()


def _quarantined(user: MailUser) -> Policy | None:
    """The user's policy when it has a quarantine (a digest lists nothing otherwise)."""
    policy = user.policy or user.domain.default_policy
    return policy if policy is not None and policy.quarantine else None


def due(now: datetime | None = None, *, only: Iterable[int] | None = None) -> list[tuple[int, str]]:
    """(user id, period) of the enabled users with a quarantine whose digest is due and not claimed yet.

    The options of every scope are read in one query and resolved here (a scan of 10,000 users is a handful of
    queries, not 40,000)."""
    now = now or utcnow()
    query = select(MailUser).where(MailUser.status == "ENABLED")
    if only is not None:
        query = query.where(MailUser.id.in_(list(only)))
    users = [u for u in db.session.scalars(query) if u.enabled and _quarantined(u) is not None]
    stored: dict[tuple[str, int, str], str] = {
        (row.scope, row.object_id, row.name): row.value
        for row in db.session.scalars(select(OptionValue).where(OptionValue.name.in_(NAMES)))}
    candidates: list[tuple[int, str]] = []
    for user in users:
        chain = options.user_chain(user)
        values: dict[str, str | None] = {}
        for name in NAMES:
            definition = OPTIONS[name]
            value = definition.default
            for scope, object_id in chain:
                if scope in definition.scopes and (str(scope), object_id, name) in stored:
                    value = stored[(str(scope), object_id, name)]
            values[name] = value
        key = period(_settings(values), now)
        if key is not None:
            candidates.append((user.id, key))
    if not candidates:
        return []
    claimed = {(row[0], row[1]) for row in db.session.execute(select(DigestRun.user_id, DigestRun.period).where(
        DigestRun.user_id.in_([u for u, _ in candidates])))}
    return [c for c in candidates if c not in claimed]


# --- claims -------------------------------------------------------------------------------------------------

def claim_lifetime() -> timedelta:
    """A `sending` row older than this belongs to a run that died: it may be taken again."""
    return timedelta(seconds=2 * float(current_app.config["SMTP_TIMEOUT"]) + CLAIM_MARGIN_SECONDS)


def claim(user: MailUser, key: str, now: datetime) -> str | None:
    """Take the right to send `user`'s digest of period `key`: a claim token, or None (sent, empty, or being
    sent by another run). Committed before anything is sent (see the module's docstring)."""
    table = DigestRun.__table__
    dialect = sqlite if db.engine.dialect.name == "sqlite" else postgresql
    token = secrets.token_hex(16)
    with apart() as conn:
        inserted = conn.execute(dialect.insert(table).values(
            user_id=user.id, period=key, state=SENDING, claim=token, claimed_at=now, covers_until=now, messages=0,
        ).on_conflict_do_nothing(index_elements=["user_id", "period"]).returning(table.c.id)).scalar()
        if inserted is not None:
            return token
        row = conn.execute(select(table.c.id, table.c.state, table.c.claim, table.c.claimed_at).where(
            table.c.user_id == user.id, table.c.period == key)).first()
    if row is None or row.state != SENDING or row.claimed_at >= now - claim_lifetime():
        return None
    with apart() as conn:
        taken = conn.execute(update(table).where(table.c.id == row.id, table.c.claim == row.claim).values(
            claim=token, claimed_at=now, covers_until=now)).rowcount
    if taken == 1:
        log.warning("retook the stale digest claim of user %s for %s (claimed at %s)", user.id, key, row.claimed_at)
        return token
    return None


def _finish(user: MailUser, key: str, token: str, state: str, listed: int, message_id: str | None) -> None:
    """The run's outcome, in the caller's transaction: it commits with the digest's links. Should that commit
    fail, the row stays `sending` under its claim (never sent again at once; see the module's docstring)."""
    table = DigestRun.__table__
    db.session.execute(update(table).where(table.c.user_id == user.id, table.c.period == key,
                                           table.c.claim == token).values(
        state=state, sent_at=utcnow(), messages=listed, message_id=message_id))


def _drop(user: MailUser, key: str, token: str) -> None:
    table = DigestRun.__table__
    with apart() as conn:
        conn.execute(delete(table).where(table.c.user_id == user.id, table.c.period == key, table.c.claim == token))


# --- what is listed -----------------------------------------------------------------------------------------

@dataclass
class Entry:
    """One held message as the digest shows it (words already cut and cleaned; escaped by the template)."""

    subject: str
    sender: str
    reason: str  # X-Quarantine-Reason, or ""
    score: str  # X-Spam-Score as written (a number), or ""
    date: datetime | None
    links: dict[str, str]  # purpose -> absolute URL


def since(user: MailUser, now: datetime, settings: Settings) -> datetime:
    """Where the digest starts: the previous digest's listing moment, else one period back."""
    previous = db.session.scalar(select(DigestRun.covers_until).where(
        DigestRun.user_id == user.id, DigestRun.state.in_((SENT, EMPTY))).order_by(DigestRun.covers_until.desc())
        .limit(1))
    return previous or now - (timedelta(days=7) if settings.frequency == "WEEKLY" else timedelta(days=1))


def _clean(value: str, limit: int) -> str:
    text = " ".join(_CONTROL.sub(" ", value or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _subject_of(summary: Summary) -> str | None:
    key = release.message_key(summary)
    return f"{mailboxes.QUARANTINE}/{key}" if 0 < len(key) <= 400 else None


def held(user: MailUser, after: datetime) -> tuple[list[Summary], int]:
    """The held messages not released that arrived from `after`'s day on and no earlier digest listed; and how
    many there are in all (the list is cut at MAX_LISTED)."""
    with mailboxes.store_for(user) as store:
        try:
            found, _total = store.messages(mailboxes.QUARANTINE, Search(received_after=after), "-receivedDate", 0,
                                           10 * MAX_LISTED)
        except NotFound:  # no store or no Quarantine folder yet: nothing is held
            return [], 0
    fresh = [s for s in found if not s.released and not s.deleted]
    subjects = [s for s in map(_subject_of, fresh) if s]
    listed: set[str] = set()
    for start in range(0, len(subjects), 500):
        listed.update(db.session.scalars(select(LinkToken.subject).where(
            LinkToken.user_id == user.id, LinkToken.purpose.in_([str(p) for p in ACTIONS]),
            LinkToken.subject.in_(subjects[start:start + 500]))))
    fresh = [s for s in fresh if _subject_of(s) not in listed]
    return fresh[:MAX_LISTED], len(fresh)


def _expiry(summary: Summary, policy: Policy, after: datetime, now: datetime) -> datetime:
    """When the message leaves the quarantine: its arrival (its Date, kept between `after` and now: the header is
    the sender's) plus the policy's quarantine duration."""
    days = int((policy.quarantine_props or {}).get("duration") or 31)
    sent = summary.sent_date
    arrival = now if sent is None else min(max(sent.replace(tzinfo=None), after), now)
    return max(arrival + timedelta(days=days), now + timedelta(hours=1))


def entries(user: MailUser, summaries: list[Summary], after: datetime, now: datetime) -> list[Entry]:
    """The digest's entries, with one token per message and action the user may use."""
    caps = mailboxes.capabilities(principal_for_user(user), user)
    allowed = [p for p, ok in ((links.Purpose.DIGEST_RELEASE, caps.release),
                               (links.Purpose.DIGEST_RELEASE_ALLOW, caps.release and caps.rules),
                               (links.Purpose.DIGEST_BLOCK, caps.rules)) if ok]
    policy = _quarantined(user)
    wanted: list[tuple[links.Purpose, str | None, datetime]] = []
    for summary in summaries:
        subject = _subject_of(summary)
        if subject is not None and policy is not None:
            expires = _expiry(summary, policy, after, now)
            wanted.extend((purpose, subject, expires) for purpose in allowed)
    issued = iter(zip(wanted, links.issue_many(user, wanted), strict=True))
    result = []
    for summary in summaries:
        urls: dict[str, str] = {}
        if _subject_of(summary) is not None and policy is not None:
            for _ in allowed:
                (purpose, _subject, _expires), value = next(issued)
                urls[str(purpose)] = links.url(purpose, value)
        reason = summary.headers.get("X-Quarantine-Reason", "").strip().upper()
        score = summary.headers.get("X-Spam-Score", "").strip()
        result.append(Entry(
            subject=_clean(summary.subject, SUBJECT_CUT), sender=_clean(summary.sender, SENDER_CUT),
            reason=reason if reason in mailboxes.REASONS else "",
            score=score if re.fullmatch(r"-?\d{1,4}(\.\d{1,3})?", score) else "",
            date=summary.sent_date, links=urls))
    return result


# --- the mail -----------------------------------------------------------------------------------------------

def compose(user: MailUser, listed: list[Entry], total: int, *, test: bool = False,
            read: tuple[Settings, Brand] | None = None) -> EmailMessage:
    """The digest mail (HTML + text) in the user's language, branded, with its login and unsubscribe links.
    `read`: the user's settings and brand when the caller has them already."""
    language = (user.language or "EN").lower()
    settings, brand = read or _options_of(user)
    moment = utcnow()
    login_value, off_value = links.issue_many(user, [(links.Purpose.LOGIN, None, moment + LOGIN_LINK_VALID),
                                                     (links.Purpose.DIGEST_OFF, None, moment + OFF_LINK_VALID)])
    login, off = links.url(links.Purpose.LOGIN, login_value), links.url(links.Purpose.DIGEST_OFF, off_value)
    groups: dict[str, list[Entry]] = {}
    for entry in listed:
        groups.setdefault(entry.reason, []).append(entry)
    with force_locale(language):
        labels = {"release": gettext("Release"), "allow": gettext("Release and allow the sender"),
                  "block": gettext("Block the sender"), "reason": gettext("Reason"), "score": gettext("Score"),
                  "sender": gettext("From"), "date": gettext("Date"), "subject": gettext("Subject")}
        subject = ngettext("Quarantine digest: %(num)d message held for you",
                           "Quarantine digest: %(num)d messages held for you", total)
        if test:
            subject = gettext("[Test] %(subject)s", subject=subject)
        intro = gettext("These messages were held for %(email)s since the previous digest. Nothing needs doing: "
                        "they are deleted when their time in the quarantine ends. Each link asks you to confirm.",
                        email=user.email)
        more = ngettext("And %(num)d more message: see your quarantine.",
                        "And %(num)d more messages: see your quarantine.", total - len(listed))
        more = more if total > len(listed) else ""
        view = gettext("View my quarantine")
        off_words = gettext("Stop these digests")
        no_subject = gettext("(no subject)")
        group_names = {reason: str(value_label(reason)) if reason else gettext("held") for reason in groups}

        where = get_locale() or Locale("en")  # babel's own formatter: flask-babel's costs ten times more a call

        def when(entry: Entry) -> str:
            if entry.date is None:
                return ""
            moment = entry.date if entry.date.tzinfo else entry.date.replace(tzinfo=ZoneInfo("UTC"))
            return format_datetime(moment, "medium", tzinfo=settings.zone, locale=where)

        lines = [intro, ""]
        for reason, items in groups.items():
            lines.append(f"== {group_names[reason]} ({len(items)}) ==")
            for entry in items:
                lines.append(f"* {entry.subject or no_subject}")
                lines.append(f"  {labels['sender']}: {entry.sender}   {labels['date']}: {when(entry)}"
                             + (f"   {labels['score']}: {entry.score}" if entry.score else ""))
                for purpose, key in ((links.Purpose.DIGEST_RELEASE, "release"),
                                     (links.Purpose.DIGEST_RELEASE_ALLOW, "allow"),
                                     (links.Purpose.DIGEST_BLOCK, "block")):
                    if str(purpose) in entry.links:
                        lines.append(f"  {labels[key]}: {entry.links[str(purpose)]}")
                lines.append("")
        if more:
            lines += [more, ""]
        lines += [f"{view}: {login}", f"{off_words}: {off}"]
        html = current_app.jinja_env.get_template("mail/digest.html").render(
            language=language, subject=subject, intro=intro, groups=groups, group_names=group_names, labels=labels,
            when=when, more=more, view=view, login=login, off=off, off_words=off_words, no_subject=no_subject,
            color=brand.color, logo=brand.logo, footer=gettext("This message was sent automatically by Postern."))
    return own_mail.compose(user.email, subject, "\n".join(lines), html, language=user.language,
                            headers={"List-Unsubscribe": f"<{off}>",
                                     "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                                     "X-Auto-Response-Suppress": "All"})


@dataclass
class Result:
    """What a digest run did: `state` sent / empty / skipped (claimed already, or not due), and for a sent one
    its Message-ID and how many messages it listed."""

    state: str
    listed: int = 0
    message_id: str | None = None


def send(user_id: int, key: str, *, now: datetime | None = None) -> Result:
    """Send `user_id`'s digest of period `key` once (the job's body; see the module's docstring)."""
    now = now or utcnow()
    user = db.session.get(MailUser, user_id, options=[  # what the digest reads of the user, in one query
        joinedload(MailUser.policy), joinedload(MailUser.platform),
        joinedload(MailUser.domain).joinedload(Domain.customer),
        joinedload(MailUser.domain).selectinload(Domain.policies),
        joinedload(MailUser.domain).selectinload(Domain.platforms)])
    if user is None or not user.enabled or _quarantined(user) is None:
        return Result("skipped")
    token = claim(user, key, now)
    if token is None:
        return Result("skipped")
    message_id: str | None = None
    try:
        with attempt():  # a failure undoes the links written for this mail (SQLite's `apart` would keep them)
            read = _options_of(user)
            after = since(user, now, read[0])
            summaries, total = held(user, after)
            if summaries:
                message = compose(user, entries(user, summaries, after, now), total, read=read)
                db.session.flush()  # the links are written before the mail leaves (they commit with the job)
                message_id = own_mail.send(message, user=user)
    except MaybeDelivered:  # the server may have it: the claim stays until it is stale (no resend at once)
        log.warning("digest of user %s for %s: no answer after the mail was sent; claim kept", user.id, key)
        raise
    except BaseException:
        _drop(user, key, token)  # nothing was handed over: a retry may send
        raise
    if message_id is None:
        _finish(user, key, token, EMPTY, 0, None)
        return Result(EMPTY)
    _finish(user, key, token, SENT, len(summaries), message_id)  # commits with the links (the job's unit)
    statistics.count(user.domain_id, statistics.DIGEST_SENT)
    return Result(SENT, len(summaries), message_id)


def send_test(principal: Principal, user: MailUser, *, now: datetime | None = None) -> Result:
    """An administrator's test: the user's digest as it would be now (the last day's messages, those listed
    already included), marked [Test], sent to the user; no period is claimed and the next digest is unchanged.
    Needs USER_READ and QUARANTINE_READ on the user's domain."""
    principal.reach(user.domain_id, Permission.QUARANTINE_READ, seen_with=Permission.USER_READ,
                    missing=_l("The user does not exist."))
    if _quarantined(user) is None:
        raise Invalid(_l("This user has no quarantine: there is no digest to send."))
    now = now or utcnow()
    after = now - timedelta(days=1)
    with mailboxes.store_for(user) as store:
        try:
            found, total = store.messages(mailboxes.QUARANTINE, Search(received_after=after), "-receivedDate", 0,
                                          MAX_LISTED)
        except NotFound:
            found, total = [], 0
    found = [s for s in found if not s.released]
    message = compose(user, entries(user, found, after, now), max(total, len(found)), test=True)
    return Result(SENT, len(found), own_mail.send(message, user=user))


# --- the links ----------------------------------------------------------------------------------------------

@dataclass
class Target:
    """What a digest link is about: its user and (for an action) the held message."""

    token: LinkToken
    user: MailUser
    message_id: str | None
    summary: Summary | None  # None: the message is not in the quarantine any more


def target(value: str, purpose: links.Purpose) -> Target:
    """The link's user and message, changing nothing (`links.look`); `LinkRefused` when it may not be used."""
    token = links.look(value, purpose)
    return _target(token)


def _target(token: LinkToken) -> Target:
    user = db.session.get(MailUser, token.user_id) if token.user_id is not None else None
    if user is None:
        raise links.LinkRefused(links.UNKNOWN)
    if token.subject is None:
        return Target(token, user, None, None)
    folder, _, message_id = token.subject.partition("/")
    summary = None
    try:
        with mailboxes.store_for(user) as store:
            summary = store.message(folder, message_id)[0]
    except NotFound:
        pass
    return Target(token, user, message_id, summary)


def act(value: str, purpose: links.Purpose) -> tuple[Target, object]:
    """Do the link's action, then use the link (once): the quarantine's own action (`quarantine.apply`, as the
    link's user) for a message, DIGEST_FREQUENCY = NEVER for DIGEST_OFF. The action runs first because a release
    commits its delivery record apart from the request (on SQLite that commits the session too): a release that
    fails must leave the link unused. Two requests at once may both reach the action; the release's own claim
    sends the message once and a sender rule is written once, and only one of them uses the link (the other is
    refused: `LinkRefused`). Raises what the action raises; the request then rolls back."""
    from . import quarantine  # quarantine imports release and wblist: kept out of this module's import time

    found = _target(links.look(value, purpose))
    user = found.user
    principal = principal_for_user(user)
    outcome: object = None
    if purpose == links.Purpose.DIGEST_OFF:
        options.set_value(principal, options.user_chain(user), "DIGEST_FREQUENCY", "NEVER")
    else:
        if found.summary is None or found.message_id is None:
            raise NotFound(_l("This message is not in your quarantine any more."))
        action = {links.Purpose.DIGEST_RELEASE: quarantine.Action.RELEASE,
                  links.Purpose.DIGEST_RELEASE_ALLOW: quarantine.Action.RELEASE_ALLOW,
                  links.Purpose.DIGEST_BLOCK: quarantine.Action.BLOCK}[purpose]
        done = quarantine.apply(principal, user, action, [found.message_id])
        if done.failed or done.infected or done.postponed:
            why = next(iter(done.failed.values()), None) if done.failed else None
            raise ActionFailed(why or _l("The message is infected: release it from your quarantine, one by one."))
        outcome = done
    links.use(value, purpose)
    return found, outcome


class ActionFailed(ServiceError):
    """The action was refused or failed (the relay refused the release, say): the link stays unused."""

    status, title = 502, "Bad Gateway"


# --- the user's Notifications page ----------------------------------------------------------------------------

SETTING_FIELDS = {"frequency": "DIGEST_FREQUENCY", "time": "DIGEST_TIME", "day": "DIGEST_DAY", "timezone": "TIMEZONE"}


@dataclass(frozen=True)
class Choice:
    own: str | None  # set by the user
    inherited: str | None  # what applies without it (the domain's, else the customer's, else the installation's)


def choices(user: MailUser) -> dict[str, Choice]:
    """The user's own digest settings and the inherited ones, by form field."""
    rows = {r.definition.name: r for r in options.listing(options.user_chain(user))}
    return {field: Choice(rows[name].value, rows[name].parent_value) for field, name in SETTING_FIELDS.items()}


def save_settings(principal: Principal, user: MailUser, form: dict[str, str]) -> None:
    """Save the user's own settings: a blank field inherits again; every bad field is named (400, nothing saved:
    the caller runs this in `attempt()`). Only the mailbox user themselves."""
    from ..errors import FieldError, Forbidden
    from ..models.accounts import LANGUAGES

    if principal.user is None or principal.user.id != user.id:
        raise Forbidden(_l("Only the mailbox user changes these settings."))
    chain = options.user_chain(user)
    errors: list[FieldError] = []
    for field, name in SETTING_FIELDS.items():
        value = (form.get(field) or "").strip()
        try:
            if value:
                options.set_value(principal, chain, name, value)
            else:
                options.delete_value(principal, chain, name)
        except Invalid as error:
            errors.extend(FieldError(field, e.message) for e in error.errors)
    language = (form.get("language") or "").strip().upper()
    if language not in LANGUAGES:
        errors.append(FieldError("language", _l("Must be one of: %(choices)s.", choices=", ".join(LANGUAGES))))
    else:
        user.language = language
    if errors:
        raise Invalid(_l("Some settings are not valid."), errors)
    db.session.flush()


def recent_runs(user: MailUser, limit: int = 5) -> list[DigestRun]:
    """The user's latest digests (the Notifications page shows them)."""
    return list(db.session.scalars(select(DigestRun).where(DigestRun.user_id == user.id)
                                   .order_by(DigestRun.claimed_at.desc()).limit(limit)))


def ask_test(principal: Principal, domain_id: int, email: str) -> MailUser:
    """An administrator asks for a test digest of a user of the domain (sent by a job to that user, see
    `send_test`); the checks run here so that the page answers at once."""
    from .. import outbox

    domain = db.session.get(Domain, domain_id)
    if domain is None:
        raise NotFound(_l("The domain does not exist."))
    address = (email or "").strip().lower()
    if not address:
        raise Invalid.on("email", _l("Give the address of a user of this domain."))
    user = db.session.scalar(select(MailUser).where(MailUser.email == address, MailUser.domain_id == domain.id))
    if user is None:
        raise Invalid.on("email", _l("%(email)s is not a user of this domain.", email=address[:320]))
    principal.reach(user.domain_id, Permission.QUARANTINE_READ, seen_with=Permission.DOMAIN_READ,
                    missing=_l("The domain does not exist."))
    if _quarantined(user) is None:
        raise Invalid.on("email", _l("This user has no quarantine: there is no digest to send."))
    outbox.enqueue("send_test_digest", user.id, principal.require_admin().id)
    return user
