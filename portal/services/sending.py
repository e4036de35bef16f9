"""Mail written in the portal (seed 5.7.10): built with `email.policy.SMTP`, sent through the
user's platform relay, a copy kept in the user's Sent folder.

- The sender is the mailbox: the user themself (SEND_MAIL granted by the domain) or an
  administrator holding IMPERSONATE on the user's domain.
- The HTML body is cleaned with the same allow-list as quarantined mail; a text part is derived.
- Attachments are the sender's own uploads; they leave the database once every recipient got a 250.
- `originId` threads a reply (In-Reply-To, References), `ack` asks for a read receipt, `important`
  sets Importance / X-Priority; `draftId` names a message of the Drafts folder removed after sending.
- A recipient the relay refuses is a 400 naming it with the relay's answer; the others did get it.
- Every header value the sender gives (subject, display name, attachment names, the thread's ids) is
  read as the recipient will read it, RFC 2047 encoded words decoded (as often as they decode), and
  refused with a 400 naming the field when it holds a control character: an encoded CR/LF must not
  add a header or a body. Nothing is sent then.
"""

from __future__ import annotations

import contextlib
import html as html_module
import logging
import re
from dataclasses import dataclass
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import formatdate, make_msgid

from ..errors import FieldError, Forbidden, Invalid, NotFound, PayloadTooLarge, Unavailable
from ..extensions import db
from ..integrations.mailstore import MailStore
from ..models import MailUser
from ..permissions import EndUserPermission, Permission
from ..safe_html import clean_mail
from ..schemas.emails import SmtpMessageIn
from ..words import _l
from . import delivery, mailboxes, names, uploads
from .header_words import encoded_words
from .messages import safe_filename
from .principal import Principal

log = logging.getLogger(__name__)

SENT_FOLDER = "Sent"
DRAFTS_FOLDER = "Drafts"


# C0, DEL, C1 (NEL among them) and the Unicode line and paragraph separators: none belongs in a header.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_DECODINGS = 10  # an encoded word decoding to another one, and so on: more levels than this is refused
CONTROL_REFUSED = "Must not contain control characters (CR, LF, NUL, ...), not even RFC 2047 encoded."
TOO_ENCODED = "Is RFC 2047 encoded too many times."
UNREADABLE = "Cannot be read as a header value."
_MSG_ID = re.compile(r"<[!-;=?-~]{1,250}>")  # printable ASCII without < > and spaces


class _SendPolicy(EmailPolicy):
    """`email.policy.SMTP`, except that a non-ASCII Subject is written as encoded words of our own
    (`header_words`): the stdlib's folding drops the space between two encoded words of a long subject."""

    def _own(self, name: str, value: object) -> str | None:
        if name.lower() != "subject" or not hasattr(value, "name"):  # a header object: its text is decoded
            return None
        text = str(value)
        return None if text.isascii() else f"{name}: {encoded_words(text, self.linesep)}{self.linesep}"

    def fold(self, name: str, value: str) -> str:
        return self._own(name, value) or super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        own = self._own(name, value)
        return own.encode("ascii") if own else super().fold_binary(name, value)


SMTP_POLICY = _SendPolicy(linesep="\r\n")


@dataclass
class Sent:
    message_id: str
    recipients: list[str]


@dataclass
class Reply:
    """What the reply page is filled with: nothing the original's author hid in an encoded word."""

    to: list[str]
    subject: str
    origin_id: str


REPLY_SUBJECT_LIMIT = 900  # the schema takes 998 characters; a hostile 100 KiB subject is cut


def reply_fields(principal: Principal, user: MailUser, folder: str, message_id: str) -> Reply:
    """To, Subject and the thread's id of a reply to a stored (hostile) message: the sender's addresses as
    parsed before decoding (`mailstore.parsed_addresses`; an encoded CR/LF + `Bcc:` adds no one), each one
    a valid address; the decoded subject with its control characters made spaces; the Message-ID only
    when it is one."""
    mailboxes.require_read(principal, user, folder)
    with mailboxes.store_for(user) as store:
        summary, _raw = store.message(folder, message_id)
    to: list[str] = []
    for found in summary.sender.split(", ") if summary.sender else []:
        try:
            address = names.address(found, "to")
        except Invalid:
            continue
        if address not in to:
            to.append(address)
    subject = " ".join(_CONTROL.sub(" ", summary.subject).split())[:REPLY_SUBJECT_LIMIT]
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    message_ids = _message_ids(summary.headers.get("Message-ID", ""))
    return Reply(to, subject, message_ids[0].strip("<>") if message_ids else "")


