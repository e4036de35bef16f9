"""Mail written in the portal (seed 5.7.10): built with `email.policy.SMTP`, sent through the
user's platform relay, a copy kept in the user's Sent folder.

- The sender is the mailbox: the user themself (SEND_MAIL granted by the domain) or an
  administrator holding IMPERSONATE on the user's domain.
- The HTML body is cleaned with the same allow-list as quarantined mail; a text part is derived.
- Attachments are the sender's own uploads; they leave the database once every recipient got a 250.
- `originId` threads a reply (In-Reply-To, References), `ack` asks for a read receipt, `important`
  sets Importance / X-Priority; `draftId` names a message of the Drafts folder removed after sending.
- A recipient the relay refuses is a 400 naming it with the relay's answer; the others did get it.
"""

from __future__ import annotations

import html as html_module
import logging
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formataddr, formatdate, make_msgid

from ..errors import FieldError, Forbidden, Invalid, NotFound, PayloadTooLarge, Unavailable
from ..extensions import db
from ..integrations.mailstore import MailStore
from ..models import MailUser
from ..permissions import EndUserPermission, Permission
from ..safe_html import clean_mail
from ..schemas.emails import SmtpMessageIn
from . import delivery, mailboxes, names, uploads
from .messages import safe_filename
from .principal import Principal

log = logging.getLogger(__name__)

SENT_FOLDER = "Sent"
DRAFTS_FOLDER = "Drafts"


@dataclass
class Sent:
    message_id: str
    recipients: list[str]


def require_send_mail(user: MailUser) -> None:
    """A mailbox user sends from the portal only when the domain grants SEND_MAIL."""
    if not user.domain.grants(EndUserPermission.SEND_MAIL):
        raise Forbidden("Your domain does not let you send mail from the portal.")


def require_sender(principal: Principal, user: MailUser) -> None:
    """The principal may send as the mailbox: 404 unless the user is visible, 403 unless allowed."""
    if principal.user is not None:
        if user.id != principal.user.id:
            raise NotFound("The user does not exist.")
        require_send_mail(user)
        return
    principal.reach(user.domain_id, Permission.IMPERSONATE, seen_with=Permission.USER_READ,
                    missing="The user does not exist.",
                    refused="Sending as a user needs IMPERSONATE on the user's domain.")


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
        errors.append(FieldError("to", "Give at least one recipient."))
    if errors:
        raise Invalid("Invalid recipients.", errors)
    return result


def text_of(html: str) -> str:
    """A plain-text rendering of cleaned HTML for the text/plain part."""
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>|</h\d>", "\n", html)
    text = re.sub(r"<[^>]+>", "", text)
    text = html_module.unescape(text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _references(store: MailStore, origin: str) -> tuple[str, str]:
    """In-Reply-To and References of a reply: the origin's own chain when the INBOX holds it."""
    own = f"<{origin}>"
    try:
        _summary, raw = store.message("INBOX", origin)
    except (NotFound, Unavailable):
        return own, own
    headers = BytesParser(policy=policy.default).parsebytes(raw.split(b"\r\n\r\n", 1)[0], headersonly=True)
    message_id = str(headers.get("Message-ID") or own).strip()
    chain = " ".join(str(headers.get("References") or "").split()[-20:])
    return message_id, f"{chain} {message_id}".strip()


def build(user: MailUser, data: SmtpMessageIn, addresses: dict[str, list[str]],
          files: list[tuple[str, str, bytes]], threading: tuple[str, str] | None) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    display = " ".join(p for p in (user.firstname, user.lastname) if p)
    message["From"] = formataddr((display, user.email)) if display else user.email
    for field in ("to", "cc"):
        if addresses[field]:
            message[field.capitalize()] = ", ".join(addresses[field])
    message["Subject"] = data.subject or ""
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


def send(principal: Principal, user: MailUser, data: SmtpMessageIn) -> Sent:
    require_sender(principal, user)
    addresses = _recipients(data)
    recipients = [a for field in ("to", "cc", "bcc") for a in addresses[field]]
    files = uploads.take(principal, [a.uid for a in data.attachments], "attachments")
    named = [(safe_filename(a.name, i + 1), f.content_type, f.data)
             for i, (a, f) in enumerate(zip(data.attachments, files, strict=True))]
    with mailboxes.store_for(user) as store:
        threading = _references(store, data.origin_id.strip().strip("<>")) if data.origin_id else None
        message = build(user, data, addresses, named, threading)
        raw = message.as_bytes()
        limit = uploads.user_size_limit(user)
        if len(raw) > limit:
            raise PayloadTooLarge(f"The mail is larger than the limit of {limit // (1024 * 1024)} MB.")
        handed = delivery.deliver(user, user.email, recipients, raw)
        if handed.refused:
            raise Invalid("The relay refused some recipients; the others got the mail.", [
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
