"""Mails to users, sent by jobs (RQ workers, or in-process without Redis).

They are Postern's own mail (`services.own_mail`): through the enabled SMTP server of *Mail servers*, else where
the portal's other mail goes — the user's platform relay, or with POSTERN_DELIVERY=local, the embedded default of
`make run`, the user's local INBOX. A server or relay that cannot be reached, or refuses the recipient, fails the
job, which RQ retries and the *Jobs* page then shows.

The links they carry (password setup, login, password reset) are made here, in the job's unit of work: a run that
fails rolls its token back, so a retry mails a fresh link and only the link of the run that committed works (a
commit that fails after the relay took the mail leaves a dead link in that mail; the retry sends a working one).
Each mail is text (readable alone) + HTML, in the recipient's language, dates in the user's TIMEZONE.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from babel.dates import format_datetime
from flask import current_app
from flask_babel import force_locale, gettext

from ..errors import NotFound
from ..extensions import db
from ..models import Admin, MailUser
from ..models.accounts import LANGUAGES
from ..schemas.tasks import Command
from ..services import links, mailboxes, options, own_mail, tasks
from ..services.links import Purpose
from .registry import job

SETUP_VALIDITY = timedelta(days=7)


def _locale(language: str | None) -> str:
    return language.lower() if (language or "").upper() in LANGUAGES else "en"


def _when(moment: datetime, user: MailUser | None, locale: str) -> str:
    """A naive-UTC moment for people: in the user's TIMEZONE (UTC for administrators), in their language."""
    name = (options.effective(options.user_chain(user), "TIMEZONE") if user is not None else None) or "UTC"
    try:
        zone: zoneinfo.ZoneInfo | type[UTC] = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return format_datetime(moment.replace(tzinfo=UTC), "long", tzinfo=zone, locale=locale)  # type: ignore[arg-type]


def _name(user: MailUser) -> str:
    return user.firstname or user.email


@job("send_welcome")
def send_welcome(user_id: int) -> str | None:
    """Tell a new user that their account exists, with a password setup link (7 days); returns the Message-ID
    (None: the user is gone)."""
    user = db.session.get(MailUser, user_id)
    if user is None:
        return None
    base = current_app.config["BASE_URL"]
    expires = datetime.now(UTC).replace(tzinfo=None) + SETUP_VALIDITY
    setup = links.url(Purpose.PASSWORD_SETUP, links.issue(Purpose.PASSWORD_SETUP, user=user, expires_at=expires))
    locale = _locale(user.language)
    with force_locale(locale):  # the words are ours: in the recipient's language
        subject = gettext("Your Postern account")
        text = gettext("Hello %(name)s,\n\nYour account %(email)s on the Postern mail-security portal is ready: "
                       "%(url)s\nThere you can see the messages held for you, release them and choose your "
                       "senders.\n", name=_name(user), email=user.email, url=f"{base}/me/login")
        text += "\n" + gettext("To choose your password, open this link (it works once, until %(expires)s):\n"
                               "%(url)s\n", expires=_when(expires, user, locale), url=setup)
    message = own_mail.compose(user.email, subject, text, language=user.language)
    return own_mail.send(message, user=user)


@job("send_token_mail")
def send_token_mail(user_id: int, hours: int = 4) -> str | None:
    """A login link to the user's portal (seed 5.13 and task send_token_mail); None: the user is gone, disabled
    or without a storage service since the task was asked for (nothing sent)."""
    user = db.session.get(MailUser, user_id)
    if user is None or not user.enabled or not tasks.has_service(user):
        return None
    expires = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=hours)
    url = links.url(Purpose.LOGIN, links.issue(Purpose.LOGIN, user=user, expires_at=expires))
    locale = _locale(user.language)
    with force_locale(locale):
        subject = gettext("Your Postern sign-in link")
        text = gettext("Hello %(name)s,\n\nHere is a link to sign in to the Postern mail-security portal as "
                       "%(email)s, without a password:\n%(url)s\n\nIt works once, until %(expires)s. If you did "
                       "not ask for it, ignore this message.\n", name=_name(user), email=user.email, url=url,
                       expires=_when(expires, user, locale))
    return own_mail.send(own_mail.compose(user.email, subject, text, language=user.language), user=user)


