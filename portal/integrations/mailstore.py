"""Mail stores behind one interface: an IMAP server (imapclient, with a master login) or a Maildir tree.

Every IMAP call has a timeout; a store is opened per request and closed after it.
"""

from __future__ import annotations

import contextlib
import mailbox
import os
import re
import ssl as ssl_module
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy as email_policy
from email.header import decode_header, make_header
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Protocol

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from ..errors import NotFound, Unavailable

SEPARATOR = "/"


@dataclass(frozen=True)
class Folder:
    path: str  # full path, "/"-separated ("INBOX", "Archive/2025")
    name: str  # last part
    has_children: bool
    messages: int | None = None
    unseen: int | None = None


class MailStore(Protocol):
    def folders(self, parent: str | None = None, *, stats: bool = False) -> list[Folder]: ...

    def messages(self, folder: str, search: Search, sort: str, offset: int, limit: int
                 ) -> tuple[list[Summary], int]: ...

    def message(self, folder: str, message_id: str) -> tuple[Summary, bytes]: ...

    def is_folder(self, path: str) -> bool: ...

    def add_flag(self, folder: str, message_id: str, flag: str) -> None: ...

    def delete(self, folder: str, message_ids: list[str]) -> int: ...

    def append(self, folder: str, raw: bytes, flags: tuple[str, ...] = ()) -> None: ...

    def close(self) -> None: ...


RELEASED = "$Released"  # the keyword a released quarantine copy carries (Maildir: the P, "passed", flag)


