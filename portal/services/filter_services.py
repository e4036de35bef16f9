"""The gateway's filter services (issue 17, seed 004's clamav / spamassassin commands): status, self-test, on/off.

- `status(principal, name)`: is it running (PING over its socket: POSTERN_CLAMD, POSTERN_SPAMD), its version, and
  a live self-test (EICAR through clamd INSTREAM, GTUBE through spamd SYMBOLS); the whole status within
  POSTERN_FILTER_STATUS_TIMEOUT. A service that is down, unreachable or not configured is `running: False`
  with the reason as the self-test's detail, never an error. Sysadmins, or QUEUE_MANAGE (a broker's operator).
- `set_enabled(principal, name, enabled)`: runs the configured command line (POSTERN_CLAMAV_START / _STOP,
  POSTERN_SPAMASSASSIN_START / _STOP), split like a shell would but run without one, within
  POSTERN_FILTER_COMMAND_TIMEOUT, its output kept to OUTPUT_LIMIT characters. Sysadmins only. No command
  configured: `Conflict` (409, the installation decides how its services are run; nothing ran). A command that
  fails (exit code not 0, not found, too slow): `BadGateway` (502) with its exit code and output; nothing else
  changes.

Both are in the audit trail: a status read with the request (`audit.record`); a switch whose command ran or was
tried is committed apart (`unit_of_work.apart`), so a failing command is recorded although its request rolls
back. A refused switch (no permission, no command configured, a bad body) ran nothing and records nothing.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import insert

from ..errors import BadGateway, Conflict, Forbidden, NotFound, Unavailable
from ..integrations import clamd, spamd
from ..models import Admin, AuditEvent
from ..unit_of_work import apart
from ..words import Text, _l
from . import audit
from .principal import Principal

OUTPUT_LIMIT = 4000  # characters of a command's output kept (and shown)
READ_LIMIT = 64 * 1024  # bytes read from a command's output; the rest is drained and dropped


@dataclass(frozen=True)
class Service:
    name: str
    label: Text
    address_key: str  # the config key of its socket
    setting: str  # the environment variable, for messages
    command_prefix: str  # CLAMAV -> CLAMAV_START / CLAMAV_STOP


SERVICES: dict[str, Service] = {
    "clamav": Service("clamav", _l("ClamAV antivirus"), "CLAMD", "POSTERN_CLAMD", "CLAMAV"),
    "spamassassin": Service("spamassassin", _l("SpamAssassin spam filter"), "SPAMD", "POSTERN_SPAMD",
                            "SPAMASSASSIN"),
}


def _service(name: str) -> Service:
    service = SERVICES.get(name)
    if service is None:
        raise NotFound(_l("There is no filter service named %(name)s (clamav or spamassassin).", name=name[:64]))
    return service


def may_read(principal: Principal) -> bool:
    """Sysadmins or an operator holding QUEUE_MANAGE (`Principal.operates_gateway`)."""
    return principal.operates_gateway


def _require_reader(principal: Principal) -> None:
    principal.require_admin()
    if not may_read(principal):
        raise Forbidden(_l("Seeing the filter services needs the QUEUE_MANAGE permission."))


def names() -> list[str]:
    return list(SERVICES)


def label(name: str) -> Text:
    return _service(name).label


def status(principal: Principal, name: str, *, self_test: bool = True) -> dict[str, Any]:
    """`{name, running, version, selfTest: {ok, detail}}` (`detail` a message: `english()` it for the API);
    `selfTest` is None when not asked for (the page's first view: the test runs on its button)."""
    _require_reader(principal)
    service = _service(name)
    result = probe(service, self_test=self_test)
    audit.record(principal.require_admin(), "SERVICE_STATUS", None, service.name,
                 f"running={result['running']} selfTest="
                 f"{'-' if result['selfTest'] is None else result['selfTest']['ok']}")
    return result


def probe(service: Service, *, self_test: bool = True) -> dict[str, Any]:
    """What the service's socket answers (no access check, no audit)."""
    address = current_app.config.get(service.address_key)
    out: dict[str, Any] = {"name": service.name, "running": False, "version": None, "selfTest": None}
    if not address:
        out["selfTest"] = {"ok": False, "detail": _l("%(setting)s is not set: the service is not watched.",
                                                     setting=service.setting)}
        return out
    budget = float(current_app.config["FILTER_STATUS_TIMEOUT"])
    ends = time.monotonic() + budget

    def left() -> float:
        return max(ends - time.monotonic(), 0.001)

    try:
        if service.name == "clamav":
            out["running"] = clamd.ping(address, timeout=left())
            out["version"] = clamd.version(address, timeout=left()) if out["running"] else None
        else:
            out["version"] = spamd.ping(address, timeout=left())
            out["running"] = True
    except Unavailable as error:
        out["running"] = False
        out["selfTest"] = {"ok": False, "detail": error.detail}
        return out
    if not out["running"]:
        out["selfTest"] = {"ok": False, "detail": _l("The service did not answer PONG.")}
        return out
    if self_test:
        out["selfTest"] = _self_test(service, address, left())
    return out


def _self_test(service: Service, address: str, timeout: float) -> dict[str, Any]:
    try:
        if service.name == "clamav":
            found = clamd.scan(address, clamd.EICAR, timeout=timeout)
            if found:
                return {"ok": True, "detail": f"EICAR: {found} FOUND"}
            return {"ok": False, "detail": _l("The EICAR test file was not found: is the signature database loaded?")}
        verdict = spamd.check(address, spamd.gtube_message(), timeout=timeout)
        detail = f"GTUBE: spam={verdict.spam} score={verdict.score:g}/{verdict.threshold:g}"
        if verdict.spam and "GTUBE" in verdict.symbols:
            return {"ok": True, "detail": detail}
        return {"ok": False, "detail": detail}
    except Unavailable as error:
        return {"ok": False, "detail": error.detail}


def command_line(name: str, enabled: bool) -> str | None:
    """The configured command line that starts (enabled) or stops a service, if any."""
    service = _service(name)
    return current_app.config.get(f"{service.command_prefix}_{'START' if enabled else 'STOP'}") or None


def set_enabled(principal: Principal, name: str, enabled: bool) -> dict[str, Any]:
    """Run the service's start or stop command: `{name, enabled, exitCode, output}`."""
    admin = principal.require_sysadmin()
    service = _service(name)
    setting = f"POSTERN_{service.command_prefix}_{'START' if enabled else 'STOP'}"
    line = command_line(name, enabled)
    if line is None:
        raise Conflict.on("enabled", _l("No command line is configured to do this (%(setting)s): nothing was run.",
                                        setting=setting))
    try:
        args = shlex.split(line)
    except ValueError as exc:
        raise Conflict.on("enabled", _l("The command line in %(setting)s cannot be read (%(why)s): nothing was run.",
                                        setting=setting, why=str(exc))) from exc
    if not args:
        raise Conflict.on("enabled", _l("No command line is configured to do this (%(setting)s): nothing was run.",
                                        setting=setting))
    timeout = float(current_app.config["FILTER_COMMAND_TIMEOUT"])
    action = "SERVICE_START" if enabled else "SERVICE_STOP"
    try:
        code, output = run(args, timeout)
    except OSError as exc:  # not found, not executable
        _record(admin, action, service, f"{line[:500]} -> not run: {exc.strerror or exc}")
        raise BadGateway(_l("The command %(command)s could not be run: %(why)s", command=args[0],
                            why=exc.strerror or str(exc))) from exc
    except subprocess.TimeoutExpired as exc:
        _record(admin, action, service, f"{line[:500]} -> killed after {timeout:g} s")
        raise BadGateway(_l("The command %(command)s did not finish within %(seconds)s s and was stopped.",
                            command=args[0], seconds=f"{timeout:g}")) from exc
    _record(admin, action, service, f"{line[:500]} -> exit {code}: {output[:1000]}")
    if code != 0:
        raise BadGateway(_l("The command %(command)s failed with exit code %(code)s: %(output)s", command=args[0],
                            code=str(code), output=output or "-"))
    return {"name": service.name, "enabled": enabled, "exitCode": code, "output": output}


def _record(admin: Admin, action: str, service: Service, detail: str) -> None:
    """A command ran (or was tried) on the host: its audit event is committed apart, so a failure that rolls the
    request back keeps it too."""
    with apart() as conn:
        conn.execute(insert(AuditEvent).values(**audit.row_apart(admin, action, service.name, detail)))


def run(args: list[str], timeout: float) -> tuple[int, str]:
    """Run `args` (no shell, no stdin, its own session) within `timeout` seconds: (exit code, output).

    stdout and stderr are read together by a thread that keeps READ_LIMIT bytes and drains the rest; a command
    that leaves a daemon holding the output open is not waited for beyond its own exit (plus a moment)."""
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, close_fds=True)
    kept = bytearray()
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        try:
            while chunk := proc.stdout.read1(4096):
                if len(kept) < READ_LIMIT:
                    kept.extend(chunk[: READ_LIMIT - len(kept)])
        except (OSError, ValueError):
            pass
        finally:
            done.set()

    reader = threading.Thread(target=read, name="postern-command-output", daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        proc.wait()
        raise
    done.wait(min(1.0, timeout))  # what it printed before it ended
    text = bytes(kept).decode(errors="replace").strip()
    if len(text) > OUTPUT_LIMIT:
        text = text[:OUTPUT_LIMIT] + " …"
    return code, text
