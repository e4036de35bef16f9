"""Codes in words on pages (issue 11, item 6): administrator permissions, options, transports and sign-in
kinds show translated words, the code kept next to them for admins who search the docs; refusals a page can
show are translated there, while the API keeps its English."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import ids
from portal.errors import NotFound
from portal.integrations.mailstore import MaildirStore
from portal.options import OPTIONS, Scope
from portal.permissions import ADMIN_PERMISSIONS, Permission, permission_label
from portal.services import content_rules, options
from portal.words import english, value_label
from tests.conftest import login
from tests.world import PASSWORD, World


def _sign_in(app: Flask, who: str, lang: str) -> FlaskClient:
    client = app.test_client()
    login(client, who, PASSWORD)
    with client.session_transaction() as session:
        session["lang"] = lang.upper()
    return client


@pytest.mark.parametrize(("lang", "label", "description"), [
    ("fr", "Modifier les règles de filtrage",
     "Modifier les règles de filtrage des expéditeurs, des pièces jointes et des URI"),
    ("ru", "Изменять правила фильтрации", "Изменять правила фильтрации отправителей, вложений и URI"),
])
def test_permissions_show_in_words_with_their_code(app: Flask, world: World, lang: str, label: str,
                                                    description: str) -> None:
    client = _sign_in(app, "root", lang)
    for url in ("/admin/admins/new", f"/admin/domains/{world.id('A')}/tab/admins"):
        page = html.unescape(client.get(url).text)
        assert f'<label title="{description}">' in page, url
        assert f"> <span>{label} <small class=\"code-name\">FILTER_EDIT</small></span></label>" in page, url
    held = html.unescape(client.get(f"/admin/admins/{world.id('domainA')}").text)
    assert '<span class="badge" title="DOMAIN_READ">' in held and ">DOMAIN_READ</span>" not in held


def test_options_show_a_label_and_keep_their_name(app: Flask, world: World) -> None:
    page = html.unescape(_sign_in(app, "root", "fr").get("/admin/options").text)
    assert "<strong>Fuseau horaire</strong> <small class=\"code-name\">TIMEZONE</small>" in page
    assert 'aria-label="Fuseau horaire"' in page and 'aria-label="TIMEZONE"' not in page
    assert "<strong>TIMEZONE</strong>" not in page


def test_platform_transports_and_sign_in_kinds_in_words(app: Flask, world: World) -> None:
    page = html.unescape(_sign_in(app, "root", "ru").get(f"/admin/domains/{world.id('A')}/tab/platforms").text)
    assert '<option value="SMTPS_MAY">С шифрованием, если доступно (STARTTLS)</option>' in page  # noqa: RUF001
    assert '<option value="imap">Пароль проверяет сервер IMAP</option>' in page
    assert "<small>SMTP без шифрования</small>" in page  # the world's relays are plain SMTP
    assert ">SMTP<" not in page and ">local<" not in page


def test_every_code_has_its_words() -> None:
    assert all(str(info.label) and info.label.english() != code for code, info in ADMIN_PERMISSIONS.items())
    assert all(o.label.english() != name for name, o in OPTIONS.items())
    assert english(permission_label(Permission.GRANT)) == "Manage administrators"
    assert permission_label("NOT_A_PERMISSION") == "NOT_A_PERMISSION"
    for code in ("SMTP", "SMTPS_ENCRYPT", "SMTPS_MAY", "local", "imap"):
        assert value_label(code) != code


def test_refusals_are_translated_on_pages_and_english_in_the_api(app: Flask, world: World) -> None:
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        with pytest.raises(NotFound) as unknown:
            options._definition("NOPE", Scope.USER, unknown_is_404=True)
        assert str(unknown.value.detail) == "Aucune option 'NOPE' au niveau d'un utilisateur."
        assert english(unknown.value.detail) == "No option 'NOPE' at user scope."
        assert str(content_rules.URIS.missing) == "Aucun filtre d'URI avec cet identifiant."
    with app.app_context():
        missing = ids.encode(999_999)
    answer = app.test_client().delete(
        f"/api/filters/uris/{missing}",
        headers={"Authorization": f"Bearer {world.token['sysadmin']}", "Accept-Language": "fr"})
    assert answer.status_code == 404 and answer.json["detail"] == "No uriBl filter found with given id."


def test_the_sender_explainer_speaks_the_readers_language(app: Flask, world: World) -> None:
    """The verdict, the rule types and every reason in French on the page; the API still says them in English."""
    client = _sign_in(app, "root", "fr")
    page = html.unescape(client.get("/admin/explain?sender=spammer@bad.example&recipient=user@a.example").text)
    assert "<strong>Bloquer</strong>" in page and "bloque cette adresse exacte." in page
    assert "blocks the exact address" not in page and "<strong>BLOCK</strong>" not in page
    answer = app.test_client().get("/api/wblist/decision?sender=spammer@bad.example&recipient=user@a.example",
                                   headers={**world.headers("sysadmin"), "Accept-Language": "fr"})
    assert answer.status_code == 200 and answer.json["reason"].endswith("blocks the exact address.")



def test_mail_store_refusals_are_translated_where_they_are_shown(app: Flask, tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "absent")
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        with pytest.raises(NotFound) as missing:
            store.message("INBOX", "x")
        assert str(missing.value.detail) == "Cette boîte n'a pas encore de stockage de courrier."
    assert english(missing.value.detail) == "This mailbox has no mail store yet."
