"""The mailbox user's portal: login, own allowed and blocked senders, separation from admin pages."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import Domain, MailUser, SenderRule
from tests.conftest import csrf_token
from tests.world import PASSWORD, World


def _login(client: FlaskClient, email: str = "user@a.example", password: str = PASSWORD):
    page = client.get("/me/login")
    return client.post("/me/login", data={"csrf_token": csrf_token(page.text), "email": email, "password": password})


def test_login_and_home(client: FlaskClient, world: World) -> None:
    assert client.get("/me/").status_code == 302
    assert client.get("/me/").headers["Location"].startswith("/me/login")
    bad = _login(client, password="wrong password")
    assert bad.status_code == 400 and "Wrong address or password" in bad.text
    assert _login(client, "USER@a.example").status_code == 302
    home = client.get("/me/")
    assert home.status_code == 200 and "My allowed and blocked senders" in home.text
    assert client.get("/admin/domains").headers["Location"] == "/me/"  # not an admin


def test_disabled_user_cannot_log_in(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        db.session.get(MailUser, world.pk["userA"]).status = "DISABLED"
        db.session.commit()
    assert _login(client).status_code == 400


def test_user_session_ends_when_disabled(app: Flask, client: FlaskClient, world: World) -> None:
    _login(client)
    assert client.get("/me/senders").status_code == 200
    client.patch(f"/api/users/{world.id('userA')}", json={"status": "DISABLED"}, headers=world.headers("domainA"))
    assert client.get("/me/senders").status_code == 302


def test_own_senders(app: Flask, client: FlaskClient, world: World) -> None:
    _login(client)
    page = client.get("/me/senders")
    assert "friend.example" in page.text and "spammer@bad.example" not in page.text  # own rules only
    token = csrf_token(page.text)
    assert client.post("/me/senders", data={"csrf_token": token, "value": "Mum@Family.example",
                                            "type": "ALLOW"}).status_code == 302
    bad = client.post("/me/senders", data={"csrf_token": token, "value": "not an address", "type": "BLOCK"})
    assert bad.status_code == 400 and "neither an email address nor a domain" in bad.text
    dup = client.post("/me/senders", data={"csrf_token": token, "value": "friend.example", "type": "BLOCK"})
    assert dup.status_code == 409
    with app.app_context():
        rule = db.session.query(SenderRule).filter_by(value="mum@family.example").one()
        assert rule.user_id == world.pk["userA"] and rule.type == "ALLOW" and rule.spf_on is False
        from portal import ids

        rule_id, foreign = ids.encode(rule.id), ids.encode(world.pk["ruleA"])
    assert client.post(f"/me/senders/{foreign}/delete", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/me/senders/{rule_id}/delete", data={"csrf_token": token}).status_code == 302


def test_senders_need_the_domain_permission(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        db.session.get(Domain, world.pk["A"]).end_user_permissions = "QUARANTINE_VIEW"
        db.session.commit()
    _login(client)
    assert client.get("/me/senders").status_code == 403
    assert "My allowed and blocked senders" not in client.get("/me/").text


def test_menu_and_home_follow_the_domain_grants(app: Flask, client: FlaskClient, world: World) -> None:
    """The menu (base.html) and the home page ask Domain.grants, as the services do: granted pages only."""
    with app.app_context():
        db.session.get(Domain, world.pk["A"]).end_user_permissions = "SEND_MAIL QUARANTINE_VIEW"
        db.session.commit()
    _login(client)
    home = client.get("/me/").text
    menu = home.split('id="sidebar"', 1)[1].split("</nav>", 1)[0]
    for shown in ('href="/me/quarantine"', 'href="/me/compose"'):
        assert shown in menu
    for hidden in ('href="/me/folders"', 'href="/me/senders"'):
        assert hidden not in menu and hidden not in home
    assert "Send mail from the portal" in home and "See your quarantined messages" in home
    assert "Edit your signature" not in home and "My signature" not in home


def test_admin_is_sent_to_admin_pages(client: FlaskClient, world: World) -> None:
    from tests.conftest import login

    login(client, "root", PASSWORD)
    assert client.get("/me/senders").headers["Location"] == "/"


def test_quarantine_page(app: Flask, client: FlaskClient, world: World) -> None:
    import mailbox
    from email.message import EmailMessage
    from pathlib import Path

    from portal.integrations.mailstore import maildir_root

    with app.app_context():
        root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
        hostile = EmailMessage()
        hostile["From"] = '"<img src=x onerror=alert(1)>" <evil@bad.example>'
        hostile["Subject"] = "<script>alert('x')</script> Invoice"
        hostile["X-Quarantine-Reason"] = "VIRUS"
        hostile.set_content("hi")
        mailbox.Maildir(str(root)).get_folder("Quarantine").add(mailbox.MaildirMessage(hostile.as_bytes()))
    _login(client)
    page = client.get("/me/quarantine")
    assert page.status_code == 200 and "3 messages" in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert "onerror=alert" not in page.text.replace("&lt;", "")  # the display name is escaped text
    found = client.get("/me/quarantine?q=invoice", headers={"HX-Request": "true"})
    assert "<html" not in found.text and "1 message" in found.text and "reason-virus" in found.text
    by_subject = client.get("/me/quarantine?sort=subject")
    assert by_subject.text.index("offer 0") < by_subject.text.index("offer 1")
    with app.app_context():
        db.session.get(Domain, world.pk["A"]).end_user_permissions = "WBLIST_EDIT"
        db.session.commit()
    assert client.get("/me/quarantine").status_code == 403


def test_demo_quarantine(app: Flask) -> None:
    from pathlib import Path

    from portal import demo_mail
    from portal.integrations.mailstore import MaildirStore, Search, maildir_root

    with app.app_context():
        assert demo_mail.seed(["demo@a.example"]) == 5
        assert demo_mail.seed(["demo@a.example"]) == 0  # once
        store = MaildirStore(maildir_root(Path(app.config["MAIL_ROOT"]), "demo@a.example"))
        found, total = store.messages("Quarantine", Search(), "-sentDate", 0, 10)
        assert store.messages("INBOX", Search(), "-sentDate", 0, 10)[1] == 3
        assert store.messages("Archive", Search(), "-sentDate", 0, 10)[1] == 6
        assert [f.path for f in store.folders("Archive")] == ["Archive/2025"]
    reasons = {m.headers["X-Quarantine-Reason"] for m in found}
    assert total == 5 and reasons == {"SPAM", "VIRUS", "ADVERT", "BAD_ATTACHMENTS"}
    assert any(m.headers.get("X-Virus-Name") == "Eicar-Test-Signature" and m.has_attachments for m in found)


def _hostile(app: Flask) -> None:
    import mailbox
    from email.message import EmailMessage
    from pathlib import Path

    from portal.integrations.mailstore import maildir_root

    message = EmailMessage()
    message["From"] = "attacker@bad.example"
    message["Subject"] = "Hostile"
    message["X-Fuglu-Id"] = "hostile1"
    message.set_content("plain <b>text</b>")
    message.add_alternative('<p>Hi</p><script>alert(1)</script><img src="https://track.example/p.gif">'
                            '<a href="javascript:alert(2)">x</a>', subtype="html")
    message.add_attachment(b"MZ", maintype="application", subtype="octet-stream", filename="PLACEHOLDER.exe")
    # an RFC 2231 name with a path, markup and CR/LF, which EmailMessage itself would refuse to write
    raw = message.as_bytes().replace(b'filename="PLACEHOLDER.exe"',
                                     b"filename*=utf-8''..%2F%3Cb%3Eevil%3C%2Fb%3E%0D%0A.exe")
    with app.app_context():
        root = maildir_root(Path(app.config["MAIL_ROOT"]), "user@a.example")
        mailbox.Maildir(str(root)).get_folder("Quarantine").add(mailbox.MaildirMessage(raw))


def test_message_page(app: Flask, client: FlaskClient, world: World) -> None:
    _hostile(app)
    _login(client)
    page = client.get("/me/quarantine/message?id=hostile1")
    assert page.status_code == 200
    assert 'sandbox referrerpolicy="no-referrer" srcdoc="' in page.text
    frame = page.text.split('srcdoc="', 1)[1].split('"></iframe>', 1)[0]
    assert "<" not in frame  # the document is one escaped attribute
    assert "script" not in frame.lower() and "javascript" not in frame and "track.example" not in frame
    assert "Show 1 remote image" in page.text
    assert "img-src 'self' data:;" in page.headers["Content-Security-Policy"]
    assert "<b>evil</b>" not in page.text
    assert "__b_evil__b___.exe (application/octet-stream" in page.text  # no path, no markup, no CR/LF
    shown = client.get("/me/quarantine/message?id=hostile1&images=1")
    assert "track.example" in shown.text and "img-src 'self' data: https:" in shown.headers["Content-Security-Policy"]
    text = client.get("/me/quarantine/message?id=hostile1&view=text")
    assert "plain &lt;b&gt;text&lt;/b&gt;" in text.text and "<iframe" not in text.text
    assert client.get("/me/quarantine/message?id=nope").status_code == 404


def test_attachment_download_from_the_page(app: Flask, client: FlaskClient, world: World) -> None:
    _login(client)
    page = client.get("/me/quarantine/message?id=quarantined-1@bad.example")
    link = page.text.split('href="/me/quarantine/attachment?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    response = client.get(f"/me/quarantine/attachment?{link}")
    assert response.status_code == 200 and response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="price list.html"')
    assert client.get("/me/quarantine/attachment?id=quarantined-1@bad.example&part=x").status_code == 404


def test_release_from_the_page(app: Flask, client: FlaskClient, world: World) -> None:
    from tests.services_runtime import smtp_server

    with smtp_server() as (sink, port):
        with app.app_context():
            db.session.get(Domain, world.pk["A"]).platforms[0].transport_port = port
            db.session.commit()
        _login(client)
        page = client.get("/me/quarantine/message?id=quarantined-0@bad.example")
        assert 'id="release-form"' in page.text and "virus_lover" not in page.text
        token = csrf_token(page.text)
        done = client.post("/me/quarantine/release", data={"csrf_token": token, "id": "quarantined-0@bad.example"})
        assert done.status_code == 302 and len(sink.messages) == 1
        assert "delivered to your mailbox" in client.get(done.headers["Location"]).text
        client.post("/me/quarantine/release", data={"csrf_token": token, "id": "quarantined-0@bad.example"})
        assert len(sink.messages) == 1
        assert "released" in client.get("/me/quarantine").text


def test_signature_page(app: Flask, client: FlaskClient, world: World) -> None:
    _login(client)
    page = client.get("/me/signature")
    assert page.status_code == 200 and "signature-preview" not in page.text
    saved = client.post("/me/signature", data={"csrf_token": csrf_token(page.text),
                                               "sign": "<b>Sansa</b><img src=x onerror=alert(1)>"})
    assert saved.status_code == 302
    shown = client.get("/me/signature")
    assert "&lt;b&gt;Sansa&lt;/b&gt;" in shown.text and "onerror" not in shown.text
    assert 'id="signature-preview" title="Preview" sandbox' in shown.text
    with app.app_context():
        db.session.get(Domain, world.pk["A"]).end_user_permissions = "QUARANTINE_VIEW"
        db.session.commit()
    assert client.get("/me/signature").status_code == 403
