"""Postern's own mail (welcome, and later login links, digests, reports, health notices): one home.

- `compose` builds the mail with `email.policy.SMTP` (the Subject folding of `sending.SMTP_POLICY`): From is the
  in-use SMTP server's sender name + address (else config MAIL_FROM), the Subject carries the server's prefix,
  Date, Message-ID (the sender's domain), `Auto-Submitted: auto-generated`, Content-Language, a text part readable
  alone and an HTML alternative (templates/mail/message.html: inline styles, every word escaped).
- `send` hands it to the enabled SMTP server of *Mail servers* when there is one (envelope sender: its sender
  address, else MAIL_FROM); else it goes where the portal's other mail goes (`delivery.deliver`: the local INBOX /
  outbox with POSTERN_DELIVERY=local, the user's platform relay with smtp). A refused recipient, or no way out at
  all, is `Unavailable`: the job fails, RQ retries it and the *Jobs* page shows why.
- `test_message` is the test mail of one server (its sender and prefix), whichever server is in use.

A sender name or prefix that reads (decoded from RFC 2047, as a recipient would) with a control character never
reaches a header: the service validates them on save (`sending.header_text`), and here such a value is written
with its control characters as spaces and its encoded words broken, so nothing decodes into a new header line.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from flask import current_app
from flask_babel import force_locale, format_datetime, gettext
from markupsafe import Markup, escape

from ..clock import utcnow
from ..errors import Invalid, Unavailable
from ..integrations import mailserver
from ..models import MailServer, MailUser
from ..models.accounts import LANGUAGES
from ..words import Message, _l
from . import delivery, mailservers, names
from .principal import Principal
from .sending import SMTP_POLICY, header_text

log = logging.getLogger(__name__)

DEFAULT_FROM = "postern@localhost"
TEMPLATE = "mail/message.html"
# C0, DEL, C1 and the Unicode line separators (as `sending` refuses them)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPECIALS = re.compile(r'[()<>@,;:\\".\[\]]|=\?|\?=')  # RFC 5322 specials and encoded-word fences
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def compose(to: str, subject: str, text: str, html: str | None = None, *, language: str = "EN",
            headers: dict[str, str] | None = None) -> EmailMessage:
    """The mail to `to` from the SMTP server in use (else MAIL_FROM). `subject` and `text` are already in the
    recipient's `language`; `html` (a whole document the caller rendered with autoescape) replaces the HTML
    rendering of `text`. `headers`: extra fields (List-Unsubscribe, say); a name that is not a plain field name,
    one of the fields this module writes, or a value with a control character is refused (ValueError)."""
    return _compose(mailservers.in_use(), to, subject, text, html, language=language, headers=headers)


def send(message: EmailMessage, *, user: MailUser | None = None) -> str:
    """Hand `message` (from `compose`) over; returns its Message-ID. `user`: whose platform relay takes it when
    no SMTP server is enabled and POSTERN_DELIVERY is smtp."""
    recipients = [a.addr_spec for field in ("To", "Cc") if message[field] is not None
                  for a in message[field].addresses]
    raw = message.as_bytes(policy=SMTP_POLICY)
    server = mailservers.in_use()
    if server is not None:
        sender = _sender(server)[1]
        refused = {r: f"{code} {answer.decode(errors='replace')}"
                   for r, (code, answer) in _transport(server, sender, recipients, raw).items()}
        where = server.name
    else:
        if user is None and current_app.config.get("DELIVERY") != "local":
            raise Unavailable(_l("No SMTP server is enabled for Postern's own mail, and this mail has no user "
                                 "whose relay could take it. Enable one under Mail servers."))
        handed = delivery.deliver(user, _sender(None)[1], recipients, raw)  # type: ignore[arg-type]  # None: local, not read
        refused, where = handed.refused, handed.relay
    if refused:
        recipient, answer = next(iter(refused.items()))
        raise Unavailable(_l("The mail server %(server)s refused %(recipient)s: %(answer)s",
                             server=where, recipient=recipient, answer=answer))
    return str(message["Message-ID"])


def test_message(to: str, server: MailServer, language: str) -> EmailMessage:
    """The test mail of `server` (its sender and subject prefix, in use or not), in `language`, saying which
    server sent it and when; the caller sends it through that server (`mailserver.send`)."""
    with force_locale(_locale(language)):
        subject = gettext("Test message from Postern")
        text = gettext("This is a test message from Postern. It was sent through the mail server %(name)s "
                       "(%(host)s, port %(port)s) on %(when)s.\n\nIf you can read it, Postern's own mail can "
                       "go through this server.", name=server.name, host=server.host, port=server.port,
                       when=format_datetime(utcnow(), "long"))
    return _compose(server, to, subject, text, None, language=language)


test_message.__test__ = False  # type: ignore[attr-defined]  # a test module importing it must not collect it


@dataclass
class TestMail:
    """What became of a test mail: `stage` target (refused before connecting), send, or done."""

    ok: bool
    stage: str
    message: Message
    message_id: str | None


TestMail.__test__ = False  # type: ignore[attr-defined]


def send_test(principal: Principal, server_pk: int, to: str, language: str | None = None) -> TestMail:
    """A test mail through this server (enabled or not) to `to`, in `language` (default: the administrator's).
    Claimed like a check (one per server per interval, across processes); a server that fails is an answer, not
    an error."""
    server = mailservers.get(principal, server_pk)
    if server.protocol != "SMTP":
        raise Invalid.on("to", _l("Only an SMTP server sends mail."))
    recipient = names.address(to, "to")
    mailservers.claim(server)
    admin = principal.require_admin()
    message = test_message(recipient, server, language or admin.language)
    raw = message.as_bytes(policy=SMTP_POLICY)
    try:
        refused = mailserver.send(mailservers.endpoint_of(server), _sender(server)[1], [recipient], raw,
                                  **mailservers.options())
    except mailserver.TargetRefused as error:
        return TestMail(False, "target", error.detail, None)
    except Unavailable as error:
        return TestMail(False, "send", error.detail, None)
    if refused:
        answer = " ".join(f"{code} {text.decode(errors='replace')}" for code, text in refused.values())
        return TestMail(False, "send", _l("The server refused the recipient: %(answer)s", answer=answer), None)
    return TestMail(True, "done", _l("The server took the test mail."), str(message["Message-ID"]))


def _transport(server: MailServer, sender: str, recipients: list[str], raw: bytes) -> dict[str, tuple[int, bytes]]:
    """The one call that sends through a configured server: refused recipients (empty: every one got a 250)."""
    config = current_app.config
    return mailserver.send(mailservers.endpoint_of(server), sender, recipients, raw,
                           timeout=float(config.get("SMTP_TIMEOUT", 20)),
                           allow_private=bool(config.get("ALLOW_PRIVATE_TARGETS", False)),
                           extra_ports=config["MAILSERVER_PORTS"],
                           keep_seconds=float(config.get("SMTP_KEEP_SECONDS", 0)))


_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,62}")
_OWN_FIELDS = {"from", "to", "cc", "bcc", "subject", "date", "message-id", "auto-submitted", "content-language",
               "content-type", "content-transfer-encoding", "mime-version", "sender", "reply-to"}


def _extra(headers: dict[str, str] | None) -> list[tuple[str, str]]:
    extra = []
    for name, value in (headers or {}).items():
        if not _FIELD_NAME.fullmatch(name) or name.lower() in _OWN_FIELDS:
            raise ValueError(f"not an extra header field Postern's own mail may carry: {name!r}")
        if _CONTROL.search(value) or not value.isascii():
            raise ValueError(f"the value of {name} must be printable ASCII")
        extra.append((name, value))
    return extra


def _compose(server: MailServer | None, to: str, subject: str, text: str, html: str | None, *,
             language: str, headers: dict[str, str] | None = None) -> EmailMessage:
    locale = _locale(language)
    name, address = _sender(server)
    prefix = _plain(server.subject_prefix or "").strip() if server is not None else ""
    subject = _plain(subject)
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = _from(name, address)
    message["To"] = names.address(to, "to")
    message["Subject"] = _plain(f"{prefix} {subject}") if prefix else subject  # the two may read as one word
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    for name, value in _extra(headers):
        message[name] = value
    with force_locale(locale):
        footer = gettext("This message was sent automatically by Postern.")
        if html is None:
            html = current_app.jinja_env.get_template(TEMPLATE).render(
                language=locale, subject=subject, paragraphs=_paragraphs(text), footer=footer)
    # the transfer encodings named: left to itself, the stdlib encodes each part twice to pick the shorter
    message.set_content(f"{text.rstrip()}\n\n-- \n{footer}\n", cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="base64")
    message["Content-Language"] = locale  # after the parts: making them moves the Content-* headers down
    _sound(message)
    return message


def _sender(server: MailServer | None) -> tuple[str, str]:
    """(display name, address) of Postern's own mail: the server's when it names a sender, else MAIL_FROM's."""
    configured_name, configured = parseaddr(current_app.config.get("MAIL_FROM") or DEFAULT_FROM)
    configured = configured or DEFAULT_FROM
    if server is None:
        return configured_name, configured
    return server.sender_name or configured_name, server.sender_address or configured


def _from(name: str, address: str) -> Address:
    """The From header's value (see `_display`)."""
    return Address(display_name=_display(name, address), addr_spec=address)


@functools.lru_cache(maxsize=64)
def _display(name: str, address: str) -> str:
    """The From header's value, read back as written: the stdlib writes some display names (a broken encoded
    word beside ':' and '@') unquoted, and a reader then finds other addresses in it. Such a name loses its
    specials, and then itself, before it may change whom the mail claims to be from."""
    plain = _plain(name)
    for display in dict.fromkeys((plain, " ".join(_SPECIALS.sub(" ", plain).split()), "")):
        probe = EmailMessage(policy=SMTP_POLICY)
        probe["From"] = Address(display_name=display, addr_spec=address)
        read = message_from_bytes(probe.as_bytes(), policy=policy.default)["From"]
        if read is not None and [a.addr_spec for a in read.addresses] == [address]:
            return display
    raise Invalid.on("senderAddress", _l("“%(value)s” is not a valid email address.", value=address))


def _plain(value: str) -> str:
    """`value` when it reads without a control character (`sending.header_text`); else with its control
    characters as spaces and its encoded words broken, so nothing can decode into a new header line."""
    try:
        return header_text(value, "value")
    except Invalid:
        log.warning("a header value of Postern's own mail held a control character; it was neutralised")
        return " ".join(_CONTROL.sub(" ", value).replace("=?", "= ?").split())


def _sound(message: EmailMessage) -> None:
    """The last guard: no header of the built mail reads with a control character."""
    for part in message.walk():
        for field, value in part.items():
            header_text(str(value), field)


def _locale(language: str) -> str:
    return language.lower() if (language or "").upper() in LANGUAGES else "en"


def _paragraphs(text: str) -> list[Markup]:
    """The text as HTML paragraphs: every word escaped, line breaks kept, its web addresses links."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = []
        for line in block.splitlines():
            pieces, last = [], 0
            for found in _URL.finditer(line):
                pieces.append(escape(line[last:found.start()]))
                pieces.append(Markup('<a href="{0}" style="color:#1a56db;">{0}</a>').format(found.group()))
                last = found.end()
            pieces.append(escape(line[last:]))
            lines.append(Markup("").join(pieces))
        paragraphs.append(Markup("<br>").join(lines))
    return paragraphs
