"""The effective rules, rendered in the formats the filtering engine reads (issue: data-plane export).

Files (relative to the export directory):
- `fuglu/<domain>-filename.conf`, `-filetype.conf`, `-archive-filenames.conf`, `-archive-filetype.conf`:
  Fuglu attachment rules, one `action regex description` line each, by priority.
- `spamassassin/postern-senders.cf`: `whitelist_from_rcpt` / `blacklist_from_rcpt` for ALLOW (without
  SPF condition) and BLOCK rules, per recipient domain or mailbox.
- `spamassassin/postern-uris.cf`: `uridnsbl_skip_domain` for URIDNSBL_SKIP_DOMAIN, and a `uri` rule
  scored -5 / +5 for WHITELIST_URI_HOST / BLACKLIST_URI_HOST.
- `postern/senders.json`: every live sender rule with full fidelity (PROTECTED and SPF-conditional ALLOW
  rules need the Postern plugin: SpamAssassin cannot express them per recipient).
- `postfix/relay_domains`, `postfix/transport`: the enabled domains (and their aliases) and their relays.
- `opendkim/KeyTable`, `opendkim/SigningTable` (read it as `refile:`, its keys are `*@domain` patterns) and
  `opendkim/keys/<domain>/<selector>.private`: the active key signs the domain and each alias (d= that name);
  a rotation's pending key has its file written ahead, but signs nothing until it is active. Key files are
  private (mode 0600, `file_modes`); the KeyTable names them under `key_dir` (the export directory as the
  signer reads it).
Only enabled domains are exported, and only rules that have not expired.
"""

from __future__ import annotations

import json
import re

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..clock import to_ms, utcnow
from ..extensions import db
from ..models import AttachmentRule, DkimKey, Domain, MailUser, SenderRule, UriRule
from . import dkim

CHECK_FILES = {"FILENAME": "filename", "CONTENTTYPE": "filetype", "ARCHIVE-FILENAME": "archive-filenames",
               "ARCHIVE-CONTENTTYPE": "archive-filetype"}
TRANSPORTS = {"SMTP": "smtp", "SMTPS_MAY": "smtp", "SMTPS_ENCRYPT": "smtps"}
DKIM_KEYS = "opendkim/keys/"
PRIVATE_MODE, PUBLIC_MODE = 0o600, 0o644


def file_modes(files: dict[str, str]) -> dict[str, int]:
    """The mode of each exported file: private keys 0600, the rest 0644."""
    return {name: PRIVATE_MODE if name.startswith(DKIM_KEYS) else PUBLIC_MODE for name in files}