class ImapStore:
    """A mailbox on an IMAP server, opened with `login` (e.g. `user@domain*master`) and a password."""

    def __init__(self, host: str, port: int, login: str, password: str, *, use_ssl: bool = False,
                 timeout: float = 10.0, cadata: str | None = None) -> None:
        """`cadata`: PEM certificates to trust besides the system's (a private CA or a self-signed server)."""
        self._args = (host, port, login, password, use_ssl, timeout)
        self._cadata = cadata
        self._client: IMAPClient | None = None

    def _imap(self) -> IMAPClient:
        if self._client is None:
            host, port, login, password, use_ssl, timeout = self._args
            try:
                client = IMAPClient(host, port=port, ssl=use_ssl, timeout=timeout,
                                    ssl_context=_tls(self._cadata) if use_ssl else None)
                client.login(login, password)
            except LoginError as exc:
                raise Unavailable("The mail server refused the portal's login.") from exc
            except (TimeoutError, OSError, IMAPClientError) as exc:
                raise Unavailable(f"The mail server at {host}:{port} cannot be reached ({exc}).") from exc
            self._client = client
        return self._client

    def folders(self, parent: str | None = None, *, stats: bool = False) -> list[Folder]:
        imap = self._imap()
        try:
            if parent:
                if not imap.folder_exists(parent):
                    raise NotFound("No such folder.")
                listed = imap.list_folders(directory=parent + SEPARATOR, pattern="%")
            else:
                listed = imap.list_folders(pattern="%")
            result = []
            for flags, _delimiter, path in listed:
                children = b"\\HasChildren" in flags
                counts = imap.folder_status(path, ["MESSAGES", "UNSEEN"]) if stats else {}
                result.append(Folder(path=path, name=path.rsplit(SEPARATOR, 1)[-1], has_children=children,
                                     messages=counts.get(b"MESSAGES"), unseen=counts.get(b"UNSEEN")))
        except (TimeoutError, OSError, IMAPClientError) as exc:
            raise Unavailable(f"The mail server failed: {exc}") from exc
        return sorted(result, key=lambda f: (f.path != "INBOX", f.path.lower()))

    def messages(self, folder: str, search: Search, sort: str, offset: int, limit: int
                 ) -> tuple[list[Summary], int]:
        """SEARCH and SORT on the server; only the requested page is fetched (headers and flags)."""
        imap = self._imap()
        try:
            if not imap.folder_exists(folder):
                raise NotFound("No such folder.")
            imap.select_folder(folder, readonly=True)
            criteria = _imap_criteria(search)
            charset = "UTF-8" if any(not str(v).isascii() for _, v in search.terms()) else None
            order = ("REVERSE " if sort.startswith("-") else "") + SORTS[sort.lstrip("-")]
            if b"SORT" in imap.capabilities():
                uids = list(imap.sort([order], criteria, charset=charset or "UTF-8"))
            else:  # arrival order is all a server without SORT offers
                uids = sorted(imap.search(criteria, charset), reverse=sort.startswith("-"))
            page = uids[offset:offset + limit]
            fetched = imap.fetch(page, ["FLAGS", "RFC822.SIZE",
                                        f"BODY.PEEK[HEADER.FIELDS ({' '.join(SUMMARY_HEADERS)})]"]) if page else {}
        except (OSError, IMAPClientError) as exc:
            raise Unavailable(f"The mail server failed: {exc}") from exc
        result = []
        for uid in page:
            data = fetched.get(uid)
            if data is None:
                continue
            header = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"")
            flags = {f.decode() for f in data.get(b"FLAGS", ())}
            result.append(summarize(str(uid), header, flags, data.get(b"RFC822.SIZE", 0), "\\Recent" in flags))
        return result, len(uids)

    def message(self, folder: str, message_id: str) -> tuple[Summary, bytes]:
        """One message by its quarantine id (X-Fuglu-Id) or Message-ID, with its whole source."""
        imap = self._imap()
        try:
            if not imap.folder_exists(folder):
                raise NotFound("No such folder.")
            imap.select_folder(folder, readonly=True)
            uid = self._find(imap, message_id)[0]
            data = imap.fetch([uid], ["FLAGS", "RFC822.SIZE", "BODY.PEEK[]"]).get(uid)
        except (OSError, IMAPClientError) as exc:
            raise Unavailable(f"The mail server failed: {exc}") from exc
        if data is None:
            raise NotFound("No such message.")
        raw = next((v for k, v in data.items() if k.startswith(b"BODY[")), b"")
        flags = {f.decode() for f in data.get(b"FLAGS", ())}
        head = raw.split(b"\r\n\r\n", 1)[0]
        return summarize(str(uid), head, flags, data.get(b"RFC822.SIZE", len(raw)), "\\Recent" in flags), raw

    @staticmethod
    def _find(imap: IMAPClient, message_id: str) -> list[int]:
        """UIDs in the selected folder of a quarantine id (X-Fuglu-Id), a Message-ID or a UID."""
        uids = imap.search(["OR", ["HEADER", "X-Fuglu-Id", message_id], ["HEADER", "Message-ID", message_id]])
        if not uids and message_id.isdigit():  # the UID is the id of a message with neither header
            uids = imap.search(["UID", message_id])
        if not uids:
            raise NotFound("No such message.")
        return sorted(uids)

    def _writable(self, folder: str) -> IMAPClient:
        imap = self._imap()
        if not imap.folder_exists(folder):
            raise NotFound("No such folder.")
        imap.select_folder(folder)
        return imap

    def is_folder(self, path: str) -> bool:
        try:
            return bool(self._imap().folder_exists(path))
        except (OSError, IMAPClientError) as exc:
            raise Unavailable(f"The mail server failed: {exc}") from exc

    def add_flag(self, folder: str, message_id: str, flag: str) -> None:
        try:
            imap = self._writable(folder)
            imap.add_flags(self._find(imap, message_id), [flag])
        except (OSError, IMAPClientError) as exc:
            raise Unavailable(f"The mail server failed: {exc}") from exc

    def delete(self, folder: str, message_ids: list[str]) -> int:
        """Remove messages for good (\\Deleted, then UID EXPUNGE of those only); returns how many."""
        try:
            imap = self._writable(folder)
            uids: set[int] = set()
            for message_id in message_ids:
                uids.update(self._find(imap, message_id))
            if uids:
                imap.add_flags(sorted(uids), [b"\\Deleted"])
                if imap.has_capability("UIDPLUS"):
                    imap.uid_expunge(sorted(uids))
                else:
                    imap.expunge()
        except (OSError, IMAPClientError) as exc:
            raise Unavailable(f"The mail server failed: {exc}") from exc
        return len(uids)

    def append(self, folder: str, raw: bytes, flags: tuple[str, ...] = ()) -> None:
        """Store a message (a sent copy); the folder is created when missing."""
        try:
            imap = self._imap()
            if not imap.folder_exists(folder):
                imap.create_folder(folder)
            imap.append(folder, raw, flags=flags)
        except (OSError, IMAPClientError) as exc:
            raise Unavailable(f"The mail server failed: {exc}") from exc

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError, IMAPClientError):
                self._client.logout()
            self._client = None


