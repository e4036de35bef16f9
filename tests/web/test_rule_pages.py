"""Rule and email-alias pages, and the "explain this sender" page."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import AttachmentRule, EmailAlias, SenderRule
from tests.conftest import csrf_token, login
from tests.world import PASSWORD, World


def _as(client: FlaskClient, who: str) -> str:
    client.delete_cookie("session")
    assert login(client, who, PASSWORD).status_code == 302
    return csrf_token(client.get("/").text)


def test_rule_lists_render_and_are_scoped(client: FlaskClient, world: World) -> None:
    _as(client, "admin-a")
    for kind, text in (("senders", "spammer@bad.example"), ("attachments", "\\.scr$"), ("uris", "phish.example"),
                       ("groups", "group@a.example")):
        page = client.get(f"/admin/domains/{world.id('A')}/rules/{kind}")
        assert page.status_code == 200 and text in page.text, kind
        fragment = client.get(f"/admin/domains/{world.id('A')}/rules/{kind}", headers={"HX-Request": "true"})
        assert "<html" not in fragment.text
    assert client.get(f"/admin/domains/{world.id('B')}/rules/senders").status_code == 404
    assert client.get(f"/admin/domains/{world.id('A')}/rules/nope").status_code == 404
    export = client.get(f"/admin/domains/{world.id('A')}/rules/senders?export=csv")
    assert export.mimetype == "text/csv" and "spammer@bad.example" in export.text


def test_add_and_remove_rules(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-a")
    base = f"/admin/domains/{world.id('A')}/rules"
    assert client.post(f"{base}/senders", data={"csrf_token": token, "value": "Evil@Spam.example",
                                                "type": "BLOCK", "expire_at": "2099-01-01T00:00"}).status_code == 302
    needs_spf = client.post(f"{base}/senders", data={"csrf_token": token, "value": "ok.example", "type": "ALLOW"})
    assert needs_spf.status_code == 302  # the checkbox gives spfOn=false
    bad = client.post(f"{base}/senders", data={"csrf_token": token, "value": "no way", "type": "BLOCK"})
    assert bad.status_code == 400 and "neither an email address nor a domain" in bad.text
    assert 'value="no way"' in bad.text
    regex = client.post(f"{base}/attachments", data={"csrf_token": token, "action": "DENY", "check_type": "FILENAME",
                                                     "filter": "(a+)+"})
    assert regex.status_code == 400 and "exponential time" in regex.text
    assert client.post(f"{base}/attachments", data={"csrf_token": token, "action": "DENY", "check_type": "FILENAME",
                                                    "filter": "\\.js$", "priority": "2"}).status_code == 302
    crew = client.post(f"{base}/groups", data={"csrf_token": token, "email": "crew@a.example",
                                               "recipients": "user@a.example\nout@elsewhere.example"})
    assert crew.status_code == 302
    with app.app_context():
        rule = db.session.query(SenderRule).filter_by(value="evil@spam.example").one()
        assert rule.expire_at.year == 2099
        assert db.session.query(AttachmentRule).filter_by(filter="\\.js$").one().priority == 2
        crew = db.session.query(EmailAlias).filter_by(email="crew@a.example").one()
        assert [r.type for r in crew.recipients] == ["USER", "EXTERNAL_ADDRESS"]
        from portal import ids

        rule_id = ids.encode(rule.id)
    assert client.post(f"{base}/senders/{rule_id}/delete", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.query(SenderRule).filter_by(value="evil@spam.example").count() == 0


def test_reader_cannot_edit(client: FlaskClient, world: World) -> None:
    token = _as(client, "reader-a")
    page = client.get(f"/admin/domains/{world.id('A')}/rules/senders")
    assert page.status_code == 200 and 'id="add-rule"' not in page.text
    refused = client.post(f"/admin/domains/{world.id('A')}/rules/senders",
                          data={"csrf_token": token, "value": "x@y.example", "type": "BLOCK"})
    assert refused.status_code == 403


def test_explain_page(client: FlaskClient, world: World) -> None:
    _as(client, "admin-a")
    empty = client.get("/admin/explain")
    assert empty.status_code == 200 and 'id="verdict"' not in empty.text
    page = client.get("/admin/explain?sender=spammer@bad.example&recipient=user@a.example")
    assert re.search(r'<article id="verdict" class="verdict-block">', page.text)
    assert "blocks the exact address" in page.text
    fragment = client.get("/admin/explain?sender=pal@friend.example&recipient=user@a.example",
                          headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "verdict-allow" in fragment.text
    bad = client.get("/admin/explain?sender=nope&recipient=user@a.example")
    assert bad.status_code == 400 and "not an email address" in bad.text
