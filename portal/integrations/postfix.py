"""The gateway's Postfix mail queue, through Postfix's own tools (`postqueue`, `postsuper`, `postcat`).

Rules kept here:
- argument lists only, never a shell; `-c CONFIG` on every call when a configuration directory is set;
- every call has a deadline: past it the tool's whole process group is killed and the call is `Unavailable`;
- queue ids are checked (`valid_id`) before any tool runs: user text never becomes an argument;
- a tool that is not installed, not executable, or refused (not root) is `QueueUnavailable`, a 503
  "the mail queue is not available here" (the seed's "module not available"), never a traceback;
- lists are streamed: `postqueue -j` prints one JSON object a line, parsed as it arrives.
This module knows nothing of Flask: `Postfix(...)` takes plain settings (the benchmark uses it as is).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from ..errors import Invalid, NotFound, Unavailable
from ..words import _l

QUEUES = ("active", "deferred", "hold", "incoming", "maildrop")
# Postfix short ids (hex) and long ids (enable_long_queue_ids: base 52 time + inode); 32 is far above either
_ID = re.compile(r"\A(?:[0-9A-F]{6,32}|[0-9A-Za-z]{10,32})\Z")
MAX_MESSAGE_BYTES = 1024 * 1024  # what postcat may print of one message's headers or body
MAX_BULK = 1000  # ids in one bulk action
RESEND_WAIT = 10.0  # seconds to wait for Postfix to give a re-sent message its new id
PIPE_BUFFER = 64 * 1024  # read a tool's output a pipe's worth at a time (fewer switches with the writer)


class QueueUnavailable(Unavailable):
    """Postfix is not installed here, or this process may not run its tools."""


def unavailable() -> QueueUnavailable:
    return QueueUnavailable(_l("The mail queue is not available here."))


def valid_id(queue_id: str) -> bool:
    return bool(_ID.match(queue_id))


def check_ids(queue_ids: Iterable[str], field_name: str | None = None) -> list[str]:
    """The ids, each checked before any tool runs. One that is not a Postfix queue id: a 404 (no such message),
    or a 400 on `field_name` when the ids came in a body."""
    checked = []
    for queue_id in queue_ids:
        if not isinstance(queue_id, str) or not valid_id(queue_id):
            if field_name is not None:
                raise Invalid.on(field_name, _l("Not a Postfix queue id: %(id)s", id=str(queue_id)[:40]))
            raise NotFound(_l("No message with this queue id is in the mail queue."))
        checked.append(queue_id)
    return checked


@dataclass(frozen=True)
class Recipient:
    address: str
    delay_reason: str = ""


@dataclass(frozen=True)
class QueuedMessage:
    queue_id: str
    queue_name: str
    arrival_time: int  # epoch seconds
    size: int
    sender: str
    recipients: tuple[Recipient, ...] = field(default_factory=tuple)
    forced_expire: bool = False


@dataclass(frozen=True)
class MessageContent:
    headers: str
    body: str
    truncated: bool


def parse_line(line: str | bytes) -> QueuedMessage | None:
    """One line of `postqueue -j` (None for a blank or malformed line)."""
    entry = parse_entry(line)
    return message_of(entry) if entry is not None else None


def parse_entry(line: str | bytes) -> dict[str, Any] | None:
    """One line of `postqueue -j` as JSON, its fields' shapes checked (None for a blank or malformed line), not
    yet a QueuedMessage: `message_of` makes one, for the entries a reader shows."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("queue_id"), str) \
            or not isinstance(data.get("queue_name"), str):
        return None
    if not all(isinstance(data.get(name) or 0, int) for name in ("arrival_time", "message_size")):
        return None
    recipients = data.get("recipients") or []
    if not isinstance(data.get("sender") or "", str) or not isinstance(recipients, list) \
            or not all(isinstance(r, dict) for r in recipients):
        return None
    return data


