"""Mail stores behind one interface: an IMAP server (imapclient, with a master login) or a Maildir tree.

Every IMAP call has a timeout; a store is opened per request and closed after it.
"""

from __future__ import annotations

import contextlib
import mailbox
import os
import ssl as ssl_module
from dataclasses import dataclass
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

    def close(self) -> None: ...


class ImapStore:
    """A mailbox on an IMAP server, opened with `login` (e.g. `user@domain*master`) and a password."""

    def __init__(self, host: str, port: int, login: str, password: str, *, use_ssl: bool = False,
                 timeout: float = 10.0) -> None:
        self._args = (host, port, login, password, use_ssl, timeout)
        self._client: IMAPClient | None = None

    def _imap(self) -> IMAPClient:
        if self._client is None:
            host, port, login, password, use_ssl, timeout = self._args
            try:
                client = IMAPClient(host, port=port, ssl=use_ssl, timeout=timeout,
                                    ssl_context=ssl_module.create_default_context() if use_ssl else None)
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

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError, IMAPClientError):
                self._client.logout()
            self._client = None


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

    def close(self) -> None:
        return None


def maildir_root(base: Path, email: str) -> Path:
    local, _, domain = email.partition("@")
    if not local or "/" in local or local.startswith(".") or "/" in domain or os.sep in local:
        raise NotFound("No mail store for this address.")
    return base / domain / local / "Maildir"