@job("send_password_reset_mail")
def send_password_reset_mail(user_id: int | None = None, admin_id: int | None = None, hours: int = 2
                             ) -> str | None:
    """A password reset link for a mailbox user (`user_id`) or an administrator (`admin_id`); None: the account
    is gone, disabled, or (an administrator) has no address — nothing is sent, and nobody learns it."""
    user = db.session.get(MailUser, user_id) if user_id is not None else None
    admin = db.session.get(Admin, admin_id) if admin_id is not None else None
    if user is not None:
        if not user.enabled:
            return None
        address, name, language = user.email, _name(user), user.language
    elif admin is not None:
        if not admin.enabled or not admin.email:
            return None
        address, name, language = admin.email, admin.display_name or admin.login, admin.language
    else:
        return None
    expires = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=hours)
    url = links.url(Purpose.PASSWORD_RESET, links.issue(Purpose.PASSWORD_RESET, user=user, admin=admin,
                                                        expires_at=expires))
    locale = _locale(language)
    account = user.email if user is not None else admin.login  # type: ignore[union-attr]
    with force_locale(locale):
        subject = gettext("Reset your Postern password")
        text = gettext("Hello %(name)s,\n\nSomeone asked to reset the password of your account %(account)s on "
                       "the Postern mail-security portal. To choose a new password, open this link:\n%(url)s\n\n"
                       "It works once, until %(expires)s. If you did not ask for it, ignore this message: your "
                       "password stays as it is.\n", name=name, account=account, url=url,
                       expires=_when(expires, user, locale))
    return own_mail.send(own_mail.compose(address, subject, text, language=language), user=user)


def _report(command: Command, user_id: int, folder: str, message_id: str) -> str | None:
    """Forward one message of the user's store to the report address, attached as message/rfc822 with its
    bytes as stored (only the line ends made CRLF, as SMTP carries them); None: the user, the address or the
    message is gone."""
    user = db.session.get(MailUser, user_id)
    if user is None:
        return None
    address = tasks.report_address(user, command)
    if address is None:
        return None
    try:
        with mailboxes.store_for(user) as store:
            _, raw = store.message(folder, message_id)
    except NotFound:
        return None
    language = user.domain.default_language
    with force_locale(_locale(language)):
        if command == Command.SEND_SPAM_REPORT:
            subject = gettext("Spam report from %(email)s", email=user.email)
            text = gettext("%(email)s reports the attached message as spam.", email=user.email)
        else:
            subject = gettext("Not-spam report from %(email)s", email=user.email)
            text = gettext("%(email)s reports the attached message as not spam (it was wrongly held).",
                           email=user.email)
        text += "\n\n" + gettext("Folder: %(folder)s\nMessage: %(id)s", folder=folder, id=message_id)
    message = own_mail.compose(address, subject, text, language=language)
    attach_original(message, raw)
    return own_mail.send(message, user=user)


class _Verbatim(str):
    """A message/rfc822 payload that `email`'s generators write as it is (they do so for a string payload): the
    text generator writes the string, the bytes generator (`_encode` -> `encode("ascii")`) the original bytes,
    8-bit ones included, which a plain string would make it refuse."""

    raw: bytes

    def __new__(cls, raw: bytes) -> _Verbatim:
        made = super().__new__(cls, raw.decode("ascii", "surrogateescape"))
        made.raw = raw
        return made

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


def attach_original(message: EmailMessage, raw: bytes) -> None:
    """Attach `raw` to `message` as message/rfc822, never parsed and written again (a stranger's message is
    forwarded as it came; only its line ends become CRLF, as SMTP carries them)."""
    language = message["Content-Language"]
    message.make_mixed()  # moves the Content-* headers into the text + HTML part: the language comes back up
    if language is not None:
        del message.get_payload(0)["Content-Language"]
        message["Content-Language"] = language
    part = EmailMessage(policy=message.policy)
    part["Content-Type"] = "message/rfc822"
    part["Content-Disposition"] = 'attachment; filename="message.eml"'
    part["Content-Transfer-Encoding"] = "7bit" if raw.isascii() else "8bit"
    body = re.sub(rb"\r?\n", b"\r\n", raw)
    part.set_payload(_Verbatim(body))
    message.attach(part)


@job("send_spam_report")
def send_spam_report(user_id: int, folder: str, message_id: str) -> str | None:
    return _report(Command.SEND_SPAM_REPORT, user_id, folder, message_id)


@job("send_ham_report")
def send_ham_report(user_id: int, folder: str, message_id: str) -> str | None:
    return _report(Command.SEND_HAM_REPORT, user_id, folder, message_id)
