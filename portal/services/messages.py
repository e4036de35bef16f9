"""One quarantined message, made safe to show: hostile mail is the norm here.

HTML bodies are cleaned with nh3 (an allow-list: no script, style, svg, math, form, base, meta,
event handlers, `data-*`/`hx-*`, `javascript:` links) and remote images are dropped until the
user asks for them; the page then shows the result in a sandboxed `srcdoc` iframe (no scripts,
no same origin) under a CSP of its own. Cleaning happens last: nothing is changed after it.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from ..errors import NotFound, PreconditionFailed, Unavailable
from ..integrations.mailstore import Summary
from ..models import MailUser
from ..safe_html import clean_mail
from ..words import _l
from . import audit, mailboxes, scanner
from .principal import Principal


@dataclass
class Attachment:
    part: int
    filename: str
    content_type: str
    size: int


@dataclass
class Content:
    summary: Summary
    text: str | None
    html: str | None  # cleaned
    remote_images: int  # how many were held back
    attachments: list[Attachment] = field(default_factory=list)
    source: bytes | None = None
    infected: bool = False  # scanner.is_infected: the headers, or a live scan when asked
    scan_error: str | None = None  # the live scan was asked for but the scanner could not be reached


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\<>\"]")
_LEADING = re.compile(r"^[\s.\-]+")  # `-rf`, `.bashrc`, `..`: an option or a hidden file once saved
_TRAILING = re.compile(r"[\s.]+$")


def safe_filename(name: str | None, part: int) -> str:
    """An attachment's name with no path, no control or format characters, no markup; never empty.

    Format characters (Unicode category Cf: the bidi controls U+202A-U+202E, U+2066-U+2069, U+200E/F,
    zero-width ones) go, so that `invoice<U+202E>gpj.exe` cannot pass for a picture; other controls,
    separators and undecodable bytes (surrogates) become `_`; a leading `-` or dot goes."""
    kept = "".join(c for c in (name or "") if unicodedata.category(c) != "Cf")
    kept = "".join("_" if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") else c for c in kept)
    cleaned = _TRAILING.sub("", _LEADING.sub("", _UNSAFE_NAME.sub("_", kept)))
    return _TRAILING.sub("", cleaned[:200]) or f"part-{part}"


MAX_MULTIPARTS = 100  # more multipart sections than any real mail: read as text, never recursed into
_MULTIPART = re.compile(rb"(?im)^content-type:[ \t]*multipart/")
FLAT_TEXT_LIMIT = 1_000_000


def parse(raw: bytes) -> EmailMessage:
    """The message as a tree of parts; hostile nesting (which would exhaust the parser's recursion)
    gives a flat text message instead, in bounded time."""
    if len(_MULTIPART.findall(raw, 0, 10_000_000)) > MAX_MULTIPARTS:
        return _flattened(raw)
    try:
        message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[assignment]
        for _part in message.walk():  # walking recurses too
            pass
        return message
    except RecursionError:
        return _flattened(raw)


def _flattened(raw: bytes) -> EmailMessage:
    """A message whose structure is not worth parsing: its raw body as plain text (no parts, no HTML)."""
    body = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[-1][:FLAT_TEXT_LIMIT]
    message = EmailMessage(policy=policy.default)
    message.set_content("[This message is too deeply nested to be shown as its author laid it out; "
                        "here is its raw text.]\n\n" + body.decode("utf-8", errors="replace"))
    return message


def _attachments(message: EmailMessage) -> list[Attachment]:
    found = []
    for n, part in enumerate(message.walk()):
        if part.is_multipart() or part.get_content_disposition() not in ("attachment", "inline"):
            continue
        if part.get_content_disposition() == "inline" and part.get_content_maintype() == "text":
            continue
        try:
            payload = part.get_payload(decode=True) or b""
        except (ValueError, LookupError):
            payload = b""
        try:
            name = part.get_filename()
        except (ValueError, LookupError):
            name = None
        found.append(Attachment(n, safe_filename(name, n), part.get_content_type(), len(payload)))
    return found


def _body(message: EmailMessage, kind: str) -> str | None:
    try:
        part = message.get_body(preferencelist=(kind,))
        return part.get_content() if part is not None else None  # type: ignore[union-attr]
    except (KeyError, LookupError, ValueError, AttributeError):
        return None


def content(principal: Principal, user: MailUser, folder: str, message_id: str, *,
            allow_remote_images: bool = False, with_source: bool = False, scan: bool = False) -> Content:
    """`scan`: say whether the message is infected as a release would decide it (`scanner.is_infected`,
    with a live scan when a clamd is configured; a scanner outage is `scan_error`, not a failure)."""
    mailboxes.require_read(principal, user, folder)
    with mailboxes.store_for(user) as store:
        summary, raw = store.message(folder, message_id)
    message = parse(raw)
    html_source = _body(message, "html")
    html, held = clean_mail(html_source, allow_remote_images=allow_remote_images) if html_source else (None, 0)
    owner = principal.user is not None and principal.user.id == user.id
    found = Content(summary=summary, text=_body(message, "plain"), html=html, remote_images=held,
                    attachments=_attachments(message), source=raw if with_source and owner else None,
                    infected=scanner.header_verdict(summary.headers))
    audit.mail_read(user, folder, message_id, "source" if found.source is not None else "message")
    if scan and not found.infected:
        try:
            found.infected = scanner.is_infected(summary, raw)
        except Unavailable as error:
            found.scan_error = error.detail
    return found


INFECTED_DOWNLOAD = _l("The message is infected: send X-Virus-Lover to download its attachments anyway.")


def _refuse_infected(summary: Summary, raw: bytes, virus_lover: bool) -> None:
    """An infected message's attachments need the confirmation its release needs (`scanner.is_infected`,
    with a live scan when a clamd is configured): a 412 without it."""
    if not virus_lover and scanner.is_infected(summary, raw):
        raise PreconditionFailed(INFECTED_DOWNLOAD)


def attachment(principal: Principal, user: MailUser, folder: str, message_id: str, part: int, *,
               virus_lover: bool = False) -> tuple[Attachment, bytes]:
    """One attachment's bytes (the caller serves them as a download, never inline)."""
    mailboxes.require_read(principal, user, folder)
    with mailboxes.store_for(user) as store:
        summary, raw = store.message(folder, message_id)
    message = parse(raw)
    for found in _attachments(message):
        if found.part == part:
            _refuse_infected(summary, raw, virus_lover)
            payload = list(message.walk())[part].get_payload(decode=True) or b""
            audit.mail_read(user, folder, message_id, f"attachment {part}")
            return found, payload
    raise NotFound(_l("No such attachment."))


def attachments_zip(principal: Principal, user: MailUser, folder: str, message_id: str, *,
                    virus_lover: bool = False) -> bytes:
    """Every attachment of a message in one zip file (names made safe and unique)."""
    mailboxes.require_read(principal, user, folder)
    with mailboxes.store_for(user) as store:
        summary, raw = store.message(folder, message_id)
    message = parse(raw)
    _refuse_infected(summary, raw, virus_lover)
    audit.mail_read(user, folder, message_id, "attachments")
    parts = list(message.walk())
    buffer = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for found in _attachments(message):
            name = found.filename
            while name in used:
                name = f"{found.part}-{name}"
            used.add(name)
            archive.writestr(name, parts[found.part].get_payload(decode=True) or b"")
    return buffer.getvalue()
