"""A pydantic ValidationError as the service's `Invalid` (400), each field named by its wire path.

Shared by the API, the pages and the CLI: whoever validates a schema answers its errors the same way.
`message_for` is the one mapping from (field, error type, context) to words for people: the field's label,
the limit or the value where it helps, translated when a page shows it (English for the API and the CLI)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..errors import FieldError, Invalid
from ..words import Text, _l, english, ngettext

# The labels of the wire fields, written to start a sentence.
LABELS: dict[str, Text] = {
    "action": _l("The action"),
    "authType": _l("The authentication type"),
    "bcc": _l("Bcc"),
    "body": _l("The message"),
    "cc": _l("Cc"),
    "checkType": _l("The check"),
    "customerId": _l("The customer"),
    "defaultLanguage": _l("The default language"),
    "description": _l("The description"),
    "displayName": _l("The display name"),
    "domainId": _l("The domain"),
    "duration": _l("The duration"),
    "email": _l("The email address"),
    "enabled": _l("Enabled"),
    "expiration": _l("The expiry date"),
    "externalId": _l("The external id"),
    "fallbackTransportDest": _l("The fallback relay"),
    "fallbackTransportPort": _l("The fallback relay's port"),
    "filter": _l("The filter"),
    "language": _l("The language"),
    "login": _l("The login"),
    "mailSizeLimit": _l("The mail size limit"),
    "name": _l("The name"),
    "objectId": _l("The broker, customer or domain"),
    "objectType": _l("The kind of object"),
    "outgoingSubnets": _l("The outgoing subnets"),
    "owner": _l("The owner"),
    "password": _l("The password"),
    "permissions": _l("The permissions"),
    "policyId": _l("The policy"),
    "prefixSpam": _l("The spam prefix"),
    "advertPrefix": _l("The advert prefix"),
    "priority": _l("The priority"),
    "recipients": _l("The recipients"),
    "sign": _l("The signature"),
    "spamScore": _l("The spam score"),
    "spamScoreLimit": _l("The spam score limit"),
    "status": _l("The status"),
    "subject": _l("The subject"),
    "to": _l("To"),
    "transportDest": _l("The relay"),
    "transportPort": _l("The relay's port"),
    "type": _l("The type"),
    "value": _l("The value"),
    # mail servers (issue 12)
    "auth": _l("The authentication"),
    "certificate": _l("The server certificate"),
    "certificatePem": _l("The certificate"),
    "clientId": _l("The client ID"),
    "clientSecret": _l("The client secret"),
    "host": _l("The host"),
    "port": _l("The port"),
    "protocol": _l("The protocol"),
    "remark": _l("The remark"),
    "scope": _l("The scope"),
    "security": _l("The connection security"),
    "senderAddress": _l("The sender address"),
    "senderName": _l("The sender name"),
    "subjectPrefix": _l("The subject prefix"),
    "tenantId": _l("The tenant ID"),
    "tokenUrl": _l("The token URL"),
    "username": _l("The user name"),
}


def field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def label(loc: tuple[int | str, ...]) -> Text:
    """The field's name for people: its label, else its wire name."""
    name = next((p for p in reversed(loc) if isinstance(p, str)), "")
    return LABELS.get(name) or _l("The field “%(name)s”", name=field_path(loc))


def required(field: str) -> Text:
    """"The name is required.": a field left empty, named for people."""
    return _l("%(field)s is required.", field=label(tuple(field.split("."))))


def _choices(expected: str) -> str:
    return expected.replace("'", "").replace(" or ", ", ")


def message_for(loc: tuple[int | str, ...], kind: str, ctx: dict[str, Any], value: Any) -> Text:
    """Plain words for one pydantic error: the field named, the limit or the value given where it helps."""
    field = label(loc)
    shown = value if isinstance(value, str | int | float) and not isinstance(value, bool) else ""
    if kind == "missing" or (kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1):
        return _l("%(field)s is required.", field=field)
    if kind == "string_too_short":
        return ngettext("%(field)s must be at least %(num)d character long.",
                        "%(field)s must be at least %(num)d characters long.", ctx["min_length"], field=field)
    if kind == "string_too_long":
        return ngettext("%(field)s must be at most %(num)d character long.",
                        "%(field)s must be at most %(num)d characters long.", ctx["max_length"], field=field)
    if kind == "too_short":
        return ngettext("%(field)s needs at least %(num)d entry.", "%(field)s needs at least %(num)d entries.",
                        ctx["min_length"], field=field)
    if kind == "too_long":
        return ngettext("%(field)s takes at most %(num)d entry.", "%(field)s takes at most %(num)d entries.",
                        ctx["max_length"], field=field)
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern") == r"^[^\s]+$":
            return _l("%(field)s must not contain spaces.", field=field)
        return _l("%(field)s contains characters that are not allowed.", field=field)
    if kind == "value_error":
        if "control characters" in str(ctx.get("error", "")):
            return _l("%(field)s must not contain control characters (such as line breaks).", field=field)
        if "reason" in ctx:  # EmailStr's refusal (a ValueError of ours carries `error` instead)
            if not shown:
                return _l("%(field)s is required.", field=field)
            return _l("“%(value)s” is not a valid email address.", value=shown)
        return _l("%(field)s is not valid.", field=field)
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _l("%(field)s must be a whole number.", field=field)
    if kind in ("float_parsing", "float_type"):
        return _l("%(field)s must be a number.", field=field)
    if kind in ("greater_than_equal", "greater_than"):
        return _l("%(field)s must be at least %(limit)s.", field=field, limit=ctx.get("ge", ctx.get("gt")))
    if kind in ("less_than_equal", "less_than"):
        return _l("%(field)s must be at most %(limit)s.", field=field, limit=ctx.get("le", ctx.get("lt")))
    if kind in ("enum", "literal_error") and "expected" in ctx:
        return _l("%(field)s must be one of: %(choices)s.", field=field, choices=_choices(ctx["expected"]))
    if kind in ("bool_parsing", "bool_type"):
        return _l("%(field)s must be yes or no.", field=field)
    if kind == "extra_forbidden":
        return _l("%(field)s is not a known field.", field=field)
    if kind in ("string_type", "string_unicode"):
        return _l("%(field)s must be text.", field=field)
    if kind == "list_type":
        return _l("%(field)s must be a list.", field=field)
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return _l("%(field)s must be an object.", field=field)
    return _l("%(field)s is not valid.", field=field)


def invalid_from_pydantic(error: ValidationError) -> Invalid:
    errors = []
    for item in error.errors(include_url=False):
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        errors.append(FieldError(field_path(loc),
                                 message_for(loc, item["type"], item.get("ctx") or {}, item.get("input"))))
    return Invalid("The request is not valid: " + "; ".join(f"{e.field}: {english(e.message)}" for e in errors),
                   errors)