def message_of(data: dict[str, Any]) -> QueuedMessage | None:
    """A checked `postqueue -j` entry as a QueuedMessage (None when a field has the wrong shape)."""
    try:
        return QueuedMessage(
            queue_id=str(data["queue_id"]), queue_name=str(data["queue_name"]),
            arrival_time=int(data.get("arrival_time") or 0), size=int(data.get("message_size") or 0),
            sender=str(data.get("sender") or ""),
            recipients=tuple(Recipient(str(r.get("address") or ""), str(r.get("delay_reason") or ""))
                             for r in data.get("recipients") or ()),
            forced_expire=bool(data.get("forced_expire")),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class Postfix:
    """Postfix's queue tools under `bin_dir`, for the configuration in `config_dir` (None: Postfix's default)."""

    def __init__(self, bin_dir: str = "/usr/sbin", config_dir: str | None = None, timeout: float = 30.0) -> None:
        self.bin_dir = bin_dir
        self.config_dir = config_dir or None
        self.timeout = timeout

    # -- running a tool -----------------------------------------------------------------------------------
    def _command(self, tool: str, args: list[str]) -> list[str]:
        path = os.path.join(self.bin_dir, tool)
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            raise unavailable()
        return [path, *(["-c", self.config_dir] if self.config_dir else []), *args]

    @contextmanager
    def _process(self, tool: str, args: list[str], stdin: bytes | None = None,
                 timeout: float | None = None) -> Iterator[tuple[subprocess.Popen[bytes], threading.Event]]:
        """A running tool in its own process group, killed (the whole group) when the deadline passes."""
        command = self._command(tool, args)
        try:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                    bufsize=PIPE_BUFFER)
        except OSError as exc:  # not permitted, vanished between the check and the start
            raise unavailable() from exc
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout or self.timeout, kill)
        timer.daemon = True
        timer.start()
        try:
            if stdin is not None and proc.stdin is not None:
                try:
                    proc.stdin.write(stdin)
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
            yield proc, expired
        finally:
            timer.cancel()
            if proc.poll() is None:  # left early (an error, a truncated read, a consumer that stopped)
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()

    def _failed(self, tool: str, code: int, stderr: bytes, expired: bool) -> Unavailable:
        if expired:
            return Unavailable(_l("Postfix's %(tool)s did not answer within %(seconds)s s.", tool=tool,
                                  seconds=f"{self.timeout:g}"))
        text = stderr.decode(errors="replace").strip()
        lowered = text.lower()
        refused = ("permission denied", "not owner", "must be run as", "superuser")  # not root, or not allowed
        missing = "no such file or directory" in lowered and "queue" not in lowered  # no main.cf, no daemon
        if code in (126, 127) or missing or any(word in lowered for word in refused):
            return unavailable()
        return Unavailable(_l("Postfix's %(tool)s failed (exit %(code)s): %(why)s", tool=tool, code=str(code),
                              why=text[-500:] or "-"))

    def run(self, tool: str, args: list[str], stdin: bytes | None = None, limit: int = MAX_MESSAGE_BYTES
            ) -> tuple[int, bytes, bytes, bool]:
        """Run a tool to its end: (exit code, stdout up to `limit` bytes, stderr, stdout truncated)."""
        with self._process(tool, args, stdin) as (proc, expired):
            assert proc.stdout is not None and proc.stderr is not None
            err: list[bytes] = []
            reader = threading.Thread(target=lambda: err.append(proc.stderr.read(64 * 1024)), daemon=True)
            reader.start()
            out = proc.stdout.read(limit + 1)
            truncated = len(out) > limit
            if truncated:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.wait()
            reader.join()
            code = proc.wait()
            if expired.is_set():
                raise self._failed(tool, code, b"", True)
        return code, out[:limit], b"".join(err), truncated

    def _checked(self, tool: str, args: list[str], stdin: bytes | None = None) -> str:
        code, out, err, _ = self.run(tool, args, stdin)
        if code != 0:
            raise self._failed(tool, code, err, False)
        return (out + err).decode(errors="replace")

    # -- reading the queue --------------------------------------------------------------------------------
    def stream(self) -> Iterator[QueuedMessage]:
        """Every queued message, as `postqueue -j` prints them (parsed line by line, not read whole)."""
        for entry in self.entries():
            message = message_of(entry)
            if message is not None:
                yield message

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every queued message as `postqueue -j`'s JSON entry (`parse_entry`): a reader that needs a few fields
        of every message and all of only some (a page) makes QueuedMessages of those alone."""
        with self._process("postqueue", ["-j"]) as (proc, expired):
            assert proc.stdout is not None and proc.stderr is not None
            pending = b""
            while chunk := proc.stdout.read1(PIPE_BUFFER):  # what the pipe holds, one read: lines split here
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    entry = parse_entry(line)
                    if entry is not None:
                        yield entry
            if pending and (entry := parse_entry(pending)) is not None:
                yield entry
            code = proc.wait()
            if code != 0 or expired.is_set():
                raise self._failed("postqueue", code, proc.stderr.read(64 * 1024), expired.is_set())

    def messages(self, keep: Callable[[QueuedMessage], bool] | None = None) -> list[QueuedMessage]:
        return [m for m in self.stream() if keep is None or keep(m)]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(QUEUES, 0)
        for message in self.stream():
            counts[message.queue_name] = counts.get(message.queue_name, 0) + 1
        return {**counts, "total": sum(counts.values())}

    def find(self, queue_id: str) -> QueuedMessage | None:
        check_ids([queue_id])
        for message in self.stream():
            if message.queue_id == queue_id:
                return message
        return None

    def get(self, queue_id: str) -> QueuedMessage:
        found = self.find(queue_id)
        if found is None:
            raise NotFound(_l("No message with this queue id is in the mail queue."))
        return found

    def content(self, queue_id: str) -> MessageContent:
        """One message's headers and body (`postcat -q -h` / `-b`), each at most MAX_MESSAGE_BYTES."""
        self.get(queue_id)
        parts: list[str] = []
        truncated = False
        for flag in ("-h", "-b"):
            code, out, err, cut = self.run("postcat", ["-q", flag, queue_id])
            if code != 0 and not cut:
                if b"no such file" in err.lower():  # gone between the look-up and the read
                    raise NotFound(_l("No message with this queue id is in the mail queue."))
                raise self._failed("postcat", code, err, False)
            truncated = truncated or cut
            parts.append(out.decode(errors="replace"))
        return MessageContent(headers=parts[0], body=parts[1], truncated=truncated)

    # -- acting on messages -------------------------------------------------------------------------------
    def _postsuper(self, flag: str, queue_ids: list[str]) -> str:
        ids = check_ids(queue_ids)
        if not ids:
            return ""
        return self._checked("postsuper", [flag, "-"], stdin="".join(f"{i}\n" for i in ids).encode())

    def _present(self, queue_ids: list[str]) -> set[str]:
        wanted = set(check_ids(queue_ids))
        return {m.queue_id for m in self.stream() if m.queue_id in wanted}

    def _existing(self, queue_ids: list[str]) -> list[str]:
        """The ids still queued, in order; a single id no longer queued is a 404."""
        present = self._present(queue_ids)
        if len(queue_ids) == 1 and not present:
            raise NotFound(_l("No message with this queue id is in the mail queue."))
        return [i for i in queue_ids if i in present]

    def delete(self, queue_ids: list[str]) -> list[str]:
        """Delete messages (`postsuper -d -`); the ids that were queued."""
        ids = self._existing(queue_ids)
        self._postsuper("-d", ids)
        return ids

    def hold(self, queue_ids: list[str]) -> list[str]:
        ids = self._existing(queue_ids)
        self._postsuper("-h", ids)
        return ids

    def release(self, queue_ids: list[str]) -> list[str]:
        ids = self._existing(queue_ids)
        self._postsuper("-H", ids)
        return ids

    def resend(self, queue_ids: list[str], wait: float = RESEND_WAIT) -> dict[str, str | None]:
        """Re-queue messages (`postsuper -r -`, then a flush): old id -> the new id Postfix gave it (None if it
        did not show within `wait` seconds). Matched by sender and recipients among ids not queued before."""
        before = {m.queue_id: m for m in self.stream()}
        wanted = check_ids(queue_ids)
        ids = [i for i in wanted if i in before]
        if len(wanted) == 1 and not ids:
            raise NotFound(_l("No message with this queue id is in the mail queue."))
        self._postsuper("-r", ids)
        self.flush()
        keys = {i: (before[i].sender, tuple(sorted(r.address for r in before[i].recipients))) for i in ids}
        found: dict[str, str | None] = dict.fromkeys(ids)
        taken: set[str] = set()
        stop = time.monotonic() + wait
        pause = threading.Event()
        while True:
            for message in self.stream():
                if message.queue_id in before or message.queue_id in taken or message.queue_name == "maildrop":
                    continue
                key = (message.sender, tuple(sorted(r.address for r in message.recipients)))
                for old, old_key in keys.items():
                    if found[old] is None and old_key == key:
                        found[old] = message.queue_id
                        taken.add(message.queue_id)
                        break
            if all(found.values()) or time.monotonic() >= stop:
                return found
            pause.wait(0.1)

    def delete_queue(self, queue: str | None) -> str:
        """Delete every message of one queue (`postsuper -d ALL queue`), or of all queues (None)."""
        if queue is not None and queue not in QUEUES:
            raise ValueError(queue)
        return self._checked("postsuper", ["-d", "ALL", *([queue] if queue else [])])

    def flush(self) -> None:
        """Try to deliver every deferred message now (`postqueue -f`)."""
        self._checked("postqueue", ["-f"])
