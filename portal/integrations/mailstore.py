"""Mail stores behind one interface: an IMAP server (imapclient, with a master login) or a Maildir tree.

Every IMAP operation (getting a connection included) has a deadline on the whole exchange, not only on each
read (see `deadline.py`); a store is opened per request and closed after it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import socket
import ssl as ssl_module
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import _header_value_parser as header_parser
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from imapclient import IMAPClient, imap4, tls
from imapclient.exceptions import IMAPClientError, LoginError

from ..errors import NotFound, StoreUnavailable
from ..words import _l
from .deadline import Deadline

T = TypeVar("T")

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

    def find(self, folder: str, search: Search, limit: int) -> tuple[list[Summary], int]: ...

    def is_folder(self, path: str) -> bool: ...

    def add_flag(self, folder: str, message_id: str, flag: str, *, by_key: bool = False) -> None: ...

    def delete(self, folder: str, message_ids: list[str]) -> int: ...

    def append(self, folder: str, raw: bytes, flags: tuple[str, ...] = ()) -> None: ...

    def close(self) -> None: ...


RELEASED = "$Released"  # the keyword a released quarantine copy carries (Maildir: the P, "passed", flag)


class _Pool:
    """Logged-in IMAP connections kept between requests, per server and login (one process's own).

    A connection is lent to one store at a time, checked with NOOP before reuse, dropped after an
    error or `max_idle` seconds unused; forked children start empty."""

    def __init__(self, size: int = 4, max_idle: float = 60.0) -> None:
        self.size, self.max_idle = size, max_idle
        self._idle: dict[tuple[object, ...], list[tuple[float, IMAPClient]]] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple[object, ...], deadline: Deadline) -> IMAPClient | None:
        """An idle connection that answers NOOP (within `deadline`, which watches it from then on)."""
        while True:
            with self._lock:
                entries = self._idle.get(key) or []
                if not entries:
                    return None
                since, client = entries.pop()
            if time.monotonic() - since < self.max_idle:
                try:
                    deadline.watch(client.socket())
                    client.noop()
                    return client
                except (OSError, IMAPClientError):
                    pass
            _logout(client)

    def give(self, key: tuple[object, ...], client: IMAPClient) -> None:
        with self._lock:
            entries = self._idle.setdefault(key, [])
            if len(entries) < self.size:
                entries.append((time.monotonic(), client))
                return
        _logout(client)

    def forget(self) -> None:
        with self._lock:
            self._idle = {}


POOL = _Pool()
os.register_at_fork(after_in_child=POOL.forget)


LOGOUT_SECONDS = 2.0


def _logout(client: IMAPClient) -> None:
    """LOGOUT, best effort: a server that does not answer quickly is simply dropped."""
    with Deadline(LOGOUT_SECONDS) as deadline, contextlib.suppress(OSError, IMAPClientError):
        deadline.watch(client.socket())
        client.logout()
    with contextlib.suppress(OSError, IMAPClientError):
        client.shutdown()


class _Plain(imap4.IMAP4WithTimeout):
    def __init__(self, deadline: Deadline, host: str, port: int, timeout: float | None) -> None:
        self._deadline = deadline
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return self._deadline.connect((self.host, self.port), timeout or self._timeout)


class _TLS(tls.IMAP4_TLS):
    def __init__(self, deadline: Deadline, host: str, port: int, context: ssl_module.SSLContext | None,
                 timeout: float | None) -> None:
        self._deadline = deadline
        super().__init__(host, port, context, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = self._deadline.connect((self.host, self.port), timeout or self._timeout)
        return tls.wrap_socket(sock, self.ssl_context, self.host)


class _Client(IMAPClient):
    """IMAPClient whose socket is watched by `deadline` from its creation: the greeting, the TLS
    handshake and the login are inside the deadline, not only the commands after them."""

    def __init__(self, deadline: Deadline, host: str, **kwargs: object) -> None:
        self._deadline = deadline
        super().__init__(host, **kwargs)  # type: ignore[arg-type]

    def _create_IMAP4(self) -> imap4.IMAP4WithTimeout | tls.IMAP4_TLS:
        connect = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _TLS(self._deadline, self.host, self.port, self.ssl_context, connect)
        return _Plain(self._deadline, self.host, self.port, connect)


def _open(deadline: Deadline, host: str, port: int, use_ssl: bool, timeout: float,
          cadata: str | None) -> IMAPClient:
    return _Client(deadline, host, port=port, ssl=use_ssl, timeout=timeout,
                   ssl_context=_tls(cadata) if use_ssl else None)


def _late(host: str, port: int, deadline: Deadline) -> StoreUnavailable:
    return StoreUnavailable(_l("The mail server at %(address)s did not answer within %(seconds)s s.",
                                   address=f"{host}:{port}", seconds=f"{deadline.seconds:g}"))


def _fetch_summaries(imap: IMAPClient, uids: list[int]) -> list[Summary]:
    """The summaries of these messages (flags, size and the summary headers only), in the order given."""
    fetched = imap.fetch(uids, ["FLAGS", "RFC822.SIZE",
                                f"BODY.PEEK[HEADER.FIELDS ({' '.join(SUMMARY_HEADERS)})]"]) if uids else {}
    result = []
    for uid in uids:
        data = fetched.get(uid)
        if data is None:
            continue
        header = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"")
        flags = {f.decode() for f in data.get(b"FLAGS", ())}
        result.append(summarize(str(uid), header, flags, data.get(b"RFC822.SIZE", 0), "\\Recent" in flags))
    return result


class ImapStore:
    """A mailbox on an IMAP server, opened with `login` (e.g. `user@domain*master`) and a password.

    The connection comes from the process's pool and goes back to it on `close()`, unless a
    command failed on it (then it is closed)."""

    def __init__(self, host: str, port: int, login: str, password: str, *, use_ssl: bool = False,
                 timeout: float = 10.0, cadata: str | None = None, pooled: bool = True) -> None:
        """`cadata`: PEM certificates to trust besides the system's (a private CA or a self-signed server)."""
        self._args = (host, port, login, password, use_ssl, timeout)
        self._cadata = cadata
        self._key = (host, port, login, password, use_ssl, cadata) if pooled else None
        self._client: IMAPClient | None = None
        self._broken = False

    def _imap(self, deadline: Deadline) -> IMAPClient:
        """This store's connection, watched by `deadline`: its own, one from the pool, or a new one."""
        if self._client is not None:
            deadline.watch(self._client.socket())
            return self._client
        reused = POOL.take(self._key, deadline) if self._key is not None else None
        self._client = reused or self._connect(deadline)
        self._broken = False
        return self._client

    def _connect(self, deadline: Deadline) -> IMAPClient:
        host, port, login, password, use_ssl, timeout = self._args
        try:
            client = _open(deadline, host, port, use_ssl, timeout, self._cadata)
            client.login(login, password)
        except LoginError as exc:
            raise StoreUnavailable(_l("The mail server refused the portal's login.")) from exc
        except (TimeoutError, OSError, IMAPClientError) as exc:
            if deadline.expired:
                raise _late(host, port, deadline) from exc
            raise StoreUnavailable(_l("The mail server at %(address)s cannot be reached (%(why)s).",
                                                   address=f"{host}:{port}", why=str(exc))) from exc
        return client

    @contextlib.contextmanager
    def _command(self) -> Iterator[IMAPClient]:
        """The connection for one operation, which has POSTERN_IMAP_TIMEOUT in all (the connection's NOOP
        or connect and login included); a failure marks the connection unusable and is a StoreUnavailable."""
        host, port, *_rest, timeout = self._args
        with Deadline(timeout) as deadline:
            imap = self._imap(deadline)
            try:
                yield imap
            except (OSError, IMAPClientError) as exc:
                self._broken = True
                if deadline.expired:
                    raise _late(host, port, deadline) from exc
                raise StoreUnavailable(_l("The mail server failed: %(why)s", why=str(exc))) from exc

    @staticmethod
    def _select(imap: IMAPClient, folder: str) -> None:
        """SELECT (read-write: bodies are only ever PEEKed), skipped when a pooled connection has the folder
        selected already (its NOOP on reuse brought the view up to date; a SELECT of a big folder costs
        10-15 ms in Dovecot). A missing folder is a 404, asked of the server only when SELECT fails."""
        if getattr(imap, "postern_selected", None) == folder:
            return
        imap.postern_selected = None
        try:
            imap.select_folder(folder)
        except IMAPClientError:
            if not imap.folder_exists(folder):
                raise NotFound(_l("No such folder.")) from None
            raise
        imap.postern_selected = folder

    def folders(self, parent: str | None = None, *, stats: bool = False) -> list[Folder]:
        with self._command() as imap:
            if parent:
                if not imap.folder_exists(parent):
                    raise NotFound(_l("No such folder."))
                listed = imap.list_folders(directory=parent + SEPARATOR, pattern="%")
            else:
                listed = imap.list_folders(pattern="%")
            result = []
            for flags, _delimiter, path in listed:
                children = b"\\HasChildren" in flags
                counts = imap.folder_status(path, ["MESSAGES", "UNSEEN"]) if stats else {}
                result.append(Folder(path=path, name=path.rsplit(SEPARATOR, 1)[-1], has_children=children,
                                     messages=counts.get(b"MESSAGES"), unseen=counts.get(b"UNSEEN")))
        return sorted(result, key=lambda f: (f.path != "INBOX", f.path.lower()))

    def messages(self, folder: str, search: Search, sort: str, offset: int, limit: int
                 ) -> tuple[list[Summary], int]:
        """SEARCH and SORT on the server; only the requested page is fetched (headers and flags)."""
        with self._command() as imap:
            self._select(imap, folder)
            criteria = _imap_criteria(search)
            charset = "UTF-8" if any(not str(v).isascii() for _, v in search.terms()) else None
            order = ("REVERSE " if sort.startswith("-") else "") + SORTS[sort.lstrip("-")]
            if b"SORT" in imap.capabilities():
                uids = list(imap.sort([order], criteria, charset=charset or "UTF-8"))
            else:  # arrival order is all a server without SORT offers
                uids = sorted(imap.search(criteria, charset), reverse=sort.startswith("-"))
            page = uids[offset:offset + limit]
            result = _fetch_summaries(imap, page)
        return result, len(uids)

    def find(self, folder: str, search: Search, limit: int) -> tuple[list[Summary], int]:
        """One SEARCH over the folder, then the summary headers of the `limit` newest hits (by UID): the
        domain-wide search's work on one mailbox, the whole of it (login included) inside one deadline.
        A missing folder holds nothing. The folder is EXAMINEd (read-only: no \\Recent flag taken, no index
        written); the connection is the search's own, never pooled."""
        with self._command() as imap:
            imap.postern_selected = None  # a read-write SELECT is needed again after this EXAMINE
            try:
                imap.select_folder(folder, readonly=True)
            except IMAPClientError:
                if not imap.folder_exists(folder):
                    return [], 0
                raise
            charset = "UTF-8" if any(not str(v).isascii() for _, v in search.terms()) else None
            uids = sorted(imap.search(_imap_criteria(search), charset), reverse=True)
            page = uids[:limit]
            result = _fetch_summaries(imap, page)
        return result, len(uids)

    def message(self, folder: str, message_id: str) -> tuple[Summary, bytes]:
        """One message by its quarantine id (X-Fuglu-Id) or Message-ID, with its whole source."""
        with self._command() as imap:
            self._select(imap, folder)
            uid = self._find(imap, message_id)[0]
            data = imap.fetch([uid], ["FLAGS", "RFC822.SIZE", "BODY.PEEK[]"]).get(uid)
        if data is None:
            raise NotFound(_l("No such message."))
        raw = next((v for k, v in data.items() if k.startswith(b"BODY[")), b"")
        flags = {f.decode() for f in data.get(b"FLAGS", ())}
        head = raw.split(b"\r\n\r\n", 1)[0]
        return summarize(str(uid), head, flags, data.get(b"RFC822.SIZE", len(raw)), "\\Recent" in flags), raw

    @staticmethod
    def _find(imap: IMAPClient, message_id: str, *, by_key: bool = False) -> list[int]:
        """UIDs in the selected folder of a quarantine id (X-Fuglu-Id), a Message-ID or a UID;
        `by_key`: `message_id` is the UID a summary gave (no header search)."""
        if by_key:
            uids = imap.search(["UID", message_id]) if message_id.isdigit() else []
        else:  # the quarantine id first: one header scan instead of two in the usual case
            uids = (imap.search(["HEADER", "X-Fuglu-Id", message_id])
                    or imap.search(["HEADER", "Message-ID", message_id]))
            if not uids and message_id.isdigit():  # the UID is the id of a message with neither header
                uids = imap.search(["UID", message_id])
        if not uids:
            raise NotFound(_l("No such message."))
        return sorted(uids)

    def is_folder(self, path: str) -> bool:
        with self._command() as imap:
            return bool(imap.folder_exists(path))

    def add_flag(self, folder: str, message_id: str, flag: str, *, by_key: bool = False) -> None:
        with self._command() as imap:
            self._select(imap, folder)
            imap.add_flags(self._find(imap, message_id, by_key=by_key), [flag])

    def delete(self, folder: str, message_ids: list[str]) -> int:
        """Remove messages for good (\\Deleted, then UID EXPUNGE of those only); returns how many."""
        with self._command() as imap:
            self._select(imap, folder)
            uids: set[int] = set()
            for message_id in message_ids:
                uids.update(self._find(imap, message_id))
            if uids:
                imap.add_flags(sorted(uids), [b"\\Deleted"])
                if imap.has_capability("UIDPLUS"):
                    imap.uid_expunge(sorted(uids))
                else:
                    imap.expunge()
        return len(uids)

    def append(self, folder: str, raw: bytes, flags: tuple[str, ...] = ()) -> None:
        """Store a message (a sent copy); the folder is created when missing."""
        with self._command() as imap:
            if not imap.folder_exists(folder):
                imap.create_folder(folder)
            imap.append(folder, raw, flags=flags)

    def close(self) -> None:
        """The connection back to the pool (or closed, after a failure or without a pool)."""
        client, self._client = self._client, None
        if client is None:
            return
        if self._broken or self._key is None:
            _logout(client)
        else:
            POOL.give(self._key, client)


def _tls(cadata: str | None) -> ssl_module.SSLContext:
    """Certificates verified, names checked; a PEM bundle added to the system's trust when given."""
    context = ssl_module.create_default_context()
    if cadata:
        context.load_verify_locations(cadata=cadata)
    return context


def check_login(host: str, port: int, login: str, password: str, *, use_ssl: bool, timeout: float,
                cadata: str | None = None) -> bool:
    """Whether the IMAP server accepts this login (the portal's sign-in for platforms with authType imap);
    `timeout` bounds connect and login together."""
    with Deadline(timeout) as deadline:
        try:
            client = _open(deadline, host, port, use_ssl, timeout, cadata)
        except (TimeoutError, OSError, IMAPClientError) as exc:
            if deadline.expired:
                raise _late(host, port, deadline) from exc
            raise StoreUnavailable(_l("The mail server at %(address)s cannot be reached (%(why)s).",
                                                   address=f"{host}:{port}", why=str(exc))) from exc
        try:
            client.login(login, password)
        except LoginError:
            return False
        except (TimeoutError, OSError, IMAPClientError) as exc:
            if deadline.expired:
                raise _late(host, port, deadline) from exc
            raise StoreUnavailable(_l("The mail server at %(address)s failed (%(why)s).",
                                                   address=f"{host}:{port}", why=str(exc))) from exc
        finally:
            with contextlib.suppress(OSError, IMAPClientError):
                client.logout()
    return True


@dataclass(frozen=True)
class _File:
    """One message file of a Maildir folder: its key, where it is, its flags (Maildir letters)."""

    key: str
    path: Path
    new: bool
    flags: str

    def read_head(self) -> bytes:
        """The header block only (a quarantine list never needs the bodies)."""
        with open(self.path, "rb") as fh:
            head = b""
            while len(head) < HEAD_LIMIT:
                chunk = fh.read(8192)
                if not chunk:
                    break
                head += chunk
                if b"\n\n" in head or b"\r\n\r\n" in head:
                    break
        return head


HEAD_LIMIT = 256 * 1024
RESCANS = 5  # scans of a Maildir folder whose files other processes keep renaming under one operation


def _rescanning(method: Callable[..., T]) -> Callable[..., T]:
    """Another process may rename a message file (a flag: a release, a read) or remove it between this
    one's scan of the folder and its open: scan again instead of failing the request with a 500."""
    @functools.wraps(method)
    def again(self: MaildirStore, *args: Any, **kwargs: Any) -> T:
        for attempt in range(RESCANS):
            try:
                return method(self, *args, **kwargs)
            except FileNotFoundError:
                if attempt == RESCANS - 1:
                    raise StoreUnavailable(_l("The mailbox kept changing while it was read; try again.")) from None
        raise AssertionError("unreachable")
    return again


class MaildirStore:
    """A Maildir tree on this host (the embedded default): INBOX is the root, folder `A/B` is `.A/.B`
    (the layout of Python's `mailbox`). Message files are read as bytes and only their headers are
    parsed, so a hostile MIME structure costs nothing here."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, path: str) -> Path:
        if not self.root.is_dir():
            raise NotFound(_l("This mailbox has no mail store yet."))
        directory = self.root
        for part in ([] if path in ("", "INBOX") else path.split(SEPARATOR)):
            directory = directory / f".{part}"
            if not (directory / "cur").is_dir():
                raise NotFound(_l("No such folder."))
        return directory

    @staticmethod
    def _children(directory: Path) -> list[str]:
        return sorted(entry.name[1:] for entry in os.scandir(directory)
                      if entry.name.startswith(".") and entry.name not in (".", "..") and entry.is_dir()
                      and os.path.isdir(os.path.join(entry.path, "cur")))

    @staticmethod
    def _files(directory: Path) -> list[_File]:
        found = []
        for sub in ("new", "cur"):
            with os.scandir(directory / sub) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.is_file():
                        continue
                    key, _, info = entry.name.partition(":")
                    found.append(_File(key, Path(entry.path), sub == "new", info[2:] if info.startswith("2,") else ""))
        return found

    @staticmethod
    def _flags(file: _File) -> set[str]:
        return {_MAILDIR_FLAGS[f] for f in file.flags if f in _MAILDIR_FLAGS}

    def folders(self, parent: str | None = None, *, stats: bool = False) -> list[Folder]:
        if parent in (None, ""):
            names = ["INBOX", *self._children(self._dir(""))]
        elif parent == "INBOX":  # the root holds the other folders, which are not INBOX's children
            return []
        else:
            names = [f"{parent}{SEPARATOR}{n}" for n in self._children(self._dir(parent))]
        result = []
        for path in names:
            directory = self._dir(path)
            children = bool(self._children(directory)) if path != "INBOX" else False
            messages = unseen = None
            if stats:
                files = self._files(directory)
                messages, unseen = len(files), sum(1 for f in files if "S" not in f.flags)
            result.append(Folder(path=path, name=path.rsplit(SEPARATOR, 1)[-1], has_children=children,
                                 messages=messages, unseen=unseen))
        return sorted(result, key=lambda f: (f.path != "INBOX", f.path.lower()))

    def _summary(self, file: _File) -> Summary:
        return summarize(file.key, file.read_head(), self._flags(file), file.path.stat().st_size, recent=file.new)

    @_rescanning
    def messages(self, folder: str, search: Search, sort: str, offset: int, limit: int
                 ) -> tuple[list[Summary], int]:
        """Filter and sort in Python over the headers (the embedded store holds small mailboxes)."""
        entries = []
        for file in self._files(self._dir(folder)):
            summary = self._summary(file)
            arrival = file.path.stat().st_mtime
            if _matches(search, summary, file.path, datetime.fromtimestamp(arrival, UTC).replace(tzinfo=None)):
                entries.append((summary, arrival))
        field = sort.lstrip("-")

        def order(entry: tuple[Summary, float]) -> object:
            summary, arrival = entry
            return {"sentDate": summary.sent_date or datetime.min, "receivedDate": arrival,
                    "subject": base_subject(summary.subject), "from": summary.sender.lower(),
                    "size": summary.size}[field]

        entries.sort(key=order, reverse=sort.startswith("-"))
        return [summary for summary, _ in entries[offset:offset + limit]], len(entries)

    def find(self, folder: str, search: Search, limit: int) -> tuple[list[Summary], int]:
        """The domain-wide search's work on one mailbox: the `limit` newest hits and how many there are; a
        mailbox without a store or without the folder holds nothing."""
        try:
            return self.messages(folder, search, "-receivedDate", 0, limit)
        except NotFound:
            return [], 0

    def _find(self, folder: str, message_id: str, *, by_key: bool = False) -> list[_File]:
        """A quarantine id (X-Fuglu-Id), a Message-ID or the file's key; `by_key`: the key only."""
        files = self._files(self._dir(folder))
        if by_key:
            found = [f for f in files if f.key == message_id]
        else:
            wanted = message_id.strip().strip("<>").lower()
            found = []
            for file in files:
                fields = _header_fields(file.read_head())
                ids = (fields.get("X-Fuglu-Id", "").strip().lower(),
                       fields.get("Message-ID", "").strip().strip("<>").lower())
                if wanted in ids or message_id == file.key:
                    found.append(file)
        if not found:
            raise NotFound(_l("No such message."))
        return found

    @_rescanning
    def message(self, folder: str, message_id: str) -> tuple[Summary, bytes]:
        file = self._find(folder, message_id)[0]
        raw = file.path.read_bytes()
        return summarize(file.key, raw.split(b"\n\n", 1)[0], self._flags(file), len(raw), recent=file.new), raw

    @_rescanning
    def add_flag(self, folder: str, message_id: str, flag: str, *, by_key: bool = False) -> None:
        letter = next((k for k, v in _MAILDIR_FLAGS.items() if v == flag), None)
        if letter is None:
            raise ValueError(f"The Maildir store has no flag for {flag}.")
        for file in self._find(folder, message_id, by_key=by_key):
            flags = "".join(sorted(set(file.flags + letter)))
            os.replace(file.path, file.path.parent.parent / "cur" / f"{file.key}:2,{flags}")

    @_rescanning
    def delete(self, folder: str, message_ids: list[str]) -> int:
        files = {file.path: file for message_id in message_ids for file in self._find(folder, message_id)}
        for path in files:
            path.unlink(missing_ok=True)
        return len(files)

    def append(self, folder: str, raw: bytes, flags: tuple[str, ...] = ()) -> None:
        """Write the file in tmp/, then move it into cur/ (Maildir's delivery, never a half-written message)."""
        directory = self.root
        for part in ([] if folder in ("", "INBOX") else folder.split(SEPARATOR)):
            directory = directory / f".{part}"
        for sub in ("tmp", "new", "cur"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        key = f"{time.time_ns()}.P{os.getpid()}R{secrets.token_hex(6)}.{socket.gethostname().replace('/', '_')}"
        letters = "".join(sorted(k for k, v in _MAILDIR_FLAGS.items() if v in flags))
        tmp = directory / "tmp" / key
        tmp.write_bytes(raw)
        os.replace(tmp, directory / "cur" / f"{key}:2,{letters}")

    def is_folder(self, path: str) -> bool:
        try:
            self._dir(path)
        except NotFound:
            return False
        return True

    def close(self) -> None:
        return None


def maildir_root(base: Path, email: str) -> Path:
    local, _, domain = email.partition("@")
    if not local or "/" in local or local.startswith(".") or "/" in domain or os.sep in local:
        raise NotFound(_l("No mail store for this address."))
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
    message_id: str | None = None  # a substring of the Message-ID header
    fuglu_id: str | None = None  # a substring of the X-Fuglu-Id header

    def terms(self) -> list[tuple[str, object]]:
        pairs = [("SINCE", self.received_after), ("BEFORE", self.received_before), ("FROM", self.sender),
                 ("TO", self.to), ("CC", self.cc), ("SUBJECT", self.subject), ("BODY", self.body),
                 ("ID", self.id), ("MESSAGE-ID", self.message_id), ("FUGLU-ID", self.fuglu_id)]
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


_FOLD = re.compile(rb"\r?\n[ \t]+")
_WANTED = {name.lower().encode(): name for name in SUMMARY_HEADERS}


def _header_fields(raw_headers: bytes) -> dict[str, str]:
    """The first value of each summary header, unfolded, in one pass over the header block (a list page
    reads 40 of them per request: the stdlib parser's repeated lookups cost more than the IMAP round trip)."""
    found: dict[str, str] = {}
    head = raw_headers.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in _FOLD.sub(b" ", head).splitlines():
        name, sep, value = line.partition(b":")
        wanted = _WANTED.get(name.strip().lower()) if sep else None
        if wanted is not None and wanted not in found:
            found[wanted] = value.strip().decode("utf-8", errors="replace")
    return found


def _decode(value: str | None) -> str:
    if not value:
        return ""
    if "=?" not in value:  # no RFC 2047 encoded word
        return value.replace("\r", " ").replace("\n", " ")
    try:
        return str(make_header(decode_header(value))).replace("\r", " ").replace("\n", " ")
    except (ValueError, LookupError):
        return value.replace("\r", " ").replace("\n", " ")


_ANGLE = re.compile(r"<([^<>\s]+@[^<>\s]+)>")


def _addresses(value: str | None) -> list[str]:
    if not value:
        return []
    if '"' not in value and "(" not in value and "=?" not in value:  # the common shape: a, B <b>, ...
        found = []
        for part in value.split(","):
            angle = _ANGLE.search(part)
            address = angle.group(1) if angle else part.strip()
            if "@" in address and " " not in address:
                found.append(address)
        return found
    return parsed_addresses(value)


_ADDR_SPEC = re.compile(r"[^\s\x00-\x1f\x7f\"<>,;:()\\@\[\]]+@[^\s\x00-\x1f\x7f\"<>,;:()\\@]+")


def parsed_addresses(value: str) -> list[str]:
    """The addresses of a raw (still encoded, perhaps hostile) address header, parsed BEFORE anything is
    decoded, with the parser of `email.policy`: an encoded word is a display name or a comment, never an
    address or a separator, so an encoded `, x@y` or CR/LF + `Bcc: x@y` adds no one. Only plain addr-specs
    are kept (no control character, no space, no quote, nothing still encoded)."""
    try:
        mailboxes = header_parser.get_address_list(value)[0].all_mailboxes
        found = [mailbox.addr_spec or "" for mailbox in mailboxes]
    except Exception:
        found = [addr for _name, addr in getaddresses([value])]
    return [addr for addr in found if _ADDR_SPEC.fullmatch(addr) and "=?" not in addr]


def summarize(key: str, raw_headers: bytes, flags: set[str], size: int, recent: bool = False) -> Summary:
    """A message's list entry from its headers and flags (no body is read)."""
    fields = _header_fields(raw_headers)
    headers = {name: _decode(value) for name, value in fields.items()}
    try:
        sent = parsedate_to_datetime(fields["Date"]) if fields.get("Date") else None
        sent = sent.astimezone(UTC).replace(tzinfo=None) if sent and sent.tzinfo else sent
    except (TypeError, ValueError, IndexError):
        sent = None
    content_type = fields.get("Content-Type", "text/plain").split(";", 1)[0].strip().lower()
    importance = fields.get("Importance", "").lower()
    priority = fields.get("X-Priority", "").strip()[:1]
    return Summary(
        key=key, headers=headers, seen="\\Seen" in flags, answered="\\Answered" in flags, recent=recent,
        deleted="\\Deleted" in flags, has_attachments=content_type in ("multipart/mixed", "multipart/report"),
        important=importance == "high" or priority in ("1", "2"), sent_date=sent,
        subject=headers.get("Subject", ""), sender=", ".join(_addresses(fields.get("From"))),
        to=_addresses(fields.get("To")), cc=_addresses(fields.get("Cc")), size=size, released=RELEASED in flags,
    )


_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|tr)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


def base_subject(subject: str) -> str:
    """The subject without reply / forward prefixes, as IMAP SORT SUBJECT compares it (RFC 5256)."""
    return _REPLY_PREFIX.sub("", subject).strip().lower()


_MAILDIR_FLAGS = {"S": "\\Seen", "R": "\\Answered", "T": "\\Deleted", "F": "\\Flagged", "P": RELEASED}


_HEADER_TERMS = {"MESSAGE-ID": "Message-ID", "FUGLU-ID": "X-Fuglu-Id"}


def _imap_criteria(search: Search) -> list[object]:
    terms: list[list[object]] = []
    for key, value in search.terms():
        if key == "ID":
            terms.append(["OR", ["HEADER", "X-Fuglu-Id", value], ["HEADER", "Message-ID", value]])
        elif key in _HEADER_TERMS:
            terms.append(["HEADER", _HEADER_TERMS[key], value])
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


def _matches(search: Search, summary: Summary, path: Path, arrival: datetime) -> bool:
    def body_text() -> str:
        return path.read_bytes().decode("utf-8", errors="replace").lower()

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
            checks.append(needle in re.split(r"\r?\n\r?\n", body_text(), maxsplit=1)[-1])
        elif key in _HEADER_TERMS:  # a substring of the header, as IMAP's HEADER search does
            checks.append(needle in summary.headers.get(_HEADER_TERMS[key], "").lower())
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
