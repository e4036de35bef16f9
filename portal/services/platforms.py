"""Platforms (SMTP relays) of a domain: validation, secrets encrypted at rest and masked on output."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from .. import ids
from ..crypto import decrypt, encrypt
from ..errors import FieldError, Invalid
from ..extensions import db
from ..models import Domain, MailUser, Platform
from ..schemas.domains import PlatformIn
from ..words import _l
from . import names

MASK = "********"
SECRET_KEYS = frozenset({"password", "bind_password", "clientSecret"})
_ENC = "enc:"

API_FIELDS: dict[str, dict[str, str]] = {
    "IMAP": {"host": "host", "port": "port", "login": "str", "password": "str", "useSsl": "bool",
             "certPem": "text"},  # certPem: a CA to trust for this server (Postern extension)
    "EXCHANGE": {"host": "host", "login": "str", "password": "str", "testAccount": "str"},
    "O365": {"clientId": "str", "tenantId": "str", "clientSecret": "str"},
}
AUTH_FIELDS: dict[str, dict[str, str]] = {
    "local": {},
    "imap": {"host": "host", "port": "port", "use_ssl": "bool", "cert_pem": "text"},
    "ldap": {"host": "host", "port": "port", "bind_user": "str", "bind_password": "str", "use_ssl": "bool",
             "base_dn": "str", "mail_attribute": "str", "cert_pem": "text", "username_format": "str"},
    "oidc": {"issuerUri": "str", "clientId": "str", "clientSecret": "str", "nameAttr": "str", "scope": "str"},
    "entra": {"tenantId": "str"},
}


def _settings(data: Any, spec: dict[str, str], field: str, previous: dict[str, Any] | None) -> dict[str, Any] | None:
    if data in (None, ""):
        return None
    if not isinstance(data, dict):
        raise Invalid.on(field, "Must be an object.")
    if not spec:
        raise Invalid.on(field, _l("This type takes no settings."))
    clean: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{field}.{key}"
        kind = spec.get(key)
        if kind is None:
            raise Invalid.on(where, _l("Unknown field."))
        if value is None:
            continue
        if kind == "bool":
            if not isinstance(value, bool):
                raise Invalid.on(where, _l("Must be true or false."))
        elif kind == "port":
            if not isinstance(value, int) or isinstance(value, bool):
                raise Invalid.on(where, _l("Must be a whole number."))
            names.port(value, where)
        else:
            if not isinstance(value, str) or len(value) > (8000 if kind == "text" else 255):
                raise Invalid.on(where, _l("Must be a string of reasonable length."))
            if kind != "text" and any(ord(c) < 32 for c in value):
                raise Invalid.on(where, _l("Must not contain control characters."))
            if kind == "host":
                value = names.host(value, where)
            if key in SECRET_KEYS:
                if value == MASK:
                    if not previous or key not in previous:
                        raise Invalid.on(where, _l("Give the secret (no stored one to keep)."))
                    value = previous[key]
                else:
                    value = _ENC + encrypt(value)
        clean[key] = value
    return clean


def masked(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {k: (MASK if k in SECRET_KEYS and v else v) for k, v in data.items()}


def secret(data: dict[str, Any] | None, key: str) -> str | None:
    """A decrypted secret of a platform's settings (for the integrations that log in)."""
    value = (data or {}).get(key)
    return decrypt(value[len(_ENC):]) if isinstance(value, str) and value.startswith(_ENC) else value


def _fill(platform: Platform, item: PlatformIn, where: str) -> None:
    platform.name = item.name
    platform.transport_dest = names.host(item.transport_dest, f"{where}.transportDest")
    platform.transport_type = item.transport_type.value
    platform.transport_port = names.port(item.transport_port, f"{where}.transportPort")
    if item.fallback_transport_dest:
        platform.fallback_transport_dest = names.host(item.fallback_transport_dest, f"{where}.fallbackTransportDest")
        platform.fallback_transport_type = (item.fallback_transport_type or item.transport_type).value
        platform.fallback_transport_port = names.port(item.fallback_transport_port or 25,
                                                      f"{where}.fallbackTransportPort")
    else:
        platform.fallback_transport_dest = platform.fallback_transport_type = platform.fallback_transport_port = None
    platform.api_type = item.api_type.value if item.api_type else None
    if item.api_type is None and item.api_data:
        raise Invalid.on(f"{where}.apiData", "Give apiType with apiData.")
    platform.api_data = _settings(item.api_data, API_FIELDS.get(platform.api_type or "", {}),
                                  f"{where}.apiData", platform.api_data) if item.api_type else None
    platform.auth_type = item.auth_type.value
    platform.auth_data = _settings(item.auth_data, AUTH_FIELDS[platform.auth_type], f"{where}.authData",
                                   platform.auth_data)
    platform.is_default = item.default


def replace_all(domain: Domain, items: list[PlatformIn], field: str = "platforms") -> None:
    """Make the domain's platforms the given list: items with an id update that platform, others are new,
    missing ones are removed (refused while users use them). Exactly one ends up default."""
    existing = {p.id: p for p in domain.platforms}
    keep: list[Platform] = []
    for i, item in enumerate(items):
        where = f"{field}[{i}]"
        platform = None
        if item.id:
            platform = existing.get(ids.in_body(item.id))
            if platform is None:
                raise Invalid.on(f"{where}.id", _l("No platform of this domain has this id."))
        else:
            platform = Platform()
        _fill(platform, item, where)
        keep.append(platform)
    removed = [p for pk, p in existing.items() if p not in keep]
    if removed:
        with db.session.no_autoflush:
            in_use = db.session.scalar(select(func.count(MailUser.id)).where(
                MailUser.platform_id.in_([p.id for p in removed]))) or 0
        if in_use:
            raise Invalid.on(field, _l("A platform you left out is still used by users: move them first."))
    defaults = [p for p in keep if p.is_default]
    if len(defaults) > 1:
        raise Invalid(_l("Only one platform can be the default."),
                      [FieldError(f"{field}[{keep.index(p)}].default", "Only one default platform.")
                       for p in defaults[1:]])
    if keep and not defaults:
        keep[0].is_default = True
    domain.platforms = keep


def of_domain(domain: Domain, public_id: str | None, field: str) -> Platform:
    pk = ids.in_body(public_id)
    platform = next((p for p in domain.platforms if p.id == pk), None)
    if platform is None:
        raise Invalid.on(field, _l("No platform of this domain has this id."))
    return platform