def _line(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def render(key_dir: str | None = None) -> dict[str, str]:
    """Every exported file name and its content; `key_dir`: where the signer finds `opendkim/keys` (default: the
    export directory)."""
    files: dict[str, str] = {}
    enabled = list(db.session.scalars(
        select(Domain).where(Domain.status == "ENABLED").order_by(Domain.name)
        .options(selectinload(Domain.aliases), selectinload(Domain.platforms))))
    names = {d.id: d.name for d in enabled}
    ids = list(names)

    attachments: dict[tuple[int, str], list[AttachmentRule]] = {}
    for rule in db.session.scalars(select(AttachmentRule).where(AttachmentRule.domain_id.in_(ids))
                                   .order_by(AttachmentRule.priority, AttachmentRule.id)):
        attachments.setdefault((rule.domain_id, rule.check_type), []).append(rule)
    for (domain_id, check), rules in sorted(attachments.items(), key=lambda kv: (names[kv[0][0]], kv[0][1])):
        files[f"fuglu/{names[domain_id]}-{CHECK_FILES[check]}.conf"] = "".join(
            f"{r.action.lower()} {r.filter} {_line(r.description)}".rstrip() + "\n" for r in rules)

    now = utcnow()
    users = dict(db.session.execute(select(MailUser.id, MailUser.email).where(MailUser.domain_id.in_(ids))).all())
    live = [r for r in db.session.scalars(select(SenderRule).where(SenderRule.domain_id.in_(ids))
                                          .order_by(SenderRule.owner_key, SenderRule.value))
            if r.expire_at is None or r.expire_at > now]
    sa_lines = ["# Postern sender rules (generated, do not edit)\n"]
    full = []
    for rule in live:
        rcpt = users.get(rule.user_id) if rule.user_id else f"*@{names[rule.domain_id]}"
        if rcpt is None:
            continue
        sender = rule.value if "@" in rule.value else f"*@{rule.value}"
        if rule.type == "BLOCK":
            sa_lines.append(f"blacklist_from_rcpt {sender} {rcpt}\n")
        elif rule.type == "ALLOW" and not rule.spf_on:
            sa_lines.append(f"whitelist_from_rcpt {sender} {rcpt}\n")
        full.append({"owner": rcpt.removeprefix("*@"), "value": rule.value, "type": rule.type,
                     "spfOn": rule.spf_on, "expireAt": to_ms(rule.expire_at)})
    files["spamassassin/postern-senders.cf"] = "".join(sa_lines)
    files["postern/senders.json"] = json.dumps(full, indent=1, sort_keys=True) + "\n"

    uri_lines = ["# Postern URI rules (generated, do not edit)\n"]
    for n, rule in enumerate(db.session.scalars(select(UriRule).where(UriRule.domain_id.in_(ids))
                                                .order_by(UriRule.filter, UriRule.id))):
        if rule.action == "URIDNSBL_SKIP_DOMAIN":
            uri_lines.append(f"uridnsbl_skip_domain {rule.filter}\n")
            continue
        name = f"POSTERN_URI_{'WL' if rule.action == 'WHITELIST_URI_HOST' else 'BL'}_{n}"
        host = re.escape(rule.filter)
        uri_lines.append(f"uri {name} m{{^https?://(?:[^/]*\\.)?{host}(?:[:/]|$)}}i\n")
        uri_lines.append(f"score {name} {'-5.0' if 'WHITELIST' in rule.action else '5.0'}\n")
    files["spamassassin/postern-uris.cf"] = "".join(uri_lines)

    relay, transport = [], []
    for domain in enabled:
        platform = domain.default_platform
        for name in [domain.name, *(a.name for a in domain.aliases)]:
            relay.append(f"{name} OK\n")
            if platform is not None:
                kind = TRANSPORTS.get(platform.transport_type, "smtp")
                transport.append(f"{name} {kind}:[{platform.transport_dest}]:{platform.transport_port}\n")
    files["postfix/relay_domains"] = "".join(relay)
    files["postfix/transport"] = "".join(transport)
    files.update(_opendkim(enabled, key_dir or str(current_app.config["EXPORT_DIR"])))
    return files


def _opendkim(enabled: list[Domain], root: str) -> dict[str, str]:
    """OpenDKIM's KeyTable and SigningTable, and the key files of the active and pending keys."""
    by_domain: dict[int, list[DkimKey]] = {}
    for key in db.session.scalars(select(DkimKey).where(DkimKey.domain_id.in_([d.id for d in enabled]),
                                                        DkimKey.state.in_((dkim.ACTIVE, dkim.PENDING)))
                                  .order_by(DkimKey.selector)):
        by_domain.setdefault(key.domain_id, []).append(key)
    files: dict[str, str] = {}
    key_table = ["# Postern DKIM keys (generated, do not edit)\n"]
    signing_table = ["# Postern DKIM signing (generated, do not edit; read as refile:)\n"]
    for domain in enabled:
        for key in by_domain.get(domain.id, []):
            name = f"{DKIM_KEYS}{domain.name}/{key.selector}.private"
            files[name] = dkim.private_pem(key)
            if key.state != dkim.ACTIVE:
                continue
            path = f"{root.rstrip('/')}/{name}"
            for signed in dkim.names_of(domain):
                record = dkim.record_name(key.selector, signed)
                key_table.append(f"{record} {signed}:{key.selector}:{path}\n")
                signing_table.append(f"*@{signed} {record}\n")
    files["opendkim/KeyTable"] = "".join(key_table)
    files["opendkim/SigningTable"] = "".join(signing_table)
    return files
