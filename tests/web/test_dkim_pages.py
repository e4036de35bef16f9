"""The domain's DKIM tab: records to publish with copy buttons, generate / delete for system administrators,
rotate / check DNS / cancel with DKIM_EDIT, refusals shown next to the field with nothing saved, and never a
private key on a page."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import DkimKey
from tests import dkim_keys as keys
from tests.api.test_dkim import serving, txt_zone
from tests.conftest import csrf_token, login
from tests.snapshot import snapshot
from tests.world import PASSWORD, World


def _as(client: FlaskClient, who: str) -> str:
    client.delete_cookie("session")
    assert login(client, who, PASSWORD).status_code == 302
    return csrf_token(client.get("/").text)


def _tab(world: World, domain: str = "A") -> str:
    return f"/admin/domains/{world.id(domain)}/tab/dkim"


def _post(client: FlaskClient, world: World, token: str, action: str, domain: str = "A", **form: str) -> object:
    return client.post(f"/admin/domains/{world.id(domain)}/dkim/{action}", data={"csrf_token": token, **form})


def _states(app: Flask, world: World, domain: str = "A") -> list[tuple[str, str]]:
    with app.app_context():
        return sorted((k.selector, k.state) for k in db.session.scalars(
            select(DkimKey).where(DkimKey.domain_id == world.pk[domain])))


def _no_private(text: str) -> None:
    assert "PRIVATE" not in text and "BEGIN" not in text


def test_tab_shows_records_to_copy(client: FlaskClient, world: World) -> None:
    _as(client, "admin-b")
    page = client.get(_tab(world, "B"))
    assert page.status_code == 200 and 'id="tab-dkim"' in page.text
    assert "protect._domainkey.b.example" in page.text and f"v=DKIM1; p={keys.WORLD_PUBLIC}" in page.text
    assert page.text.count('data-copy="#active-') == 2  # the name and the value
    assert "Prepare a new key" in page.text  # DKIM_EDIT
    assert "Generate a DKIM key" not in page.text and "Delete the DKIM keys" not in page.text  # sysadmin only
    _no_private(page.text)
    fragment = client.get(_tab(world, "B"), headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and 'id="dkim-active"' in fragment.text
    assert f'href="{_tab(world, "B")}"' in client.get(f"/admin/domains/{world.id('B')}/tab/settings").text


def test_generate_and_delete_as_sysadmin(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "root")
    page = client.get(_tab(world))
    assert "This domain has no DKIM key" in page.text and "Generate a DKIM key" in page.text
    assert _post(client, world, token, "generate").status_code == 302
    page = client.get(_tab(world))
    assert "protect._domainkey.a.example" in page.text and "protect._domainkey.alias-of-a.example" in page.text
    assert "publish its records" in page.text  # the flash
    _no_private(page.text)
    assert 'data-confirm="Delete every DKIM key of a.example?' in page.text
    again = _post(client, world, token, "generate")
    assert again.status_code == 409 and "has a DKIM key already" in again.text
    assert _post(client, world, token, "delete").status_code == 302
    assert _states(app, world) == []


def test_domain_admin_may_not_generate(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-a")
    assert "Generate a DKIM key" not in client.get(_tab(world)).text
    assert _post(client, world, token, "generate").status_code == 403
    assert _post(client, world, token, "generate", domain="B").status_code == 404
    assert _states(app, world) == []


def test_rotation_on_the_page(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-b")
    with app.app_context():
        before = snapshot()
    for bad in ("protect", "two.labels", "with space"):
        refused = _post(client, world, token, "rotation", domain="B", selector=bad)
        assert refused.status_code == 400 and 'aria-invalid="true"' in refused.text, bad
        assert f'value="{bad}"' in refused.text
    with app.app_context():
        assert snapshot() == before
    assert _post(client, world, token, "rotation", domain="B", selector="s2").status_code == 302
    page = client.get(_tab(world, "B"))
    assert 'id="dkim-pending"' in page.text and "s2._domainkey.b.example" in page.text
    assert "Check DNS now" in page.text and "Cancel the rotation" in page.text and 'data-confirm="' in page.text
    assert "longer than 255 characters" in page.text  # a 2048-bit key's value: how to write it in a zone file
    _no_private(page.text)
    new_p = re.search(r'id="pending-value-1" class="dkim-text">v=DKIM1; p=([A-Za-z0-9+/=]+)<', page.text)
    assert new_p

    with serving(app, ""):  # not published yet
        assert _post(client, world, token, "rotation/check", domain="B").status_code == 302
    page = client.get(_tab(world, "B"))
    assert "DNS does not serve the new key yet at s2._domainkey.b.example" in page.text
    assert _states(app, world, "B") == [("protect", "active"), ("s2", "pending")]

    with serving(app, txt_zone("s2._domainkey.b.example", f"v=DKIM1; p={new_p.group(1)}")):
        assert _post(client, world, token, "rotation/check", domain="B").status_code == 302
    page = client.get(_tab(world, "B"))
    assert "It is safe to remove the record protect._domainkey.b.example" in page.text
    assert 'id="dkim-retired"' in page.text
    assert _states(app, world, "B") == [("protect", "retired"), ("s2", "active")]
    assert _post(client, world, token, "rotation/check", domain="B").status_code == 302  # nothing pending: said
    assert "No rotation is pending" in client.get(_tab(world, "B")).text


def test_check_during_a_dns_outage_changes_nothing(app: Flask, client: FlaskClient, world: World) -> None:
    import socket

    token = _as(client, "admin-b")
    _post(client, world, token, "rotation", domain="B", selector="s2")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    app.config.update(DNS_SERVERS=[silent.getsockname()], DNS_TIMEOUT=0.3)
    try:
        assert _post(client, world, token, "rotation/check", domain="B").status_code == 302
    finally:
        app.config.update(DNS_SERVERS=[])
        silent.close()
    assert "DNS did not answer in time" in client.get(_tab(world, "B")).text
    assert _states(app, world, "B") == [("protect", "active"), ("s2", "pending")]


def test_cancel_and_reader(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-b")
    _post(client, world, token, "rotation", domain="B", selector="s2")
    assert _post(client, world, token, "rotation/cancel", domain="B").status_code == 302
    assert _states(app, world, "B") == [("protect", "active")]
    token = _as(client, "reader-a")  # DOMAIN_READ on A: sees the tab, changes nothing
    page = client.get(_tab(world))
    assert page.status_code == 200 and "no DKIM key" in page.text and "Prepare a new key" not in page.text
    assert _post(client, world, token, "rotation", selector="s2").status_code == 403
    assert _post(client, world, token, "rotation/check").status_code == 403


def test_tab_in_french(client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-b")
    client.post("/language", data={"csrf_token": token, "lang": "FR"})
    page = client.get(_tab(world, "B"))
    assert page.status_code == 200 and "protect._domainkey.b.example" in page.text
