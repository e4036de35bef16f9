"""The policy editor's fields, shared by its template and its form parser."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

# (group key or "" for top-level, title, [(field, label, kind)]); kinds: bool, int, float, text
GROUPS: list[tuple[str, str, list[tuple[str, str, str]]]] = [
    ("", "General", [
        ("name", "Name", "text"), ("mailSizeLimit", "Mail size limit (MB)", "int"),
        ("spamScore", "Spam score", "float"), ("incoming", "Incoming service", "bool"),
        ("outgoing", "Outgoing service", "bool"), ("quarantine", "Quarantine service", "bool"),
        ("retention", "Retention service", "bool"), ("archive", "Archive service", "bool"),
    ]),
    ("relayProps", "Relay", [
        ("relaySpam", "Deliver spam", "bool"), ("relayAdvert", "Deliver adverts", "bool"),
        ("prefixSpam", "Subject prefix of spam", "text"), ("advertPrefix", "Subject prefix of adverts", "text"),
        ("relayBadHeaders", "Deliver mail with bad headers", "bool"),
        ("relayBadAttachments", "Deliver mail with forbidden attachments", "bool"),
        ("spamScoreLimit", "Score above which spam is not delivered", "float"),
    ]),
    ("quarantineProps", "Quarantine", [
        ("duration", "Days kept", "int"), ("storeSpam", "Spam", "bool"), ("storeVirus", "Viruses", "bool"),
        ("storeAdvert", "Adverts", "bool"), ("storeBlacklisted", "Blocked senders", "bool"),
        ("storeSenderVerify", "Failed sender verification", "bool"), ("storeBadHeaders", "Bad headers", "bool"),
        ("storeBadEncoding", "Bad encoding", "bool"), ("storeBadAttachments", "Forbidden attachments", "bool"),
    ]),
    ("retentionProps", "Retention", [
        ("duration", "Days kept", "int"), ("storeMailOut", "Sent mail", "bool"),
        ("storeCleanMailIn", "Clean incoming mail", "bool"),
    ]),
    ("archiveProps", "Archive", [
        ("duration", "Months kept", "int"), ("archiveByCopy", "Archive by copy (internal mail too)", "bool"),
        ("storeMailOut", "Sent mail", "bool"), ("storeCleanMailIn", "Clean incoming mail", "bool"),
        ("storeSpam", "Spam", "bool"), ("storeBadHeaders", "Bad headers", "bool"),
        ("storeBadEncoding", "Bad encoding", "bool"), ("storeBadAttachments", "Forbidden attachments", "bool"),
        ("storeAdvert", "Adverts", "bool"), ("storeBlacklisted", "Blocked senders", "bool"),
        ("storeSenderVerify", "Failed sender verification", "bool"),
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
