"""Tasks (seed 5.12) and temporary login tokens (seed 5.13): mails asked for now, sent by jobs after the commit.

Who may ask for which mail to a mailbox user (404 when the caller does not see the user, 403 when it sees the
user without the right, as `Principal.reach` answers):

| command | the user themself | an administrator on the user's domain |
| --- | --- | --- |
| send_welcome_mail | no (403) | USER_EDIT |
| send_token_mail, GET /token | yes | IMPERSONATE (a login link is a way into the user's portal) |
| send_password_reset_mail | yes | USER_EDIT |
| send_spam_report, send_ham_report | when the domain lets them read that folder | QUARANTINE_READ |

Then the conditions (422 for tasks, 400 for GET /token as the seed says): the account has a quarantine,
retention or archive service (its policy, else its domain's default); welcome, login and reset mails need an
enabled account; a report needs the SPAM_REPORT_ADDRESS / HAM_REPORT_ADDRESS option and the message itself.

Nothing is sent in the request: it writes an outbox row (`portal.outbox`) and the job (portal/jobs/notifications.py)
makes the link token and sends the mail. A link exists only if its job committed: a job that fails (relay down)
rolls its token back with everything else, so each retry mails a fresh link and only a committed run's link works.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from .. import outbox
from ..clock import utcnow
from ..errors import Forbidden, Invalid, NotFound, ServiceError, TooManyRequests, Unprocessable
from ..extensions import db
from ..models import Admin, LinkToken, MailUser
from ..permissions import Permission
from ..schemas.tasks import (
    RESET_VALIDITY_HOURS,
    Command,
    LinkParams,
    ReportParams,
    params_of,
    validity_hours,
)
from ..words import Message, _l
from . import audit, mailboxes, options
from .links import Purpose
from .principal import Principal

UNKNOWN = _l("Unknown recipient.")
LOGIN_LINK = "LOGIN_LINK_MAIL"  # the audit trail's action for GET /token by an administrator
NO_SERVICE = _l("The account has no quarantine, retention or archive service.")
REPORT_OPTION = {Command.SEND_SPAM_REPORT: "SPAM_REPORT_ADDRESS", Command.SEND_HAM_REPORT: "HAM_REPORT_ADDRESS"}
JOBS = {  # command -> job name (portal/jobs/notifications.py)
    Command.SEND_WELCOME_MAIL: "send_welcome",
    Command.SEND_TOKEN_MAIL: "send_token_mail",
    Command.SEND_PASSWORD_RESET_MAIL: "send_password_reset_mail",
    Command.SEND_SPAM_REPORT: "send_spam_report",
    Command.SEND_HAM_REPORT: "send_ham_report",
}


def run(principal: Principal, command: Command, params: dict[str, Any]) -> None:
    """Check a task (params, recipient, access, conditions) and queue its job."""
    data = params_of(command, params)
    user = _recipient(data.recipient)
    if command == Command.SEND_WELCOME_MAIL:
        _allow(principal, user, Permission.USER_EDIT, self_allowed=False)
        _conditions(user, Unprocessable, enabled=True)
        _throttle(user)
        outbox.enqueue(JOBS[command], user.id)
    elif command == Command.SEND_TOKEN_MAIL:
        assert isinstance(data, LinkParams)
        _allow(principal, user, Permission.IMPERSONATE)
        _conditions(user, Unprocessable, enabled=True)
        _throttle(user)
        queue_login_link(user, data.validity)
    elif command == Command.SEND_PASSWORD_RESET_MAIL:
        assert isinstance(data, LinkParams)
        _allow(principal, user, Permission.USER_EDIT)
        _conditions(user, Unprocessable, enabled=True)
        _throttle(user)
        queue_password_reset(user, data.validity)
    else:
        assert isinstance(data, ReportParams)
        mailboxes.require_read(principal, user, data.folder)  # 400 bad folder, 404 / 403 as for reading it
        _conditions(user, Unprocessable, enabled=False)
        if report_address(user, command) is None:
            raise Unprocessable(_l("No address is set for these reports (option %(name)s).",
                                   name=REPORT_OPTION[command]))
        with mailboxes.store_for(user) as store:
            store.message(data.folder, data.id)  # 404 when it is not there: nothing is queued
        outbox.enqueue(JOBS[command], user.id, data.folder, data.id)


def temporary_token(principal: Principal, username: str | None, validity: str | None) -> MailUser:
    """GET /token: a login link by mail to `username` (default: the calling mailbox user), valid `validity`
    hours (default 4). The seed answers 400 for an account without a storage service."""
    hours = validity_hours(validity)
    if username is None or username == "":
        if principal.user is None:
            raise Invalid.on("username", _l("Give the address of the user."))
        user = principal.user
    else:
        if len(username) > 320 or any(ord(c) < 33 or ord(c) == 127 for c in username):
            raise Invalid.on("username", _l("Not a valid email address."))
        user = _recipient(username)
    _allow(principal, user, Permission.IMPERSONATE)
    _conditions(user, Invalid, enabled=True)
    _throttle(user)
    queue_login_link(user, hours)
    if principal.admin is not None:  # a GET that sends a mail: the audit trail records it as a write
        audit.record(principal.admin, LOGIN_LINK, user, user.email, f"validity={hours}h")
    return user


def queue_login_link_for_address(address: str) -> None:
    """A "mail me a sign-in link" form: the login link goes to a known, enabled mailbox user with a storage
    service, under the hourly limit; any other address gets nothing. The caller answers the same either way."""
    address = (address or "").strip().lower()
    if not address or len(address) > 320 or any(ord(c) < 33 or ord(c) == 127 for c in address):
        return
    user = db.session.scalar(select(MailUser).where(MailUser.email == address))
    if user is None or not user.enabled or not has_service(user):
        return
    if _links_in_the_last_hour(user)[0] >= current_app.config["LINK_MAILS_PER_HOUR"]:
        return
    queue_login_link(user)


def queue_login_link(user: MailUser, hours: int | None = None) -> None:
    """Ask for a login-link mail to `user` (job send_token_mail) in the current transaction."""
    outbox.enqueue(JOBS[Command.SEND_TOKEN_MAIL], user.id, hours or validity_hours(None))


def queue_password_reset(account: MailUser | Admin, hours: int | None = None) -> None:
    """Ask for a password-reset mail to a mailbox user or an administrator (job send_password_reset_mail),
    in the current transaction. No checks: the caller decided (the forgot-password page answers the same for
    every address), except that an account sent LINK_MAILS_PER_HOUR link mails in the last hour gets no more
    (silently); the job sends nothing to a disabled account or an administrator without an address."""
    if _links_in_the_last_hour(account)[0] >= current_app.config["LINK_MAILS_PER_HOUR"]:
        return
    hours = hours or RESET_VALIDITY_HOURS
    if isinstance(account, Admin):
        outbox.enqueue(JOBS[Command.SEND_PASSWORD_RESET_MAIL], admin_id=account.id, hours=hours)
    else:
        outbox.enqueue(JOBS[Command.SEND_PASSWORD_RESET_MAIL], user_id=account.id, hours=hours)


def report_address(user: MailUser, command: Command) -> str | None:
    """Where a spam / not-spam report of this user's mail goes (the option, from the installation down)."""
    return options.effective(options.user_chain(user), REPORT_OPTION[command]) or None


