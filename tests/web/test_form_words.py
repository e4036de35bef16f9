"""Bad input on every form: a 4xx that keeps what was typed and says what is wrong next to the field, in
plain words naming it, in the reader's language (issue 11, item 6 and "Bad input")."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.schemas.validation import message_for
from portal.words import Text, english, yes_no
from tests.conftest import csrf_token, login
from tests.world import PASSWORD, World


@dataclass(frozen=True)
class Case:
    """One form: where it is, what is typed, which typed values must come back, which field is refused and
    the words said next to it (per language)."""

    who: str  # an admin login, or a mailbox address
    page: str  # the form's page (a format string over the world's public ids)
    post: str  # where it posts
    data: dict[str, str]
    kept: tuple[str, ...]  # typed values the answer shows again
    refused: str  # the name of the input the message stands next to
    said: dict[str, str] = field(default_factory=dict)  # language -> the words


PASSWORD_SHORT = {"en": "The password must be at least 10 characters long.",
                  "fr": "Le mot de passe doit contenir au moins 10 caractères.",
                  "ru": "Пароль: не менее 10 символов."}
BAD_EMAIL = {"en": "“foo@” is not a valid email address.", "fr": "« foo@ » n'est pas une adresse e-mail valide.",
             "ru": "«foo@» — недопустимый адрес эл. почты."}
NAME_REQUIRED = {"en": "The name is required.", "fr": "Le nom est obligatoire.", "ru": "Имя: обязательное поле."}

IDS = ("A", "B1", "C1", "userA", "domainA", "server")

CASES = {
    "admin": Case("root", "/admin/admins/new", "/admin/admins/new", {
        "login": "typed-login", "display_name": "Typed Name", "email": "foo@", "password": "long enough password",
        "language": "EN", "object_type": "DOMAIN", "object_name": "a.example", "permissions": "DOMAIN_READ"},
        ("typed-login", "Typed Name", "foo@"), "email", BAD_EMAIL),
    "admin password": Case("root", "/admin/admins/new", "/admin/admins/new", {
        "login": "typed-login", "display_name": "Typed Name", "email": "typed@example.org", "password": "short",
        "language": "EN", "object_type": "DOMAIN", "object_name": "a.example", "permissions": "DOMAIN_READ"},
        ("typed-login", "Typed Name", "typed@example.org"), "password", PASSWORD_SHORT),
    "customer": Case("root", "/admin/customers", "/admin/customers", {
        "name": "", "description": "Typed description", "external_id": "typed-ext", "broker_id": "{B1}"},
        ("Typed description", "typed-ext"), "name", NAME_REQUIRED),
    "broker": Case("root", "/admin/customers", "/admin/brokers", {
        "broker_name": "Broker One", "broker_description": "Typed broker"},
        ("Typed broker",), "broker_name", {"en": "A broker named “Broker One” exists already.",
                                            "fr": "Un revendeur nommé « Broker One » existe déjà.",
                                            "ru": "Брокер «Broker One» уже существует."}),
    "token": Case("root", "/account/tokens", "/account/tokens", {"name": "Typed token", "expiration": "2000-01-01"},
                  ("Typed token", "2000-01-01"), "expiration", {
                      "en": "The expiration date must be in the future.",
                      "fr": "La date d'expiration doit être dans le futur.",
                      "ru": "Срок действия должен быть в будущем."}),
    "account": Case("root", "/account", "/account", {
        "display_name": "Typed Name", "email": "foo@", "language": "EN"}, ("Typed Name", "foo@"), "email", BAD_EMAIL),
    "domain": Case("root", "/admin/domains/new", "/admin/domains/new", {
        "name": "bad..name", "customer_id": "{C1}", "status": "ENABLED", "default_language": "EN",
        "description": "Typed description", "transport_dest": "relay.example", "transport_port": "25"},
        ("bad..name", "Typed description", "relay.example"), "name", {
            "en": "“bad..name” is not a valid domain name.", "fr": "« bad..name » n'est pas un nom de domaine valide.",
            "ru": "«bad..name» — недопустимое имя домена."}),
    "user": Case("root", "/admin/domains/{A}/users", "/admin/domains/{A}/users", {
        "local_part": "typed", "firstname": "Typed First", "lastname": "Typed Last", "password": "short"},
        ("typed", "Typed First", "Typed Last"), "password", PASSWORD_SHORT),
    "sender rule": Case("root", "/admin/domains/{A}/rules/senders", "/admin/domains/{A}/rules/senders", {
        "value": "bad value", "type": "BLOCK", "description": "Typed description"},
        ("bad value", "Typed description"), "value", {
            "en": "“bad value” is neither an email address nor a domain name.",
            "fr": "« bad value » n'est ni une adresse e-mail ni un nom de domaine.",
            "ru": "«bad value» — не адрес эл. почты и не имя домена."}),
    "uri rule": Case("root", "/admin/domains/{A}/rules/uris", "/admin/domains/{A}/rules/uris", {
        "action": "BLACKLIST_URI_HOST", "filter": "bad host!", "description": "Typed description"},
        ("bad host!", "Typed description"), "filter", {
            "en": "Give a domain name such as example.com.", "fr": "Indiquez un nom de domaine comme example.com.",
            "ru": "Укажите имя домена, например example.com."}),
    "email alias": Case("root", "/admin/domains/{A}/rules/groups", "/admin/domains/{A}/rules/groups", {
        "email": "group@elsewhere.example", "recipients": "user@a.example"},
        ("group@elsewhere.example", "user@a.example"), "email", {
            "en": "The address must be in a.example or one of its aliases.",
            "fr": "L'adresse doit être dans a.example ou l'un de ses alias.",
            "ru": "Адрес должен быть в домене a.example или одном из его псевдонимов."}),  # noqa: RUF001
    "attachment rule": Case("root", "/admin/domains/{A}/rules/attachments", "/admin/domains/{A}/rules/attachments", {
        "action": "DENY", "check_type": "FILENAME", "filter": "x{1,99999}", "priority": "7",
        "description": "Typed description"},
        ("x{1,99999}", "7", "Typed description"), "filter", {
            "en": "A repeat count may be at most 10000.", "fr": "Un nombre de répétitions vaut au plus 10000.",
            "ru": "Число повторений — не больше 10000."}),
    "domain alias": Case("root", "/admin/domains/{A}/tab/aliases", "/admin/domains/{A}/aliases", {"alias": "bad..x"},
                         ("bad..x",), "alias", {
                             "en": "“bad..x” is not a valid domain name.",
                             "fr": "« bad..x » n'est pas un nom de domaine valide.",
                             "ru": "«bad..x» — недопустимое имя домена."}),
    "provider": Case("root", "/admin/providers", "/admin/providers", {"name": "Typed provider",
                                                                      "spf_provider": "bad host!"},
                     ("Typed provider", "bad host!"), "spf_provider", {
                         "en": "“bad host!” is not a DNS name such as _spf.example.com.",
                         "fr": "« bad host! » n’est pas un nom DNS comme _spf.example.com.",  # noqa: RUF001
                         "ru": "«bad host!» — не DNS-имя вида _spf.example.com."}),
    "policy": Case("root", "/admin/domains/{A}/policies/new", "/admin/domains/{A}/policies/new", {
        "name": "Typed policy", "mailSizeLimit": "99999"}, ("Typed policy", "99999"), "mailSizeLimit", {
            "en": "The mail size limit must be at most 2048.", "fr": "La taille maximale des messages doit valoir au "
            "plus 2048.", "ru": "Предельный размер письма: не больше 2048."}),
    "mail server": Case("root", "/admin/mailservers/new", "/admin/mailservers/new", {
        "name": "Typed server", "protocol": "SMTP", "host": "bad host!", "port": "", "security": "STARTTLS",
        "certificate": "DEFAULT", "auth": "NO_AUTH", "sender_name": "Typed sender"},
        ("Typed server", "bad host!", "Typed sender"), "host", {
            "en": "“bad host!” is not a host name or an IP address.",
            "fr": "« bad host! » n'est pas un nom d'hôte ni une adresse IP.",
            "ru": "«bad host!» — не имя узла и не IP-адрес."}),
    "mail server edit": Case("root", "/admin/mailservers/{server}", "/admin/mailservers/{server}", {
        "name": "Loopback relay", "protocol": "SMTP", "host": "127.0.0.1", "port": "70000", "security": "NONE",
        "certificate": "DEFAULT", "auth": "NO_AUTH", "remark": "Typed remark"},
        ("70000", "Typed remark"), "port", {
            "en": "The port must be at most 65535.", "fr": "Le port doit valoir au plus 65535.",
            "ru": "Порт: не больше 65535."}),
    "option": Case("root", "/admin/options", "/admin/options", {"name": "SUPPORT_EMAIL", "value": "foo@"},
                   ("foo@",), "value", BAD_EMAIL),
    "user edit": Case("root", "/admin/users/{userA}", "/admin/users/{userA}", {
        "firstname": "Typed First", "lastname": "Typed Last", "password": "short", "status": "ENABLED"},
        ("Typed First", "Typed Last"), "password", PASSWORD_SHORT),
    "signature": Case("user@a.example", "/me/signature", "/me/signature", {"sign": "<p>Typed</p>" + "x" * 20001},
                      ("<p>Typed</p>" + "x" * 20001,), "sign", {
                          "en": "The signature may be at most 20000 bytes.",
                          "fr": "La signature fait au plus 20000 octets.", "ru": "Подпись — не более 20000 байт."}),
    "admin edit": Case("root", "/admin/admins/{domainA}", "/admin/admins/{domainA}", {
        "display_name": "Typed Name", "email": "foo@", "language": "EN"}, ("Typed Name", "foo@"), "email", BAD_EMAIL),
    "platform": Case("root", "/admin/domains/{A}/tab/platforms", "/admin/domains/{A}/platforms", {
        "name": "Typed relay", "transport_dest": "bad host!", "transport_port": "25", "transport_type": "SMTP",
        "auth_type": "local"}, ("Typed relay", "bad host!"), "transport_dest", {
            "en": "“bad host!” is not a host name or an IP address.",
            "fr": "« bad host! » n'est pas un nom d'hôte ni une adresse IP.",
            "ru": "«bad host!» — не имя узла и не IP-адрес."}),
    "domain settings": Case("root", "/admin/domains/{A}/tab/settings", "/admin/domains/{A}/settings", {
        "status": "ENABLED", "description": "Typed description", "outgoing_subnets": "192.0.2.1/24",
        "wblist_priority": "DOMAIN", "default_language": "EN"}, ("Typed description",), "outgoing_subnets", {
            "en": "“192.0.2.1/24” has host bits set; did you mean 192.0.2.0/24?",
            "fr": "« 192.0.2.1/24 » a des bits d'hôte ; vouliez-vous dire 192.0.2.0/24 ?",
            "ru": "В «192.0.2.1/24» заданы биты узла; может быть, 192.0.2.0/24?"}),  # noqa: RUF001
    "domain admins": Case("root", "/admin/domains/{A}/tab/admins", "/admin/domains/{A}/admins", {
        "login": "reader-a"}, ("reader-a",), "permissions", {
            "en": "Give at least one permission.", "fr": "Donnez au moins une permission.",
            "ru": "Выдайте хотя бы одно право."}),
    "compose": Case("user@a.example", "/me/compose", "/me/compose", {
        "to": "foo@", "subject": "Typed subject", "body": "Typed body"},
        ("foo@", "Typed subject", "Typed body"), "to", BAD_EMAIL),
    "senders": Case("user@a.example", "/me/senders", "/me/senders", {
        "value": "bad value", "type": "BLOCK", "description": "Typed description"},
        ("bad value",), "value", {
            "en": "“bad value” is neither an email address nor a domain name.",
            "fr": "« bad value » n'est ni une adresse e-mail ni un nom de domaine.",
            "ru": "«bad value» — не адрес эл. почты и не имя домена."}),
}


def _fill(text: str, world: World) -> str:
    """A page, a path or a value with the world's public ids in place of {A}, {B1}, ..."""
    for name in IDS:
        text = text.replace(f"{{{name}}}", world.id(name))
    return text


