"""The data-plane export: files parsed back and compared, atomic and only when changed, with a manifest."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Domain, SenderRule
from tests.world import World


def _export(app: Flask, target: Path) -> str:
    result = app.test_cli_runner().invoke(args=["portal", "export-rules", str(target)])
    assert result.exit_code == 0, result.output
    return result.output


def test_export_files(app: Flask, client: FlaskClient, world: World, tmp_path: Path) -> None:
    h = world.headers("sysadmin")
    later = int((utcnow() + timedelta(days=3)).timestamp() * 1000)
    client.post(f"/api/domains/{world.id('A')}/wblist", headers=h, json=[
        {"value": "bank.example", "type": "ALLOW", "spfOn": True},
        {"value": "pal@friend.example", "type": "ALLOW", "spfOn": False, "expireAt": later},
        {"value": "a.example", "type": "PROTECTED"}])
    client.post(f"/api/domains/{world.id('A')}/filters/attachments", headers=h,
                json={"action": "ALLOW", "checkType": "CONTENTTYPE", "filter": "^application/pdf$",
                      "description": "PDF  are   fine", "priority": 0})
    client.post(f"/api/domains/{world.id('A')}/filters/uris", headers=h,
                json={"action": "BLACKLIST_URI_HOST", "filter": "phish2.example"})
    client.post(f"/api/domains/{world.id('A')}/filters/uris", headers=h,
                json={"action": "URIDNSBL_SKIP_DOMAIN", "filter": "partner.example"})
    with app.app_context():
        db.session.get(Domain, world.pk["C"]).status = "DISABLED"
        db.session.add(SenderRule(owner_key=f"d:{world.pk['A']}", domain_id=world.pk["A"], value="old.example",
                                  type="BLOCK", expire_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    _export(app, tmp_path)

    assert (tmp_path / "fuglu/a.example-filename.conf").read_text() == "deny \\.scr$\n"
    assert (tmp_path / "fuglu/a.example-filetype.conf").read_text() == "allow ^application/pdf$ PDF are fine\n"
    senders = (tmp_path / "spamassassin/postern-senders.cf").read_text().splitlines()
    assert "blacklist_from_rcpt spammer@bad.example *@a.example" in senders
    assert "whitelist_from_rcpt pal@friend.example *@a.example" in senders
    assert "whitelist_from_rcpt *@friend.example user@a.example" in senders
    assert not any("bank.example" in line or "old.example" in line for line in senders)  # SPF-conditional, expired
    full = json.loads((tmp_path / "postern/senders.json").read_text())
    assert {"owner": "a.example", "value": "bank.example", "type": "ALLOW", "spfOn": True, "expireAt": None} in full
    assert any(r["type"] == "PROTECTED" for r in full) and not any(r["value"] == "old.example" for r in full)
    uris = (tmp_path / "spamassassin/postern-uris.cf").read_text()
    assert "uridnsbl_skip_domain partner.example" in uris
    rules = dict(re.findall(r"^uri (POSTERN_URI_BL_\d+) m\{(.+)\}i$", uris, re.M))
    name, pattern = next((n, p) for n, p in rules.items() if "phish2" in p)
    assert re.search(pattern, "https://www.phish2.example/login", re.I)
    assert not re.search(pattern, "https://phish2.example.org/", re.I)
    assert f"score {name} 5.0" in uris
    relay = (tmp_path / "postfix/relay_domains").read_text().split()
    assert "a.example" in relay and "alias-of-a.example" in relay and "c.example" not in relay
    assert "a.example smtp:[127.0.0.1]:9" in (tmp_path / "postfix/transport").read_text()
    for line in (tmp_path / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest


def test_export_writes_only_changes_and_removes_stale_files(app: Flask, client: FlaskClient, world: World,
                                                            tmp_path: Path) -> None:
    first = _export(app, tmp_path)
    assert "file(s) changed" in first and not first.startswith("0 ")
    before = (tmp_path / "fuglu/a.example-filename.conf").stat().st_mtime_ns
    assert _export(app, tmp_path).startswith("0 file(s) changed")
    assert (tmp_path / "fuglu/a.example-filename.conf").stat().st_mtime_ns == before
    client.delete(f"/api/filters/attachments/{world.id('attachmentA')}", headers=world.headers("sysadmin"))
    second = _export(app, tmp_path)
    assert "fuglu/a.example-filename.conf" in second
    assert not (tmp_path / "fuglu/a.example-filename.conf").exists()
    assert not list(tmp_path.rglob(".tmp-*"))


def test_a_change_runs_the_export_job(app: Flask, client: FlaskClient, world: World) -> None:
    client.post(f"/api/domains/{world.id('B')}/filters/attachments", headers=world.headers("sysadmin"),
                json={"action": "DENY", "checkType": "FILENAME", "filter": "\\.js$"})
    exported = Path(app.config["EXPORT_DIR"]) / "fuglu/b.example-filename.conf"
    assert exported.read_text() == "deny \\.js$\n"
