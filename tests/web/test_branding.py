"""BRAND_COLOR and LOGO_URL style the portal: the colour as Pico's variables in /brand/<colour>.css, the logo as
an <img> whose origin that page's CSP allows; domain → customer → installation; bad values refused on save next
to the field, and a hostile stored value never reaching CSS or HTML."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import branding
from portal.extensions import db
from portal.models import Admin, MailUser, OptionValue
from portal.options import Scope
from portal.services import branding as brands
from portal.services.principal import principal_for_admin, principal_for_user
from tests.conftest import csrf_token, login
from tests.world import PASSWORD, World, add_page_roles

LOGO = "https://cdn.brand.example/acme/logo.png"


def _store(scope: Scope, object_id: int, name: str, value: str) -> None:
    """A value as stored, bypassing the checks (an old row, or one written by hand)."""
    row = db.session.scalar(select(OptionValue).where(OptionValue.scope == str(scope),
                                                      OptionValue.object_id == object_id, OptionValue.name == name))
    if row is None:
        db.session.add(OptionValue(scope=str(scope), object_id=object_id, name=name, value=value))
    else:
        row.value = value
    db.session.commit()


def _user_login(client: FlaskClient, email: str) -> None:
    client.delete_cookie("session")
    page = client.get("/me/login")
    response = client.post("/me/login", data={"csrf_token": csrf_token(page.text), "email": email,
                                              "password": PASSWORD})
    assert response.status_code == 302, response.text


def _sheet(html: str) -> str:
    found = re.search(r'<link rel="stylesheet" id="brand-css" href="/brand/([0-9a-f]{6})\.css">', html)
    assert found, "no brand stylesheet"
    return found.group(1)


def _img_src(response: object) -> str:
    csp = response.headers["Content-Security-Policy"]  # type: ignore[attr-defined]
    return re.search(r"img-src ([^;]*)", csp).group(1)  # type: ignore[union-attr]


# --- the stylesheet ------------------------------------------------------------------------------------------

def test_the_stylesheet_is_named_by_its_colour_and_cached_long(client: FlaskClient) -> None:
    sheet = client.get("/brand/c62828.css")
    assert sheet.status_code == 200 and sheet.mimetype == "text/css"
    assert "immutable" in sheet.headers["Cache-Control"] and "max-age=31536000" in sheet.headers["Cache-Control"]
    assert "Set-Cookie" not in sheet.headers
    assert "--pico-primary-background:#c62828" in sheet.text and "--pico-primary-inverse:#ffffff" in sheet.text
    for key in ("C62828", "c6282", "c62828;", "red", "red;}body{display:none", "..%2f..%2fapp"):
        assert client.get(f"/brand/{key}.css").status_code == 404, key


@pytest.mark.parametrize("value", ["#1e88e5", "#ffeb3b", "#000000", "#ffffff", "#777777", "#ff9800", "#0172ad"])
def test_text_on_and_in_the_brand_colour_stays_readable(value: str) -> None:
    for theme, page in (("light", branding.LIGHT_SURFACE), ("light", branding.WHITE), ("dark", branding.DARK_PAGE)):
        colours = branding.palette(value)[theme]
        assert branding.contrast(colours["--pico-primary"], page) >= 4.5, theme
        assert branding.contrast(colours["--pico-primary-background"], colours["--pico-primary-inverse"]) >= 4.5
        assert branding.contrast(colours["--pico-primary-hover-background"], colours["--pico-primary-inverse"]) >= 4.5


# --- whose brand ---------------------------------------------------------------------------------------------

def test_domain_then_customer_then_installation(app: Flask, world: World) -> None:
    with app.app_context():
        add_page_roles(world)
        db.session.commit()
        user_a, user_c = (db.session.get(MailUser, world.pk[n]) for n in ("userA", "userC"))
        assert brands.for_principal(principal_for_user(user_a)) == brands.DEFAULT  # nothing set: the default
        _store(Scope.PLATFORM, 0, "BRAND_COLOR", "#111111")
        _store(Scope.CUSTOMER, world.pk["C1"], "BRAND_COLOR", "#222222")
        _store(Scope.DOMAIN, world.pk["A"], "BRAND_COLOR", "#333333")
        _store(Scope.CUSTOMER, world.pk["C1"], "LOGO_URL", LOGO)

        def color(user: MailUser) -> str:
            return brands.for_principal(principal_for_user(user)).color

        assert color(user_a) == "#333333" and brands.for_principal(principal_for_user(user_a)).logo == LOGO
        assert color(db.session.get(MailUser, world.pk["userB"])) == "#222222"  # B: its customer's
        assert color(user_c) == "#111111" and brands.for_principal(principal_for_user(user_c)).logo is None
        _store(Scope.DOMAIN, world.pk["A"], "BRAND_COLOR", "red;}body{display:none")  # checked again on use
        assert color(user_a) == "#222222"
        _store(Scope.CUSTOMER, world.pk["C1"], "BRAND_COLOR", "#12345")
        assert color(user_a) == "#111111"

        def admin(login_name: str) -> str:
            account = db.session.scalar(select(Admin).where(Admin.login == login_name))
            return brands.for_principal(principal_for_admin(account)).color

        _store(Scope.DOMAIN, world.pk["A"], "BRAND_COLOR", "#333333")
        _store(Scope.CUSTOMER, world.pk["C1"], "BRAND_COLOR", "#222222")
        assert admin("admin-a") == admin("helpdesk-a") == "#333333"  # a domain's admins: the domain's
        assert admin("customer1") == "#222222"  # a customer's: the customer's
        assert admin("root") == admin("broker1") == admin("admin-ac") == "#111111"  # wider or mixed: the installation's


# --- pages ---------------------------------------------------------------------------------------------------

def test_colour_and_logo_reach_the_users_pages(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        add_page_roles(world)
        db.session.commit()
    assert login(client, "admin-a", PASSWORD).status_code == 302
    token = csrf_token(client.get("/").text)
    url = f"/admin/domains/{world.id('A')}/options"
    assert client.post(url, data={"csrf_token": token, "name": "BRAND_COLOR", "value": " #C00 "}).status_code == 302
    assert client.post(url, data={"csrf_token": token, "name": "LOGO_URL", "value": LOGO}).status_code == 302
    admin_page = client.get("/")
    assert _sheet(admin_page.text) == "cc0000" and f'src="{LOGO}"' in admin_page.text  # admin-a's scope: A
    _user_login(client, "user@a.example")
    home = client.get("/me/")
    assert _sheet(home.text) == "cc0000"
    assert re.search(rf'<img src="{re.escape(LOGO)}" alt="[^"]+" class="brand-logo">', home.text)
    assert _img_src(home).split() == ["'self'", "data:", "https://cdn.brand.example"]
    sheet = client.get("/brand/cc0000.css")
    assert "--pico-primary-background:#cc0000" in sheet.text
    fragment = client.get("/me/quarantine", headers={"HX-Request": "true"})  # no logo shown: no origin allowed
    assert "brand-logo" not in fragment.text and _img_src(fragment).split() == ["'self'", "data:"]
    _user_login(client, "user@c.example")  # another broker: the installation's brand, no logo
    other = client.get("/me/")
    assert _sheet(other.text) == "1e88e5" and "brand-logo" not in other.text
    assert "cdn.brand.example" not in other.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("name", "value", "message"), [
    ("BRAND_COLOR", "red;}body{display:none", "is not a colour"),
    ("BRAND_COLOR", "#12345", "is not a colour"),
    ("BRAND_COLOR", "blue", "is not a colour"),
    ("LOGO_URL", "javascript:alert(1)", "must be an https:// address"),
    ("LOGO_URL", "http://cdn.brand.example/logo.png", "must be an https:// address"),
    ("LOGO_URL", 'https://cdn.brand.example/x.png" onerror="alert(1)', "must be an https:// address"),
    ("LOGO_URL", "https://user:pw@cdn.brand.example/logo.png", "must be an https:// address"),
    ("LOGO_URL", "https://cdn.brand.example;img-src *", "must be an https:// address"),
])
def test_bad_values_are_refused_next_to_the_field(client: FlaskClient, world: World, name: str, value: str,
                                                  message: str) -> None:
    assert login(client, "customer1", PASSWORD).status_code == 302
    token = csrf_token(client.get("/").text)
    response = client.post(f"/admin/customers/{world.id('C1')}/options",
                           data={"csrf_token": token, "name": name, "value": value})
    assert response.status_code == 400
    cell = re.search(rf'name="name" value="{name}">.*?</td>', response.text, re.S)
    assert cell and message in cell.group(0) and 'class="field-error"' in cell.group(0)
    assert 'aria-invalid="true"' in cell.group(0)
    assert "display:none" not in _sheet(client.get("/").text)
    assert "javascript:" not in client.get("/").text and "onerror=" not in client.get("/").text


def test_the_message_is_in_the_readers_language(client: FlaskClient, world: World) -> None:
    assert login(client, "root", PASSWORD).status_code == 302
    token = csrf_token(client.get("/").text)
    client.post("/language", data={"csrf_token": token, "lang": "FR", "next": "/"})
    response = client.post("/admin/options", data={"csrf_token": token, "name": "BRAND_COLOR", "value": "bleu"})
    assert response.status_code == 400 and "pas une couleur" in response.text


def test_a_hostile_stored_value_never_reaches_css_or_html(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        _store(Scope.DOMAIN, world.pk["A"], "BRAND_COLOR", "red;}body{display:none")
        _store(Scope.DOMAIN, world.pk["A"], "LOGO_URL", "javascript:alert(1)")
        _store(Scope.CUSTOMER, world.pk["C1"], "LOGO_URL", 'https://x.example/"><script>alert(1)</script>')
    _user_login(client, "user@a.example")
    home = client.get("/me/")
    assert _sheet(home.text) == "1e88e5"
    assert "javascript:" not in home.text and "<script>alert" not in home.text and "brand-logo" not in home.text
    assert _img_src(home).split() == ["'self'", "data:"]


def test_the_login_page_wears_the_named_domains_brand(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        _store(Scope.DOMAIN, world.pk["A"], "BRAND_COLOR", "#2e7d32")
        _store(Scope.DOMAIN, world.pk["A"], "LOGO_URL", LOGO)
        _store(Scope.CUSTOMER, world.pk["C2"], "BRAND_COLOR", "#6a1b9a")
        _store(Scope.CUSTOMER, world.pk["C2"], "APP_URL", "https://mail.customer-two.example/")
    plain = client.get("/me/login")
    assert _sheet(plain.text) == "1e88e5" and "brand-logo" not in plain.text
    for named in ("a.example", "A.Example", "alias-of-a.example"):
        page = client.get(f"/me/login?domain={named}")
        assert page.status_code == 200 and _sheet(page.text) == "2e7d32", named
        assert f'src="{LOGO}"' in page.text and "https://cdn.brand.example" in _img_src(page)
        assert 'action="/me/login?domain=' in page.text  # a failed sign-in stays branded
    assert _sheet(client.get("/me/login", headers={"Host": "a.example"}).text) == "2e7d32"
    assert _sheet(client.get("/me/login", headers={"Host": "mail.customer-two.example:8443"}).text) == "6a1b9a"
    # an unknown or invalid name: the installation's page, the same answer as without a name
    for unknown in ("nowhere.example", "<script>", "a" * 300, "c.example"):
        page = client.get("/me/login", query_string={"domain": unknown})
        expected = "1e88e5" if unknown != "c.example" else "6a1b9a"  # c.example is of customer two
        assert page.status_code == 200 and _sheet(page.text) == expected, unknown
        assert "<script>" not in page.text.split("<main", 1)[1]
    assert client.get("/login?domain=a.example").status_code == 200