def _sign_in(app: Flask, who: str, lang: str) -> FlaskClient:
    client = app.test_client()
    if "@" in who:
        page = client.get("/me/login")
        client.post("/me/login", data={"csrf_token": csrf_token(page.text), "email": who, "password": PASSWORD})
    else:
        login(client, who, PASSWORD)
    with client.session_transaction() as session:
        session["lang"] = lang.upper()
    return client


def _next_to(page: str, name: str, words: str) -> bool:
    """The words stand right after the field named `name`: the last input, select or textarea before them."""
    found = page.find(f">{words}<")
    fields = re.findall(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"', page[:max(found, 0)])
    return found >= 0 and [f for f in fields if f != "csrf_token"][-1:] == [name]


@pytest.mark.parametrize("lang", ["en", "fr", "ru"])
@pytest.mark.parametrize("form", sorted(CASES))
def test_bad_input_keeps_what_was_typed_and_says_why_next_to_the_field(
        app: Flask, world: World, form: str, lang: str) -> None:
    case = CASES[form]
    client = _sign_in(app, case.who, lang)
    url = _fill(case.page, world)
    page = client.get(url)
    assert page.status_code == 200, url
    data = {k: _fill(v, world) for k, v in case.data.items()}
    answer = client.post(_fill(case.post, world), data={"csrf_token": csrf_token(page.text), **data})
    text = html.unescape(answer.text)
    assert 400 <= answer.status_code < 500, (form, answer.status_code)
    for value in case.kept:
        assert f'value="{value}"' in text or f">{value}</textarea>" in text, (form, value)
    assert _next_to(text, case.refused, case.said[lang]), (form, lang, case.said[lang])


def test_every_pydantic_error_names_its_field_in_plain_words() -> None:
    """The mapping: the field's label, the limit or the value; never pydantic's own sentence."""
    cases = [
        (("password",), "string_too_short", {"min_length": 10}, "short",
         "The password must be at least 10 characters long."),
        (("name",), "string_too_short", {"min_length": 1}, "", "The name is required."),
        (("description",), "string_too_long", {"max_length": 1}, "ab",
         "The description must be at most 1 character long."),
        (("email",), "value_error", {"reason": "x"}, "foo@", "“foo@” is not a valid email address."),
        (("to", 0), "value_error", {"reason": "x"}, "foo@", "“foo@” is not a valid email address."),
        (("login",), "string_pattern_mismatch", {"pattern": r"^[^\s]+$"}, "a b", "The login must not contain spaces."),
        (("language",), "enum", {"expected": "'EN', 'FR' or 'DE'"}, "xx", "The language must be one of: EN, FR, DE."),
        (("priority",), "less_than_equal", {"le": 1000}, 5000, "The priority must be at most 1000."),
        (("expiration",), "int_parsing", {}, "soon", "The expiry date must be a whole number."),
        (("surprise",), "extra_forbidden", {}, 1, "The field “surprise” is not a known field."),
        (("authorities", 0, "objectId"), "missing", {}, None, "The broker, customer or domain is required."),
    ]
    for loc, kind, ctx, value, words in cases:
        message = message_for(loc, kind, ctx, value)
        assert isinstance(message, Text) and english(message) == words, (loc, kind)


def test_a_message_is_translated_when_shown_and_escaped_in_pages(app: Flask) -> None:
    message = message_for(("email",), "value_error", {"reason": "x"}, "<b>@")
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert str(message) == "« <b>@ » n'est pas une adresse e-mail valide."
        assert str(yes_no(True)) == "Oui" and str(yes_no(False)) == "Non"
        rendered = app.jinja_env.from_string("{{ m }}").render(m=message)
        assert "&lt;b&gt;@" in rendered and "<b>" not in rendered
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        short = message_for(("password",), "string_too_short", {"min_length": 2}, "x")
        assert str(short) == "Пароль: не менее 2 символов."
    assert english(message) == "“<b>@” is not a valid email address."  # the API's and the command line's words


def test_the_api_keeps_english_whatever_the_browser_asks(client: FlaskClient, world: World) -> None:
    answer = client.patch(f"/api/security/admins/{world.id('domainA')}", json={"email": "foo@"},
                          headers={"Authorization": f"Bearer {world.token['sysadmin']}", "Accept-Language": "fr"})
    assert answer.status_code == 400
    messages = {e["field"]: e["message"] for e in answer.json["errors"]}
    assert messages["email"] == "“foo@” is not a valid email address."


def test_the_wordings_people_read(app: Flask, world: World) -> None:
    """Yes/No for booleans, words for enumeration values, counted lines through ngettext, the permission
    lines written for their reader, and the right message after adding an alias."""
    admin = _sign_in(app, "root", "fr")
    senders = f"/admin/domains/{world.id('A')}/rules/senders"
    page = admin.get(senders)
    admin.post(senders, data={"csrf_token": csrf_token(page.text), "value": "friend@x.example", "type": "ALLOW",
                              "spf_on": "on"})
    admin.post(senders, data={"csrf_token": csrf_token(page.text), "value": "foe@x.example", "type": "BLOCK"})
    table = html.unescape(admin.get(senders).text)
    assert ">Oui</td>" in table and ">Non</td>" in table and ">True<" not in table and ">False<" not in table
    assert ">Autoriser</td>" in table and ">Bloquer</td>" in table
    groups = f"/admin/domains/{world.id('A')}/rules/groups"
    added = admin.post(groups, data={"csrf_token": csrf_token(page.text), "email": "team@a.example",
                                     "recipients": "user@a.example"}, follow_redirects=True)
    assert "Alias e-mail ajouté." in html.unescape(added.text) and "Règle ajoutée." not in html.unescape(added.text)
    preview = admin.post(f"{senders}/import", data={"csrf_token": csrf_token(page.text), "mode": "merge",
                                                    "csv": "value,type\nnew@x.example,BLOCK\n"})
    assert "1 nouvelle règle" in html.unescape(preview.text)

    user = _sign_in(app, "user@a.example", "en")
    home = user.get("/me/").text
    assert "See your quarantined messages" in home and "one's" not in home