def _tls(cadata: str | None) -> ssl_module.SSLContext:
    """Certificates verified, names checked; a PEM bundle added to the system's trust when given."""
    context = ssl_module.create_default_context()
    if cadata:
        context.load_verify_locations(cadata=cadata)
    return context


def check_login(host: str, port: int, login: str, password: str, *, use_ssl: bool, timeout: float,
                cadata: str | None = None) -> bool:
    """Whether the IMAP server accepts this login (the portal's sign-in for platforms with authType imap)."""
    context = _tls(cadata) if use_ssl else None
    try:
        client = IMAPClient(host, port=port, ssl=use_ssl, timeout=timeout, ssl_context=context)
    except (TimeoutError, OSError, IMAPClientError) as exc:
        raise Unavailable(f"The mail server at {host}:{port} cannot be reached ({exc}).") from exc
    try:
        client.login(login, password)
    except LoginError:
        return False
    except (TimeoutError, OSError, IMAPClientError) as exc:
        raise Unavailable(f"The mail server at {host}:{port} failed ({exc}).") from exc
    finally:
        with contextlib.suppress(OSError, IMAPClientError):
            client.logout()
    return True


class MaildirStore:
    """A Maildir++ tree on this host (the embedded default): INBOX is the root, folders are `.A.B`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _box(self, path: str) -> mailbox.Maildir:
        if not self.root.is_dir():
            raise NotFound("This mailbox has no mail store yet.")
        box = mailbox.Maildir(str(self.root), create=False)
        if path in ("", "INBOX"):
            return box
        for part in path.split(SEPARATOR):
            if part not in box.list_folders():
                raise NotFound("No such folder.")
            box = box.get_folder(part)
        return box

    def folders(self, parent: str | None = None, *, stats: bool = False) -> list[Folder]:
        if parent in (None, ""):
            names = ["INBOX", *self._box("").list_folders()]
        else:
            names = [f"{parent}{SEPARATOR}{n}" for n in self._box(parent).list_folders()]
        result = []
        for path in names:
            box = self._box(path)
            children = bool(box.list_folders()) if path != "INBOX" else False
            messages = unseen = None
            if stats:
                keys = list(box.iterkeys())
                messages = len(keys)
                unseen = sum(1 for key in keys if "S" not in box.get_message(key).get_flags())
            result.append(Folder(path=path, name=path.rsplit(SEPARATOR, 1)[-1], has_children=children,
                                 messages=messages, unseen=unseen))
        return sorted(result, key=lambda f: (f.path != "INBOX", f.path.lower()))

    def messages(self, folder: str, search: Search, sort: str, offset: int, limit: int
                 ) -> tuple[list[Summary], int]:
        """Filter and sort in Python (the embedded store holds small mailboxes)."""
        box = self._box(folder)
        entries = []
        for key in box.iterkeys():
            message = box.get_message(key)
            raw = message.as_bytes()
            head = raw.split(b"\n\n", 1)[0]
            summary = summarize(key, head, {_MAILDIR_FLAGS[f] for f in message.get_flags() if f in _MAILDIR_FLAGS},
                                len(raw), recent=message.get_subdir() == "new")
            if _matches(search, summary, message, datetime.fromtimestamp(message.get_date(), UTC).replace(tzinfo=None)):
                entries.append((summary, message.get_date()))
        field = sort.lstrip("-")

        def order(entry: tuple[Summary, float]) -> object:
            summary, arrival = entry
            return {"sentDate": summary.sent_date or datetime.min, "receivedDate": arrival,
                    "subject": base_subject(summary.subject), "from": summary.sender.lower(),
                    "size": summary.size}[field]

        entries.sort(key=order, reverse=sort.startswith("-"))
        return [summary for summary, _ in entries[offset:offset + limit]], len(entries)

    @staticmethod
    def _find(box: mailbox.Maildir, message_id: str) -> list[tuple[str, mailbox.MaildirMessage]]:
        wanted = message_id.strip("<>").lower()
        found = []
        for key in box.iterkeys():
            message = box.get_message(key)
            ids = ((message.get("X-Fuglu-Id") or "").strip().lower(),
                   (message.get("Message-ID") or "").strip().strip("<>").lower())
            if wanted in ids or message_id == key:  # the key is the id of a message with neither header
                found.append((key, message))
        if not found:
            raise NotFound("No such message.")
        return found

    def message(self, folder: str, message_id: str) -> tuple[Summary, bytes]:
        key, message = self._find(self._box(folder), message_id)[0]
        raw = message.as_bytes()
        flags = {_MAILDIR_FLAGS[f] for f in message.get_flags() if f in _MAILDIR_FLAGS}
        head = raw.split(b"\n\n", 1)[0]
        return summarize(key, head, flags, len(raw), recent=message.get_subdir() == "new"), raw

    def add_flag(self, folder: str, message_id: str, flag: str) -> None:
        letter = next((k for k, v in _MAILDIR_FLAGS.items() if v == flag), None)
        if letter is None:
            raise ValueError(f"The Maildir store has no flag for {flag}.")
        box = self._box(folder)
        for key, message in self._find(box, message_id):
            message.add_flag(letter)
            message.set_subdir("cur")
            box[key] = message

    def delete(self, folder: str, message_ids: list[str]) -> int:
        box = self._box(folder)
        keys = {key for message_id in message_ids for key, _ in self._find(box, message_id)}
        for key in keys:
            box.discard(key)
        return len(keys)

    def append(self, folder: str, raw: bytes, flags: tuple[str, ...] = ()) -> None:
        if not self.root.is_dir():
            mailbox.Maildir(str(self.root), create=True)
        box = mailbox.Maildir(str(self.root), create=False)
        for part in ([] if folder in ("", "INBOX") else folder.split(SEPARATOR)):
            box = box.get_folder(part) if part in box.list_folders() else box.add_folder(part)
        message = mailbox.MaildirMessage(raw)
        message.set_subdir("cur")
        message.set_flags("".join(k for k, v in _MAILDIR_FLAGS.items() if v in flags))
        box.add(message)

    def is_folder(self, path: str) -> bool:
        try:
            self._box(path)
        except NotFound:
            return False
        return True

    def close(self) -> None:
        return None


def maildir_root(base: Path, email: str) -> Path:
    local, _, domain = email.partition("@")
    if not local or "/" in local or local.startswith(".") or "/" in domain or os.sep in local:
        raise NotFound("No mail store for this address.")
    return base / domain / local / "Maildir"


# --- messages -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Search:
    """Criteria of a folder search (seed 5.7.8); `operator` joins the given criteria."""

    received_after: datetime | None = None
    received_before: datetime | None = None
    sender: str | None = None
    to: str | None = None
    cc: str | None = None
    subject: str | None = None
    body: str | None = None
    id: str | None = None
    operator: str = "AND"  # AND, OR, NOT (none of them)
    reason: str | None = None  # X-Quarantine-Reason; a filter always ANDed with the rest

    def terms(self) -> list[tuple[str, object]]:
        pairs = [("SINCE", self.received_after), ("BEFORE", self.received_before), ("FROM", self.sender),
                 ("TO", self.to), ("CC", self.cc), ("SUBJECT", self.subject), ("BODY", self.body),
                 ("ID", self.id)]
        return [(k, v) for k, v in pairs if v not in (None, "")]


SORTS = {"sentDate": "DATE", "receivedDate": "ARRIVAL", "subject": "SUBJECT", "from": "FROM", "size": "SIZE"}


@dataclass(frozen=True)
class Summary:
    key: str  # the store's own key (IMAP UID, Maildir file key)
    headers: dict[str, str]
    seen: bool
    answered: bool
    recent: bool
    deleted: bool
    has_attachments: bool
    important: bool
    sent_date: datetime | None
    subject: str
    sender: str
    to: list[str]
    cc: list[str]
    size: int
    released: bool = False


SUMMARY_HEADERS = ("X-Fuglu-Id", "X-Spam-Score", "X-Quarantine-Reason", "X-Virus-Name", "Message-ID",
                   "X-Original-To", "Importance", "X-Priority", "Date", "From", "To", "Cc", "Subject",
                   "Content-Type")


def _decode(value: str | None) -> str:
    if not value:
        return ""
    try:
        return str(make_header(decode_header(value))).replace("\r", " ").replace("\n", " ")
    except (ValueError, LookupError):
        return value.replace("\r", " ").replace("\n", " ")


def _addresses(value: str | None) -> list[str]:
    return [addr for _name, addr in getaddresses([_decode(value)]) if addr]


def summarize(key: str, raw_headers: bytes, flags: set[str], size: int, recent: bool = False) -> Summary:
    """A message's list entry from its headers and flags (no body is read)."""
    message = BytesParser(policy=email_policy.compat32).parsebytes(raw_headers, headersonly=True)
    headers = {name: _decode(message.get(name)) for name in SUMMARY_HEADERS if message.get(name) is not None}
    try:
        sent = parsedate_to_datetime(message.get("Date")) if message.get("Date") else None
        sent = sent.astimezone(UTC).replace(tzinfo=None) if sent and sent.tzinfo else sent
    except (TypeError, ValueError, IndexError):
        sent = None
    content_type = (message.get_content_type() or "").lower()
    importance = (message.get("Importance") or "").lower()
    priority = (message.get("X-Priority") or "").strip()[:1]
    return Summary(
        key=key, headers=headers, seen="\\Seen" in flags, answered="\\Answered" in flags, recent=recent,
        deleted="\\Deleted" in flags, has_attachments=content_type in ("multipart/mixed", "multipart/report"),
        important=importance == "high" or priority in ("1", "2"), sent_date=sent,
        subject=headers.get("Subject", ""), sender=", ".join(_addresses(message.get("From"))),
        to=_addresses(message.get("To")), cc=_addresses(message.get("Cc")), size=size, released=RELEASED in flags,
    )


