"""The audit trail: who (the administrator's login) did what (the request's method, route and view, with
its fields, secrets left out), on what (the objects named in the URL, resolved to their names) and from
where (the client's address).

What goes in it:
- every write of an administrator that succeeded (POST / PUT / PATCH / DELETE answered below 400, and
  no refusal flashed), in the pages and the API, sysadmins included, with or without "view as": written
  by the unit of work (`portal/unit_of_work.py`) in the request's own transaction, just before its
  commit, so a write and its record are saved together or not at all;
- every read of another person's mail: opening a message (its body, or its raw source), an attachment
  or all of them, by an administrator (token, page, or viewing the portal as the user); services call
  `mail_read`, the unit of work writes it;
- the start and end of "view as" (`start`, `end`), which stand for the request that made them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select

from .. import ids
from ..errors import Forbidden, NotFound
from ..extensions import db
from ..models import (
    Admin,
    AuditEvent,
    Customer,
    Domain,
    DomainAlias,
    EmailAlias,
    MailUser,
    OutgoingProvider,
    Platform,
    Policy,
)
from ..permissions import ObjectType, Permission
from ..words import _l
from .listing import ListSpec
from .principal import Principal, principal_for_admin

START, END, MAIL_READ = "IMPERSONATE_START", "IMPERSONATE_END", "MAIL_READ"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

LIST_SPEC = ListSpec(
    sorts={"at": AuditEvent.at, "actor": AuditEvent.actor, "target": AuditEvent.target,
           "action": AuditEvent.action},
    filters={"target": (AuditEvent.target,)},  # the actor: `list_query(actor=...)`, an exact login (indexed)
    default_sort="-at",
    tiebreak=AuditEvent.id,
)

# keys whose values stay out of the trail (passwords, tokens, TOTP codes, mail bodies, signatures, files)
SECRET = re.compile(r"pass|secret|token|totp|code|csrf|key|sign|body|content|data|file", re.IGNORECASE)
NOTED = "audit_noted"  # db.session.info: the mail reads of this request, and whether an event stands for it


@dataclass(frozen=True)
class Request:
    """What the unit of work knows about the request: plain values, no Flask objects."""

    method: str
    route: str  # the URL rule, e.g. /api/domains/<domainId>/admins
    action: str  # the view's name
    client: str
    target: str = ""  # the objects named in the URL, resolved (`describe`)
    user_id: int | None = None  # the mailbox user named in the URL, if any
    detail: str = ""


def _clean(text: str, size: int) -> str:
    """Storable whatever the request held: no NUL (PostgreSQL refuses it), no lone surrogate."""
    return text[:size].replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")[:size]


def _add(actor: Admin, action: str, user_id: int | None, target: str, detail: str, *, method: str = "",
         route: str = "", client: str = "") -> None:
    db.session.add(AuditEvent(actor=actor.login, action=_clean(action, 64), user_id=user_id,
                              target=_clean(target, 320), detail=_clean(detail, 2000), method=method[:8],
                              route=_clean(route, 255), client=client[:64]))


def record(actor: Admin, action: str, user: MailUser | None, target: str, detail: str = "") -> None:
    """An event that stands for the request that made it (the unit of work adds no other for it)."""
    _add(actor, action, user.id if user else None, target, detail)
    _notes()["recorded"] = True


def row_apart(actor: Admin, action: str, target: str, detail: str = "") -> dict[str, Any]:
    """An event's columns, cleaned, for a write apart from the request (`unit_of_work.apart`): an action whose
    effect outside the database stays whatever the request answers (a filter service's start/stop command).
    The request counts as recorded: the unit of work adds no other event for it."""
    _notes()["recorded"] = True
    return {"actor": actor.login, "action": _clean(action, 64), "user_id": None, "target": _clean(target, 320),
            "detail": _clean(detail, 2000)}


def _notes() -> dict[str, Any]:
    return db.session.info.setdefault(NOTED, {"reads": [], "recorded": False})


def take_notes() -> dict[str, Any]:
    """What services noted during this request (and forget it)."""
    return db.session.info.pop(NOTED, None) or {"reads": [], "recorded": False}


def mail_read(user: MailUser, folder: str, message_id: str, what: str) -> None:
    """Note that a user's mail was read (`what`: message, source, attachment N, attachments); the unit
    of work records it when an administrator read it."""
    _notes()["reads"].append((user.id, user.email, f"{what}: folder={folder} id={message_id}"))


def record_request(actor: Admin, request: Request, reads: Iterable[tuple[int, str, str]], *,
                   impersonated: MailUser | None = None, write: bool) -> None:
    """The events of one successful request of an administrator: its mail reads, and the write itself."""
    where = {"method": request.method, "route": request.route, "client": request.client}
    for user_id, email, detail in reads:
        _add(actor, MAIL_READ, user_id, email, detail, **where)
    if not write:
        return
    if impersonated is not None:  # in the user's portal: about the user, the URL's objects in the detail
        detail = "; ".join(part for part in (request.target, request.detail) if part)
        _add(actor, request.action, impersonated.id, impersonated.email, detail, **where)
    else:  # a user the request deleted keeps its address in `target`, not a key that no longer exists
        user_id = request.user_id if request.user_id and db.session.get(MailUser, request.user_id) else None
        _add(actor, request.action, user_id, request.target, request.detail, **where)


# --- describing a request -----------------------------------------------------------------------------

_NAMED: dict[str, tuple[str, Any, Any]] = {  # URL variable -> (label, model, readable column)
    "domainId": ("domain", Domain, Domain.name), "domain_id": ("domain", Domain, Domain.name),
    "userId": ("user", MailUser, MailUser.email), "user_id": ("user", MailUser, MailUser.email),
    "userIdOrEmail": ("user", MailUser, MailUser.email),
    "adminId": ("admin", Admin, Admin.login), "admin_id": ("admin", Admin, Admin.login),
    "customer_id": ("customer", Customer, Customer.name),
    "policyId": ("policy", Policy, Policy.name), "policy_id": ("policy", Policy, Policy.name),
    "groupId": ("email alias", EmailAlias, EmailAlias.email),
    "aliasId": ("domain alias", DomainAlias, DomainAlias.name), "alias_id": ("domain alias", DomainAlias,
                                                                            DomainAlias.name),
    "platform_id": ("platform", Platform, Platform.name),
    "provider_id": ("provider", OutgoingProvider, OutgoingProvider.name),
}
_USERS = ("userId", "user_id", "userIdOrEmail")
MAX_KEY = 2**31 - 1  # a larger id names nothing (and is out of range for PostgreSQL's integer)


def describe(view_args: Mapping[str, Any]) -> tuple[str, int | None]:
    """The objects a URL names, readable ("domain a.example, user bob@a.example"), and the mailbox user's
    key if it names one. Looked up by key, before the view runs (a deleted object keeps its name)."""
    parts: list[str] = []
    user_id: int | None = None
    for name, value in view_args.items():
        text = str(value)[:200]
        if name not in _NAMED:
            parts.append(f"{name}={text}")
            continue
        label, model, column = _NAMED[name]
        readable: str | None = None
        if any(ord(c) < 32 for c in text):  # hostile input: nothing to look up (the view refuses it)
            pass
        elif model is MailUser and "@" in text:
            row = db.session.execute(select(MailUser.id, MailUser.email).where(MailUser.email == text.lower())).first()
            if row is not None:
                user_id, readable = row
        else:
            try:
                pk = ids.in_body(text)
            except ValueError:  # sqids refuses to re-encode a number past sys.maxsize
                pk = -1
            found = 0 <= pk <= MAX_KEY
            readable = db.session.scalar(select(column).where(model.id == pk)) if found else None
            if readable is not None and name in _USERS:
                user_id = pk
        parts.append(f"{label} {readable}" if readable is not None else f"{label} {text} (unknown)")
    return ", ".join(parts), user_id


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "…" if SECRET.search(str(k)) else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def fields(form: Mapping[str, list[str]], files: Iterable[str], body: Any) -> str:
    """The request's fields, short, secrets left out: a form's (`name=value`, lists joined by commas),
    uploaded file names, or a JSON body's."""
    parts = [f"{k}={','.join(v)[:200]}" for k, v in form.items() if not SECRET.search(k)]
    parts += [f"file={name[:100]}" for name in files]
    if isinstance(body, dict):
        parts += [f"{k}={json.dumps(v, ensure_ascii=False)[:200]}" for k, v in _redact(body).items()]
    elif body is not None:
        parts.append(json.dumps(_redact(body), ensure_ascii=False)[:500])
    return ", ".join(parts)


# --- view as ------------------------------------------------------------------------------------------

def may_impersonate(admin: Admin, user: MailUser) -> bool:
    return principal_for_admin(admin).holds_on(Permission.IMPERSONATE, ObjectType.DOMAIN, user.domain_id)


def start(principal: Principal, user_pk: int) -> MailUser:
    """Open a user's portal as that user (IMPERSONATE on the user's domain); recorded."""
    user = db.session.get(MailUser, user_pk)
    if user is None:
        raise NotFound(_l("The user does not exist."))
    principal.reach(user.domain_id, Permission.IMPERSONATE, seen_with=Permission.USER_READ,
                    missing=_l("The user does not exist."),
                    refused=_l("Opening a user's portal needs IMPERSONATE on the user's domain."))
    if not user.enabled:
        raise Forbidden(_l("This user is disabled."))
    record(principal.admin, START, user, user.email)
    return user


def end(admin: Admin, user: MailUser) -> None:
    record(admin, END, user, user.email)


# --- reading the trail --------------------------------------------------------------------------------

def list_query(principal: Principal, actor: str | None = None) -> Select[tuple[AuditEvent]]:
    """The events about users the principal may see (all of them for a sysadmin), and their own;
    `actor`: one administrator's (its login, exactly)."""
    stmt = select(AuditEvent)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor.strip().lower())
    if principal.is_sysadmin:
        return stmt
    assert principal.admin is not None
    domains = select(Domain.id).where(principal.scope(Permission.USER_READ).domain_clause())
    return stmt.where(or_(AuditEvent.actor == principal.admin.login,
                          AuditEvent.user_id.in_(select(MailUser.id).where(MailUser.domain_id.in_(domains)))))