def has_service(user: MailUser) -> bool:
    policy = user.policy or user.domain.default_policy
    return policy is not None and (policy.quarantine or policy.retention or policy.archive)


def _recipient(address: str) -> MailUser:
    user = db.session.scalar(select(MailUser).where(MailUser.email == address.strip().lower()))
    if user is None:
        raise NotFound(UNKNOWN)
    return user


def _allow(principal: Principal, user: MailUser, need: Permission, *, self_allowed: bool = True) -> None:
    """The user themself (when `self_allowed`), else an administrator holding `need` on the user's domain."""
    if principal.user is not None:
        if principal.user.id != user.id:
            raise NotFound(UNKNOWN)
        if not self_allowed:
            raise Forbidden(_l("Only an administrator may ask for this mail."))
        return
    principal.reach(user.domain_id, need, seen_with=Permission.USER_READ, missing=UNKNOWN)


def _conditions(user: MailUser, error: type[ServiceError], *, enabled: bool) -> None:
    reason: Message | None = None
    if not has_service(user):
        reason = NO_SERVICE
    elif enabled and not user.enabled:
        reason = _l("This user is disabled.")
    if reason is not None:
        raise error(reason)


LINK_PURPOSES = (str(Purpose.LOGIN), str(Purpose.PASSWORD_SETUP), str(Purpose.PASSWORD_RESET))
HOUR = timedelta(hours=1)


def _links_in_the_last_hour(account: MailUser | Admin) -> tuple[int, datetime | None]:
    """(how many login / setup / reset links were made for the account in the last hour, the oldest's time).
    The links are made by the jobs that mail them: jobs still waiting are not counted."""
    owner = LinkToken.admin_id if isinstance(account, Admin) else LinkToken.user_id
    count, oldest = db.session.execute(select(func.count(), func.min(LinkToken.created_at)).where(
        owner == account.id, LinkToken.purpose.in_(LINK_PURPOSES), LinkToken.created_at > utcnow() - HOUR)).one()
    return count, oldest


def _throttle(account: MailUser | Admin) -> None:
    """429 once the account was sent LINK_MAILS_PER_HOUR mails with a link in the last hour (mail bombing)."""
    count, oldest = _links_in_the_last_hour(account)
    if count >= current_app.config["LINK_MAILS_PER_HOUR"]:
        error = TooManyRequests(_l("This account was sent too many mails with a link in the last hour: try again "
                                   "later."))
        wait = (oldest + HOUR - utcnow()).total_seconds() if oldest is not None else 3600
        error.retry_after = max(1, round(wait))
        raise error
