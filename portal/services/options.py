"""Scoped option values: validation by type and inheritance PLATFORM -> CUSTOMER -> DOMAIN -> USER."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import and_, or_, select

from .. import branding
from ..errors import Forbidden, Invalid, NotFound
from ..extensions import db
from ..models import Domain, MailUser, OptionValue
from ..options import OPTIONS, OptionDef, Scope
from ..words import _l
from . import names
from .principal import Principal

Chain = list[tuple[Scope, int]]


@dataclass(frozen=True)
class Resolved:
    definition: OptionDef
    value: str | None  # set at this scope
    parent_value: str | None  # what applies without it


def domain_chain(domain: Domain) -> Chain:
    return [(Scope.PLATFORM, 0), (Scope.CUSTOMER, domain.customer_id), (Scope.DOMAIN, domain.id)]


def user_chain(user: MailUser) -> Chain:
    return [*domain_chain(user.domain), (Scope.USER, user.id)]


def _stored(chain: Chain) -> dict[tuple[Scope, str], str]:
    rows = db.session.scalars(select(OptionValue).where(or_(*(
        and_(OptionValue.scope == str(scope), OptionValue.object_id == object_id) for scope, object_id in chain
    ))))
    return {(Scope(r.scope), r.name): r.value for r in rows}


def _resolve(definition: OptionDef, chain: Chain, stored: dict[tuple[Scope, str], str]) -> str | None:
    value = definition.default
    for scope, _ in chain:
        if scope in definition.scopes and (scope, definition.name) in stored:
            value = stored[(scope, definition.name)]
    return value


def listing(chain: Chain) -> list[Resolved]:
    """The options of the chain's last scope, with their own and inherited values."""
    scope = chain[-1][0]
    stored = _stored(chain)
    return [
        Resolved(d, stored.get((scope, d.name)), _resolve(d, chain[:-1], stored))
        for d in OPTIONS.values() if scope in d.scopes
    ]


def effective(chain: Chain, name: str, stored: dict[tuple[Scope, str], str] | None = None) -> str | None:
    """The value of option `name` along `chain`; `stored`: the values of a chain it begins, read already."""
    return _resolve(OPTIONS[name], chain, _stored(chain) if stored is None else stored)


def stored_values(chain: Chain) -> dict[tuple[Scope, str], str]:
    """Every value stored along `chain`, in one statement (for several `effective` look-ups)."""
    return _stored(chain)


def validate(definition: OptionDef, value: str, field: str = "value") -> str:
    value = value.strip()
    kind = definition.type
    if any(ord(c) < 32 for c in value) and kind != "TEXT":
        raise Invalid.on(field, _l("Must not contain control characters."))
    if kind == "EMAIL":
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise Invalid.on(field, _l("“%(value)s” is not a valid email address.", value=value)) from exc
    if definition.name == "DKIM_SELECTOR":
        return names.dkim_selector(value, field)
    if definition.name == "LOGO_URL":  # shown in pages, its origin allowed for images: https only
        return branding.logo_url(value, field)
    if kind == "URL":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Invalid.on(field, _l("Give an http:// or https:// URL."))
        return value
    if kind == "HOST":
        return names.host(value, field)
    if kind == "COLOR":
        return branding.color(value, field)
    if kind == "BOOL":
        if value.lower() not in ("true", "false"):
            raise Invalid.on(field, _l("Must be true or false."))
        return value.lower()
    if kind == "LIST":
        if value not in (definition.values or ()):
            raise Invalid.on(field, _l("Must be one of: %(choices)s.", choices=", ".join(definition.values or ())))
        return value
    if kind == "TIMEZONE":
        if value not in zoneinfo.available_timezones():
            raise Invalid.on(field, _l("Not a known time zone (e.g. Europe/Paris)."))
        return value
    if kind == "TIME":
        if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value):
            raise Invalid.on(field, _l("Give a time of day as HH:MM (e.g. 08:00)."))
        return value
    limit = 4000 if kind == "TEXT" else 255
    if len(value) > limit:
        raise Invalid.on(field, _l("At most %(num)d characters.", num=limit))
    return value


# One sentence per scope, so that each language can decline the scope's name as it needs.
_NO_OPTION = {
    Scope.PLATFORM: _l("No option %(name)s at platform scope.").msgid,
    Scope.CUSTOMER: _l("No option %(name)s at customer scope.").msgid,
    Scope.DOMAIN: _l("No option %(name)s at domain scope.").msgid,
    Scope.USER: _l("No option %(name)s at user scope.").msgid,
}
_NO_OPTION_TO_SET = {
    Scope.PLATFORM: _l("No option %(name)s can be set at platform scope.").msgid,
    Scope.CUSTOMER: _l("No option %(name)s can be set at customer scope.").msgid,
    Scope.DOMAIN: _l("No option %(name)s can be set at domain scope.").msgid,
    Scope.USER: _l("No option %(name)s can be set at user scope.").msgid,
}


def _definition(name: str, scope: Scope, *, unknown_is_404: bool) -> OptionDef:
    definition = OPTIONS.get(name)
    if definition is None or scope not in definition.scopes:
        if unknown_is_404:
            raise NotFound(_l(_NO_OPTION[scope], name=repr(name)))
        raise Invalid.on("name", _l(_NO_OPTION_TO_SET[scope], name=repr(name)))
    return definition


def set_value(principal: Principal, chain: Chain, name: str, value: str) -> Resolved:
    scope, object_id = chain[-1]
    definition = _definition(name, scope, unknown_is_404=False)
    if definition.restricted and not principal.is_sysadmin:
        raise Forbidden.on("name", _l("Only a system administrator may set %(name)s.", name=name))
    clean = validate(definition, value)
    row = db.session.scalar(select(OptionValue).where(
        OptionValue.scope == str(scope), OptionValue.object_id == object_id, OptionValue.name == name))
    if row is None:
        db.session.add(OptionValue(scope=str(scope), object_id=object_id, name=name, value=clean))
    else:
        row.value = clean
    db.session.flush()
    stored = _stored(chain)
    return Resolved(definition, clean, _resolve(definition, chain[:-1], stored))


def delete_value(principal: Principal, chain: Chain, name: str) -> None:
    scope, object_id = chain[-1]
    definition = _definition(name, scope, unknown_is_404=True)
    if definition.restricted and not principal.is_sysadmin:
        raise Forbidden(_l("Only a system administrator may change %(name)s.", name=name))
    row = db.session.scalar(select(OptionValue).where(
        OptionValue.scope == str(scope), OptionValue.object_id == object_id, OptionValue.name == name))
    if row is not None:
        db.session.delete(row)
        db.session.flush()


def forget(scope: Scope, object_ids: list[int]) -> None:
    """Drop the values of deleted objects."""
    for row in db.session.scalars(select(OptionValue).where(
            OptionValue.scope == str(scope), OptionValue.object_id.in_(object_ids))):
        db.session.delete(row)