_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|tr)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def base_subject(subject: str) -> str:
    """The subject without reply / forward prefixes, as IMAP SORT SUBJECT compares it (RFC 5256)."""
    return _REPLY_PREFIX.sub("", subject).strip().lower()


_MAILDIR_FLAGS = {"S": "\\Seen", "R": "\\Answered", "T": "\\Deleted", "F": "\\Flagged", "P": RELEASED}


def _imap_criteria(search: Search) -> list[object]:
    terms: list[list[object]] = []
    for key, value in search.terms():
        if key == "ID":
            terms.append(["OR", ["HEADER", "X-Fuglu-Id", value], ["HEADER", "Message-ID", value]])
        elif key in ("SINCE", "BEFORE"):
            terms.append([key, value.date()])  # type: ignore[union-attr]
        else:
            terms.append([key, value])
    reason: list[object] = ["HEADER", "X-Quarantine-Reason", search.reason] if search.reason else []
    if not terms:
        return reason or ["ALL"]
    if search.operator == "OR" and len(terms) > 1:
        combined: list[object] = terms[-1]
        for term in reversed(terms[:-1]):
            combined = ["OR", term, combined]
        return [*reason, *combined] if reason else combined
    flat = [part for term in terms for part in term]
    return [*reason, *(["NOT", flat] if search.operator == "NOT" else flat)]


