"""The policy editor's fields, shared by its template and its form parser."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict


def _n(text: str) -> str:
    """Marks a label for translation (pybabel -k _n); the template translates it."""
    return text


# (group key or "" for top-level, title, [(field, label, kind)]); kinds: bool, int, float, text
GROUPS: list[tuple[str, str, list[tuple[str, str, str]]]] = [
    ("", _n("General"), [
        ("name", _n("Name"), "text"), ("mailSizeLimit", _n("Mail size limit (MB)"), "int"),
        ("spamScore", _n("Spam score"), "float"), ("incoming", _n("Incoming service"), "bool"),
        ("outgoing", _n("Outgoing service"), "bool"), ("quarantine", _n("Quarantine service"), "bool"),
        ("retention", _n("Retention service"), "bool"), ("archive", _n("Archive service"), "bool"),
    ]),
    ("relayProps", _n("Relay"), [
        ("relaySpam", _n("Deliver spam"), "bool"), ("relayAdvert", _n("Deliver adverts"), "bool"),
        ("prefixSpam", _n("Subject prefix of spam"), "text"), ("advertPrefix", _n("Subject prefix of adverts"), "text"),
        ("relayBadHeaders", _n("Deliver mail with bad headers"), "bool"),
        ("relayBadAttachments", _n("Deliver mail with forbidden attachments"), "bool"),
        ("spamScoreLimit", _n("Score above which spam is not delivered"), "float"),
    ]),
    ("quarantineProps", _n("Quarantine"), [
        ("duration", _n("Days kept"), "int"), ("storeSpam", _n("Spam"), "bool"), ("storeVirus", _n("Viruses"), "bool"),
        ("storeAdvert", _n("Adverts"), "bool"), ("storeBlacklisted", _n("Blocked senders"), "bool"),
        ("storeSenderVerify", _n("Failed sender verification"), "bool"), ("storeBadHeaders", _n("Bad headers"), "bool"),
        ("storeBadEncoding", _n("Bad encoding"), "bool"), ("storeBadAttachments", _n("Forbidden attachments"), "bool"),
    ]),
    ("retentionProps", _n("Retention"), [
        ("duration", _n("Days kept"), "int"), ("storeMailOut", _n("Sent mail"), "bool"),
        ("storeCleanMailIn", _n("Clean incoming mail"), "bool"),
    ]),
    ("archiveProps", _n("Archive"), [
        ("duration", _n("Months kept"), "int"), ("archiveByCopy", _n("Archive by copy (internal mail too)"), "bool"),
        ("storeMailOut", _n("Sent mail"), "bool"), ("storeCleanMailIn", _n("Clean incoming mail"), "bool"),
        ("storeSpam", _n("Spam"), "bool"), ("storeBadHeaders", _n("Bad headers"), "bool"),
        ("storeBadEncoding", _n("Bad encoding"), "bool"), ("storeBadAttachments", _n("Forbidden attachments"), "bool"),
        ("storeAdvert", _n("Adverts"), "bool"), ("storeBlacklisted", _n("Blocked senders"), "bool"),
        ("storeSenderVerify", _n("Failed sender verification"), "bool"),
    ]),
]


def key(group: str, field: str) -> str:
    return f"{group}.{field}" if group else field


def parse(form: MultiDict[str, str]) -> dict[str, Any]:
    """The posted editor as a PolicyIn body (camelCase, nested groups)."""
    body: dict[str, Any] = {}
    for group, _title, fields in GROUPS:
        target = body if not group else body.setdefault(group, {})
        for field, _label, kind in fields:
            raw = form.get(key(group, field))
            if kind == "bool":
                target[field] = raw == "on"
            elif kind == "text":
                target[field] = raw or ("" if group else None)
            else:
                target[field] = raw.strip() if raw and raw.strip() else None
        if group:
            body[group] = {k: v for k, v in target.items() if v is not None}
    return {k: v for k, v in body.items() if v is not None}


def values(policy_json: dict[str, Any]) -> dict[str, Any]:
    """A policy's wire JSON flattened to the editor's input names."""
    flat: dict[str, Any] = {}
    for group, _title, fields in GROUPS:
        source = policy_json if not group else (policy_json.get(group) or {})
        for field, _label, _kind in fields:
            flat[key(group, field)] = source.get(field)
    return flat