def require_send_mail(user: MailUser) -> None:
    """A mailbox user sends from the portal only when the domain grants SEND_MAIL."""
    if not user.domain.grants(EndUserPermission.SEND_MAIL):
        raise Forbidden(_l("Your domain does not let you send mail from the portal."))


def require_sender(principal: Principal, user: MailUser) -> None:
    """The principal may send as the mailbox: 404 unless the user is visible, 403 unless allowed."""
    if principal.user is not None:
        if user.id != principal.user.id:
            raise NotFound(_l("The user does not exist."))
        require_send_mail(user)
        return
    principal.reach(user.domain_id, Permission.IMPERSONATE, seen_with=Permission.USER_READ,
                    missing=_l("The user does not exist."),
                    refused=_l("Sending as a user needs IMPERSONATE on the user's domain."))


def _recipients(data: SmtpMessageIn) -> dict[str, list[str]]:
    """To, Cc and Bcc as stored addresses (each address once, in its first field); every bad one named."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    result: dict[str, list[str]] = {}
    for field in ("to", "cc", "bcc"):
        result[field] = []
        for i, value in enumerate(getattr(data, field)):
            try:
                address = names.address(str(value), f"{field}[{i}]")
            except Invalid as error:
                errors.extend(error.errors)
                continue
            if address not in seen:
                seen.add(address)
                result[field].append(address)
    if not seen and not errors:
        errors.append(FieldError("to", _l("Give at least one recipient.")))
    if errors:
        raise Invalid(_l("Invalid recipients."), errors)
    return result


def text_of(html: str) -> str:
    """A plain-text rendering of cleaned HTML for the text/plain part."""
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>|</h\d>", "\n", html)
    text = re.sub(r"<[^>]+>", "", text)
    text = html_module.unescape(text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def header_text(value: str, field: str) -> str:
    """`value` as the recipient reads it: encoded words decoded as `email.policy.SMTP` does when the header
    is set, and as a lenient reader does (`email.header.decode_header`: encoded words inside a word too),
    again while the result still decodes. `Invalid` naming `field` when any reading holds a control
    character; the value is returned as given (the policy encodes it again when the mail is written)."""
    readings, seen = [value], {value}
    for _level in range(MAX_DECODINGS):
        if any(_CONTROL.search(text) for text in readings):
            raise Invalid.on(field, CONTROL_REFUSED)
        try:
            readings = [decoded for text in readings if "=?" in text for decoded in _decodings(text)
                        if decoded not in seen]
        except Exception:  # the policy could not read it, so it could not write it either
            raise Invalid.on(field, UNREADABLE) from None
        if not readings:
            return value
        seen.update(readings)
    raise Invalid.on(field, TOO_ENCODED)


def _decodings(text: str) -> set[str]:
    """What the policy's header parser and the lenient `decode_header` make of `text`."""
    found = {str(policy.SMTP.header_factory("subject", text))}
    with contextlib.suppress(ValueError, LookupError, UnicodeError, HeaderParseError):  # unreadable to it
        found.add(str(make_header(decode_header(text))))
    return found


def _message_ids(value: str) -> list[str]:
    """The msg-ids of a Message-ID or References header of a (hostile) stored message: nothing else of it."""
    return [found for found in _MSG_ID.findall(value) if "=?" not in found]


def _references(store: MailStore, origin: str) -> tuple[str, str]:
    """In-Reply-To and References of a reply: the origin's own chain when the INBOX holds it."""
    own = f"<{origin}>"
    if not _MSG_ID.fullmatch(own) or "=?" in own:
        raise Invalid.on("originId", "Is not a message id.")
    try:
        _summary, raw = store.message("INBOX", origin)
    except (NotFound, Unavailable):
        return own, own
    headers = BytesParser(policy=policy.compat32).parsebytes(raw.split(b"\r\n\r\n", 1)[0], headersonly=True)
    message_id = next(iter(_message_ids(str(headers.get("Message-ID") or ""))), own)
    chain = " ".join(_message_ids(str(headers.get("References") or ""))[-20:])
    return message_id, f"{chain} {message_id}".strip()


