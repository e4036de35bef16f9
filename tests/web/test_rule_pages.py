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
    assert bad.status_code == 400 and "is not a valid email address" in bad.text


def test_csv_import_with_preview(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-a")
    url = f"/admin/domains/{world.id('A')}/rules/senders/import"
    assert client.get(url).status_code == 200
    text = ("id,value,type,expireAt,description,spfOn\n"
            ",new@spam.example,BLOCK,,from the CSV,\n"
            ",partner.example,ALLOW,2099-01-01T00:00:00Z,,true\n"
            ",spammer@bad.example,BLOCK,,,\n")
    preview = client.post(url, data={"csrf_token": token, "csv": text, "mode": "add"})
    assert preview.status_code == 200 and "spammer@bad.example" in preview.text
    assert 'id="plan-conflicts"' in preview.text and 'name="confirm"' not in preview.text  # add would collide
    replace = client.post(url, data={"csrf_token": token, "csv": text, "mode": "replace"})
    assert "2 new rules" in replace.text and "0 rules removed" in replace.text
    with app.app_context():
        assert db.session.query(SenderRule).filter_by(value="new@spam.example").count() == 0  # preview wrote nothing
    done = client.post(url, data={"csrf_token": token, "csv": text, "mode": "replace", "confirm": "yes"})
    assert done.status_code == 302
    with app.app_context():
        values = {r.value for r in db.session.query(SenderRule).filter_by(owner_key=f"d:{world.pk['A']}")}
        assert values == {"new@spam.example", "partner.example", "spammer@bad.example"}
        allow = db.session.query(SenderRule).filter_by(value="partner.example").one()
        assert allow.spf_on is True and allow.expire_at.year == 2099
    broken = client.post(url, data={"csrf_token": token, "csv": "value,type\nnot an address,BLOCK\nx@y.example,MAYBE\n",
                                    "mode": "add"})
    assert broken.status_code == 400 and "line 2.value" in broken.text and "line 3.type" in broken.text
    headerless = client.post(url, data={"csrf_token": token, "csv": "a@b.example,BLOCK\n", "mode": "add"})
    assert headerless.status_code == 400 and "must name the columns" in headerless.text
    # the CSV export imports back as it is
    exported = client.get(f"/admin/domains/{world.id('A')}/rules/senders?export=csv").text
    again = client.post(url, data={"csrf_token": token, "csv": exported, "mode": "replace"})
    assert "0 new rules" in again.text and "3 rules unchanged" in again.text


def test_inline_edit(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-a")
    base = f"/admin/domains/{world.id('A')}/rules"
    edited = client.post(f"{base}/attachments/{world.id('attachmentA')}",
                         data={"csrf_token": token, "action": "DENY", "check_type": "FILENAME", "filter": "\\.pif$",
                               "priority": "3", "description": "old DOS"})
    assert edited.status_code == 302
    bad = client.post(f"{base}/uris/{world.id('uriA')}", data={"csrf_token": token, "action": "BLACKLIST_URI_HOST",
                                                                "filter": "not a host"})
    assert bad.status_code == 400 and "Give a domain name" in bad.text
    sender = client.post(f"{base}/senders/{world.id('ruleA')}",
                         data={"csrf_token": token, "value": "spammer2@bad.example", "type": "BLOCK"})
    assert sender.status_code == 302
    with app.app_context():
        rule = db.session.get(AttachmentRule, world.pk["attachmentA"])
        assert (rule.filter, rule.priority, rule.description) == ("\\.pif$", 3, "old DOS")
        assert db.session.get(SenderRule, world.pk["ruleA"]).value == "spammer2@bad.example"
    assert 'class="inline-edit"' in client.get(f"{base}/uris").text


def test_add_and_edit_read_the_form_the_same_way(app: Flask, client: FlaskClient, world: World) -> None:
    """One form -> schema mapping per kind: the expiry and SPF box mean the same on the add form and a row."""
    token = _as(client, "admin-a")
    base = f"/admin/domains/{world.id('A')}/rules"
    undated = client.post(f"{base}/senders", data={"csrf_token": token, "value": "x.example", "type": "BLOCK",
                                                   "expire_at": "next tuesday"})
    assert undated.status_code == 400 and 'id="e-expire_at"' in undated.text  # the message beside the field
    edited = client.post(f"{base}/senders/{world.id('ruleA')}",
                         data={"csrf_token": token, "value": "friend2.example", "type": "ALLOW", "spf_on": "on",
                               "expire_at": "2099-06-01T12:00"})
    assert edited.status_code == 302
    with app.app_context():
        rule = db.session.get(SenderRule, world.pk["ruleA"])
        assert (rule.value, rule.type, rule.spf_on, rule.expire_at.year) == ("friend2.example", "ALLOW", True, 2099)


def test_csv_import_of_attachment_and_uri_rules(app: Flask, client: FlaskClient, world: World) -> None:
    """Preview, all-or-nothing, identical rules kept; the export imports back without a change."""
    from portal.models import UriRule

    login(client, "admin-a", PASSWORD)
    base = f"/admin/domains/{world.id('A')}/rules"
    page = client.get(f"{base}/attachments/import")
    assert page.status_code == 200 and "checkType" in page.text
    token = csrf_token(page.text)
    text = ("action,checkType,filter,priority,description\n"
            "DENY,FILENAME,\\.exe$,5,executables\nALLOW,CONTENTTYPE,application/pdf,1,\n")
    preview = client.post(f"{base}/attachments/import", data={"csrf_token": token, "csv": text, "mode": "add"})
    assert preview.status_code == 200 and "2 new rules" in preview.text
    assert "executables" in preview.text and "checkType" in preview.text  # the rows to be added, shown
    with app.app_context():
        assert db.session.query(AttachmentRule).count() == 1  # a preview writes nothing
    bad = text + "DENY,FILENAME,(a+)+$,1,\nDROP,FILENAME,x,1,\n"
    refused = client.post(f"{base}/attachments/import", data={"csrf_token": token, "csv": bad, "mode": "add",
                                                              "confirm": "yes"})
    assert refused.status_code == 400 and "line 5.action" in refused.text
    catastrophic = client.post(f"{base}/attachments/import", data={
        "csrf_token": token, "csv": text + "DENY,FILENAME,(a+)+$,1,\n", "mode": "add", "confirm": "yes"})
    assert catastrophic.status_code == 400 and "line 4.filter" in catastrophic.text
    with app.app_context():
        assert db.session.query(AttachmentRule).count() == 1  # all or nothing
    done = client.post(f"{base}/attachments/import", data={"csrf_token": token, "csv": text, "mode": "add",
                                                           "confirm": "yes"})
    assert done.status_code == 302
    exported = client.get(f"{base}/attachments?export=csv").get_data(as_text=True)
    again = client.post(f"{base}/attachments/import", data={"csrf_token": token, "csv": exported, "mode": "replace"})
    assert "0 new rules" in again.text and "3 rules unchanged" in again.text and "0 rules removed" in again.text
    replaced = client.post(f"{base}/attachments/import", data={
        "csrf_token": token, "csv": "action,checkType,filter\nDENY,FILENAME,\\.scr$\n", "mode": "replace",
        "confirm": "yes"})
    assert replaced.status_code == 302
    with app.app_context():
        assert [r.filter for r in db.session.query(AttachmentRule)] == ["\\.scr$"]
    uris = client.post(f"{base}/uris/import", data={"csrf_token": token, "mode": "add", "confirm": "yes",
                                                    "csv": "action,filter\nBLACKLIST_URI_HOST,Evil.Example\n"})
    assert uris.status_code == 302
    with app.app_context():
        assert {r.filter for r in db.session.query(UriRule)} == {"phish.example", "evil.example"}
    client.post("/logout", data={"csrf_token": token})
    login(client, "reader-a", PASSWORD)
    assert client.get(f"{base}/uris/import").status_code in (403, 404)