def _matches(search: Search, summary: Summary, message: mailbox.MaildirMessage, arrival: datetime) -> bool:
    def body_text() -> str:
        return message.as_bytes().decode("utf-8", errors="replace").lower()

    checks = []
    for key, value in search.terms():
        needle = str(value).lower()
        if key == "SINCE":
            checks.append(arrival.date() >= value.date())  # type: ignore[union-attr]
        elif key == "BEFORE":
            checks.append(arrival.date() < value.date())  # type: ignore[union-attr]
        elif key == "FROM":
            checks.append(needle in summary.headers.get("From", "").lower())
        elif key == "TO":
            checks.append(needle in summary.headers.get("To", "").lower())
        elif key == "CC":
            checks.append(needle in summary.headers.get("Cc", "").lower())
        elif key == "SUBJECT":
            checks.append(needle in summary.subject.lower())
        elif key == "BODY":
            checks.append(needle in body_text().split("\n\n", 1)[-1])
        elif key == "ID":  # a substring of the header, as IMAP's HEADER search does
            checks.append(needle in summary.headers.get("X-Fuglu-Id", "").lower()
                          or needle in summary.headers.get("Message-ID", "").lower())
    if search.reason and summary.headers.get("X-Quarantine-Reason", "").upper() != search.reason.upper():
        return False
    if not checks:
        return True
    if search.operator == "OR":
        return any(checks)
    if search.operator == "NOT":
        return not all(checks)
    return all(checks)