def build(user: MailUser, data: SmtpMessageIn, addresses: dict[str, list[str]],
          files: list[tuple[str, str, bytes]], threading: tuple[str, str] | None) -> EmailMessage:
    """The mail, every header built by `email.policy.SMTP` (a non-ASCII value leaves encoded); the values
    the sender gives were checked by `checked_headers` (`send` calls it first)."""
    message = EmailMessage(policy=SMTP_POLICY)
    display = " ".join(p for p in (user.firstname, user.lastname) if p)
    message["From"] = Address(display_name=header_text(display, "from"), addr_spec=user.email)
    for field in ("to", "cc"):
        if addresses[field]:
            message[field.capitalize()] = ", ".join(addresses[field])
    message["Subject"] = header_text(data.subject or "", "subject")
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=user.email.rpartition("@")[2])
    if threading:
        message["In-Reply-To"], message["References"] = threading
    if data.ack:
        message["Disposition-Notification-To"] = user.email
    if data.important:
        message["Importance"] = "high"
        message["X-Priority"] = "1 (Highest)"
    cleaned, _held = clean_mail(data.body or "", allow_remote_images=True)
    message.set_content(text_of(cleaned))
    message.add_alternative(f"<!doctype html><html><body>{cleaned}</body></html>", subtype="html")
    for name, content_type, payload in files:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(payload, maintype=maintype or "application", subtype=subtype or "octet-stream",
                               filename=name)
    return message


def checked_headers(user: MailUser, data: SmtpMessageIn) -> None:
    """Every header value the sender gives, read as the recipient will: each bad one named (`header_text`)."""
    errors: list[FieldError] = []
    display = " ".join(p for p in (user.firstname, user.lastname) if p)
    values = [("from", display), ("subject", data.subject or "")] + [
        (f"attachments[{i}].name", a.name) for i, a in enumerate(data.attachments)]
    for field, value in values:
        try:
            header_text(value, field)
        except Invalid as error:
            errors.extend(error.errors)
    if errors:
        raise Invalid(_l("Invalid header values."), errors)


def _sound(message: EmailMessage) -> None:
    """The last guard before the relay: no header of the built mail reads with a control character."""
    for part in message.walk():
        for name, value in part.items():
            try:
                header_text(str(value), name)
            except Invalid as error:
                log.error("refused to send a mail whose %s header holds a control character", name)
                raise Invalid(_l("A header of the mail holds a control character."), error.errors) from None


def send(principal: Principal, user: MailUser, data: SmtpMessageIn) -> Sent:
    require_sender(principal, user)
    checked_headers(user, data)
    addresses = _recipients(data)
    recipients = [a for field in ("to", "cc", "bcc") for a in addresses[field]]
    files = uploads.take(principal, [a.uid for a in data.attachments], "attachments")
    named = [(safe_filename(a.name, i + 1), f.content_type, f.data)
             for i, (a, f) in enumerate(zip(data.attachments, files, strict=True))]
    with mailboxes.store_for(user) as store:
        threading = _references(store, data.origin_id.strip().strip("<>")) if data.origin_id else None
        message = build(user, data, addresses, named, threading)
        _sound(message)
        raw = message.as_bytes()
        limit = uploads.user_size_limit(user)
        if len(raw) > limit:
            raise PayloadTooLarge(_l("The mail is larger than the limit of %(size)d MB.", size=limit // (1024 * 1024)))
        handed = delivery.deliver(user, user.email, recipients, raw)
        if handed.refused:
            raise Invalid(_l("The relay refused some recipients; the others got the mail."), [
                FieldError("to", f"{r}: {answer}") for r, answer in handed.refused.items()])
        for upload in files:
            db.session.delete(upload)
        if addresses["bcc"]:
            message["Bcc"] = ", ".join(addresses["bcc"])
        _keep(store, message.as_bytes(), data.draft_id)
    return Sent(str(message["Message-ID"]), recipients)


def _keep(store: MailStore, raw: bytes, draft_id: str | None) -> None:
    """The Sent copy and the draft's removal; the mail is gone already, so a store failure is logged."""
    try:
        store.append(SENT_FOLDER, raw, ("\\Seen",))
        if draft_id:
            store.delete(DRAFTS_FOLDER, [draft_id.strip()])
    except NotFound:
        pass  # no Drafts folder, or the draft was removed already
    except Unavailable as error:
        log.warning("sent a mail but could not file it: %s", error)
