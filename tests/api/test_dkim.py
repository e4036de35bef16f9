"""/api/domains/{id}/dkim (seed 5.6) and the rotation extension: the seed's shapes and codes, keys checked before
anything is saved, a new key active only once DNS serves it, and no private key in any answer."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.extensions import db
from portal.models import DkimKey
from tests import dkim_keys as keys
from tests.services_runtime import dns_server
from tests.snapshot import snapshot
from tests.world import World

RECORD = re.compile(r"^(?P<selector>[a-z0-9-]+)\._domainkey\.(?P<name>[a-z0-9.-]+) TXT "
                    r"v=DKIM1; p=(?P<p>[A-Za-z0-9+/=]+)$")


def _url(world: World, domain: str = "A", tail: str = "") -> str:
    return f"/api/domains/{world.id(domain)}/dkim{tail}"


def _no_private(response: Any) -> None:
    text = response.get_data(as_text=True)
    assert "PRIVATE" not in text


def _keys(app: Flask, world: World, domain: str = "A") -> list[tuple[str, str]]:
    with app.app_context():
        return [(k.selector, k.state) for k in db.session.scalars(
            select(DkimKey).where(DkimKey.domain_id == world.pk[domain]).order_by(DkimKey.id))]


def txt_zone(name: str, value: str) -> str:
    """A zone line for a TXT record, split in strings of at most 255 bytes as DNS wants them."""
    parts = " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))
    return f"{name}. 300 IN TXT {parts}\n"


# --- the seed's examples ---------------------------------------------------------------------------------------

def test_seed_examples(app: Flask, client: FlaskClient, world: World) -> None:
    """POST answers 201 and the records (domain first, then its aliases); GET the same; PUT 200; DELETE 204."""
    h = world.headers("sysadmin")
    assert client.get(_url(world), headers=h).status_code == 404  # none yet
    created = client.post(_url(world), headers={**h, "Content-Type": "application/json"})
    assert created.status_code == 201 and created.mimetype == "application/json"
    assert created.headers["Location"].endswith(_url(world))
    records = created.get_json()
    assert isinstance(records, list) and len(records) == 2
    found = [RECORD.match(r) for r in records]
    assert all(found), records
    assert [m["name"] for m in found] == ["a.example", "alias-of-a.example"]  # type: ignore[index]
    assert {m["selector"] for m in found} == {"protect"}  # type: ignore[index]
    assert len({m["p"] for m in found}) == 1  # type: ignore[index]
    assert len(found[0]["p"]) > 350  # type: ignore[index]  (RSA 2048 by default: the seed's example's length)
    _no_private(created)
    got = client.get(_url(world), headers=h)
    assert got.status_code == 200 and got.get_json() == records
    again = client.post(_url(world), headers=h)
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    put = client.put(_url(world), headers=h, json={"privateKey": keys.WORLD_PRIVATE, "publicKey": keys.WORLD_PUBLIC,
                                                    "selector": "s1"})
    assert put.status_code == 200, put.get_data(as_text=True)
    assert put.get_json() == [f"s1._domainkey.a.example TXT v=DKIM1; p={keys.WORLD_PUBLIC}",
                              f"s1._domainkey.alias-of-a.example TXT v=DKIM1; p={keys.WORLD_PUBLIC}"]
    _no_private(put)
    assert client.delete(_url(world), headers=h).status_code == 204
    assert client.get(_url(world), headers=h).status_code == 404
    assert client.delete(_url(world), headers=h).status_code == 404
    assert _keys(app, world) == []


def test_post_takes_an_optional_dkim_dto(app: Flask, client: FlaskClient, world: World) -> None:
    """The seed gives POST a DkimDTO body (its example sends none): a selector, or a pair to use."""
    h = world.headers("sysadmin")
    with app.app_context():
        before = snapshot()
    for bad, field in (({"selector": "a.b"}, "selector"), ({"publicKey": keys.WORLD_PUBLIC}, "privateKey"),
                       ({"privateKey": keys.WORLD_PRIVATE, "publicKey": keys.OTHER_PUBLIC}, "publicKey"),
                       ({"privateKey": keys.EC_PRIVATE}, "privateKey")):
        refused = client.post(_url(world), headers=h, json=bad)
        assert refused.status_code == 400 and field in [e["field"] for e in refused.get_json()["errors"]], bad
    with app.app_context():
        assert snapshot() == before
    given = client.post(_url(world), headers=h, json={"privateKey": keys.WORLD_PRIVATE, "selector": "given"})
    assert given.status_code == 201
    assert given.get_json()[0] == f"given._domainkey.a.example TXT v=DKIM1; p={keys.WORLD_PUBLIC}"
    client.delete(_url(world), headers=h)
    chosen = client.post(_url(world), headers=h, json={"selector": "mine"})
    assert chosen.status_code == 201 and chosen.get_json()[0].startswith("mine._domainkey.a.example TXT v=DKIM1; p=")
    client.delete(_url(world), headers=h)
    assert client.post(_url(world), headers=h, json={}).status_code == 201  # an empty DTO: generated


def test_private_key_encrypted_at_rest(app: Flask, client: FlaskClient, world: World) -> None:
    client.put(_url(world), headers=world.headers("sysadmin"), json={"privateKey": keys.WORLD_PRIVATE})
    with app.app_context():
        key = db.session.scalar(select(DkimKey).where(DkimKey.domain_id == world.pk["A"]))
        assert key is not None and "PRIVATE" not in key.private_key_enc and key.public_key == keys.WORLD_PUBLIC
        assert key.selector == "protect" and key.bits == 1024 and key.state == "active"


def test_options_choose_selector_and_size(app: Flask, client: FlaskClient, world: World) -> None:
    h = world.headers("sysadmin")
    for name, value in (("DKIM_SELECTOR", "mail2026"), ("DKIM_KEY_BITS", "1024")):
        assert client.post(f"/api/domains/{world.id('A')}/options", headers=h,
                           json={"name": name, "value": value}).status_code == 201
    records = client.post(_url(world), headers=h).get_json()
    assert records[0].startswith("mail2026._domainkey.a.example TXT v=DKIM1; p=")
    with app.app_context():
        assert db.session.scalar(select(DkimKey.bits).where(DkimKey.domain_id == world.pk["A"])) == 1024
    for name, value in (("DKIM_SELECTOR", "two.labels"), ("DKIM_SELECTOR", "with space"), ("DKIM_KEY_BITS", "512")):
        refused = client.post(f"/api/domains/{world.id('A')}/options", headers=h, json={"name": name, "value": value})
        assert refused.status_code == 400, (name, value)


# --- bad input: 400 problem+json and nothing saved ---------------------------------------------------------------

BAD_BODIES = [
    ({"privateKey": "not a key"}, "privateKey"),
    ({"privateKey": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, "privateKey"),
    ({"privateKey": keys.EC_PRIVATE}, "privateKey"),
    ({"privateKey": keys.SMALL_PRIVATE}, "privateKey"),
    ({"privateKey": keys.WORLD_PRIVATE, "publicKey": keys.OTHER_PUBLIC}, "publicKey"),
    ({"privateKey": keys.WORLD_PRIVATE, "publicKey": "bm90IGEga2V5"}, "publicKey"),
    ({"publicKey": keys.WORLD_PUBLIC}, "privateKey"),
    ({"selector": "two.labels"}, "selector"),
    ({"selector": "with space"}, "selector"),
    ({"selector": "crlf\r\nx"}, "selector"),
    ({"selector": "trailing\n"}, "selector"),
    ({"selector": "x" * 64}, "selector"),
    ({"selector": "-dash"}, "selector"),
    ({"selector": ""}, "selector"),
    ({"privateKey": keys.WORLD_PRIVATE, "selector": "ok", "extra": 1}, "extra"),
    ({}, "body"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_BODIES)])
def test_bad_input_changes_nothing(app: Flask, client: FlaskClient, world: World, body: dict[str, Any],
                                   field: str) -> None:
    with app.app_context():
        before = snapshot()
    response = client.put(_url(world, "B"), headers=world.headers("sysadmin"), json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert field in [e["field"] for e in response.get_json()["errors"]], response.get_json()
    _no_private(response)
    with app.app_context():
        assert snapshot() == before


def test_pkcs1_and_pem_public_accepted(app: Flask, client: FlaskClient, world: World) -> None:
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(keys.OTHER_PRIVATE_PKCS1.encode(), None)
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    response = client.put(_url(world, "B"), headers=world.headers("sysadmin"),
                          json={"privateKey": keys.OTHER_PRIVATE_PKCS1, "publicKey": public_pem})
    assert response.status_code == 200
    assert response.get_json() == [f"protect._domainkey.b.example TXT v=DKIM1; p={keys.OTHER_PUBLIC}"]


def test_selector_only_change(app: Flask, client: FlaskClient, world: World) -> None:
    response = client.put(_url(world, "B"), headers=world.headers("sysadmin"), json={"selector": "S2"})
    assert response.status_code == 200
    assert response.get_json() == [f"s2._domainkey.b.example TXT v=DKIM1; p={keys.WORLD_PUBLIC}"]
    # without a key, a selector alone has nothing to change
    assert client.put(_url(world), headers=world.headers("sysadmin"), json={"selector": "s2"}).status_code == 404


def test_keys_list_without_private_parts(client: FlaskClient, world: World) -> None:
    response = client.get(_url(world, "B", "/keys"), headers=world.headers("domainB"))
    assert response.status_code == 200
    (key,) = response.get_json()
    assert key["selector"] == "protect" and key["state"] == "active" and key["bits"] == 1024
    assert key["record"] == f"protect._domainkey.b.example TXT v=DKIM1; p={keys.WORLD_PUBLIC}"
    assert key["createdAt"] > 0 and key["activatedAt"] and key["retiredAt"] is None and key["safeToRemove"] is False
    _no_private(response)


# --- rotation ----------------------------------------------------------------------------------------------------

@contextmanager
def serving(app: Flask, zone: str) -> Iterator[None]:
    with dns_server(zone or "placeholder.test. 300 IN A 192.0.2.1\n") as server:
        app.config.update(DNS_SERVERS=[server], DNS_TIMEOUT=2.0)
        try:
            yield
        finally:
            app.config.update(DNS_SERVERS=[])


def _rotate(client: FlaskClient, world: World, selector: str, role: str = "domainA", domain: str = "A") -> Any:
    return client.post(_url(world, domain, "/rotation"), headers=world.headers(role), json={"selector": selector})


def _check(client: FlaskClient, world: World, role: str = "domainA", domain: str = "A") -> Any:
    return client.post(_url(world, domain, "/rotation/check"), headers=world.headers(role))


def test_rotation_activates_only_when_dns_serves_the_key(app: Flask, client: FlaskClient, world: World) -> None:
    h = world.headers("sysadmin")
    old = client.post(_url(world), headers=h).get_json()
    started = _rotate(client, world, "s2")
    assert started.status_code == 201, started.get_data(as_text=True)
    new = started.get_json()
    assert [RECORD.match(r)["name"] for r in new] == ["a.example", "alias-of-a.example"]  # type: ignore[index]
    assert all(r.startswith("s2._domainkey.") for r in new)
    _no_private(started)
    new_p = RECORD.match(new[0])["p"]  # type: ignore[index]
    old_p = RECORD.match(old[0])["p"]  # type: ignore[index]
    assert client.get(_url(world), headers=h).get_json() == old  # the old key still signs
    assert _rotate(client, world, "s3").status_code == 409  # one rotation at a time
    assert _keys(app, world) == [("protect", "active"), ("s2", "pending")]

    # DNS serves nothing, then only the domain's record, then another key: the new key stays pending
    for zone in ("", txt_zone("s2._domainkey.a.example", f"v=DKIM1; p={new_p}"),
                 txt_zone("s2._domainkey.a.example", f"v=DKIM1; p={old_p}")
                 + txt_zone("s2._domainkey.alias-of-a.example", f"v=DKIM1; p={old_p}")):
        with serving(app, zone):
            check = _check(client, world)
        assert check.status_code == 200, check.get_data(as_text=True)
        assert check.get_json()["state"] == "pending" and check.get_json()["safeToRemove"] == []
        assert _keys(app, world) == [("protect", "active"), ("s2", "pending")]

    zone = (txt_zone("s2._domainkey.a.example", f"v=DKIM1; k=rsa; p={new_p}")
            + txt_zone("s2._domainkey.alias-of-a.example", f"v=DKIM1; p={new_p}")
            + txt_zone("a.example", "v=spf1 -all"))
    with serving(app, zone):
        check = _check(client, world)
    body = check.get_json()
    assert check.status_code == 200 and body["state"] == "active" and body["retiredSelector"] == "protect"
    assert body["safeToRemove"] == ["protect._domainkey.a.example", "protect._domainkey.alias-of-a.example"]
    assert body["message"] == ("The key s2 is active. It is safe to remove the records protect._domainkey.a.example, "
                               "protect._domainkey.alias-of-a.example.")
    assert all(n["served"] for n in body["names"])
    assert _keys(app, world) == [("protect", "retired"), ("s2", "active")]
    assert client.get(_url(world), headers=h).get_json() == new
    listed = client.get(_url(world, "A", "/keys"), headers=h).get_json()
    assert [(k["selector"], k["state"], k["safeToRemove"]) for k in listed] == [
        ("s2", "active", False), ("protect", "retired", True)]
    assert _check(client, world).status_code == 404  # nothing pending any more
    # rotating back to the retired selector replaces the retired key
    assert _rotate(client, world, "protect").status_code == 201
    assert sorted(_keys(app, world)) == [("protect", "pending"), ("s2", "active")]


def test_rotation_refusals_change_nothing(app: Flask, client: FlaskClient, world: World) -> None:
    def refused(response: Any, status: int) -> None:
        assert response.status_code == status, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"

    with app.app_context():
        before = snapshot()
    refused(_rotate(client, world, "s2"), 409)  # A has no key to rotate
    refused(_check(client, world), 404)
    refused(client.delete(_url(world, "A", "/rotation"), headers=world.headers("domainA")), 404)
    for selector in ("protect", "a.b", "a b", "x\r\ny", ""):
        refused(_rotate(client, world, selector, "domainB", "B"), 400)
    refused(client.post(_url(world, "B", "/rotation"), headers=world.headers("domainB"), json={}), 400)
    with app.app_context():
        assert snapshot() == before


def test_rotation_needs_dkim_edit(app: Flask, client: FlaskClient, world: World) -> None:
    """An administrator who sees the domain without DKIM_EDIT: 403 (and reads the keys); the seed's writes are
    for system administrators, even with DKIM_EDIT."""
    from portal.models import Admin
    from portal.services import tokens

    with app.app_context():
        _, reader = tokens.issue(db.session.get(Admin, world.pk["readerA"]), "reader")
        db.session.commit()
    client.post(_url(world), headers=world.headers("sysadmin"))
    h = {"Authorization": f"Bearer {reader}"}
    with app.app_context():
        before = snapshot()
    assert client.get(_url(world), headers=h).status_code == 200
    assert client.get(_url(world, "A", "/keys"), headers=h).status_code == 200
    assert client.post(_url(world, "A", "/rotation"), headers=h, json={"selector": "s2"}).status_code == 403
    assert client.post(_url(world, "A", "/rotation/check"), headers=h).status_code == 403
    assert client.delete(_url(world, "A", "/rotation"), headers=h).status_code == 403
    for method in ("POST", "PUT", "DELETE"):
        response = client.open(_url(world), method=method, headers=world.headers("domainA"), json={"selector": "s"})
        assert response.status_code == 403, method
    with app.app_context():
        assert snapshot() == before


def test_cancel_rotation(app: Flask, client: FlaskClient, world: World) -> None:
    assert _rotate(client, world, "next", "domainB", "B").status_code == 201
    assert client.delete(_url(world, "B", "/rotation"), headers=world.headers("domainB")).status_code == 204
    assert _keys(app, world, "B") == [("protect", "active")]


def test_dns_failure_is_503_in_bounded_time(app: Flask, client: FlaskClient, world: World) -> None:
    assert _rotate(client, world, "s2", "domainB", "B").status_code == 201
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    silent.bind(("127.0.0.1", 0))
    app.config.update(DNS_SERVERS=[silent.getsockname()], DNS_TIMEOUT=0.5)
    try:
        started = time.monotonic()
        response = _check(client, world, "domainB", "B")
        elapsed = time.monotonic() - started
    finally:
        app.config.update(DNS_SERVERS=[])
        silent.close()
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert elapsed < 3.0
    assert _keys(app, world, "B") == [("protect", "active"), ("s2", "pending")]


def test_servfail_is_503(app: Flask, client: FlaskClient, world: World) -> None:
    from dnslib import RCODE
    from dnslib.server import BaseResolver, DNSLogger, DNSServer

    class Failing(BaseResolver):
        def resolve(self, request: Any, handler: Any) -> Any:
            reply = request.reply()
            reply.header.rcode = RCODE.SERVFAIL
            return reply

    assert _rotate(client, world, "s2", "domainB", "B").status_code == 201
    server = DNSServer(Failing(), address="127.0.0.1", port=0, logger=DNSLogger("-request,-reply,-truncated,-recv,"
                                                                                "-send,-data", prefix=False))
    server.start_thread()
    app.config.update(DNS_SERVERS=[("127.0.0.1", server.server.server_address[1])], DNS_TIMEOUT=2.0)
    try:
        response = _check(client, world, "domainB", "B")
    finally:
        app.config.update(DNS_SERVERS=[])
        server.stop()
        server.server.server_close()
    assert response.status_code == 503, response.get_data(as_text=True)
    assert _keys(app, world, "B") == [("protect", "active"), ("s2", "pending")]


def test_the_hourly_job_activates_what_dns_serves(app: Flask, client: FlaskClient, world: World) -> None:
    from portal import jobs

    client.post(_url(world), headers=world.headers("sysadmin"))
    new_a = RECORD.match(_rotate(client, world, "s2").get_json()[0])["p"]  # type: ignore[index]
    assert _rotate(client, world, "s2", "domainB", "B").status_code == 201  # B's record is not published
    zone = (txt_zone("s2._domainkey.a.example", f"v=DKIM1; p={new_a}")
            + txt_zone("s2._domainkey.alias-of-a.example", f"v=DKIM1; p={new_a}"))
    with serving(app, zone), app.app_context():
        outcome = jobs.run_now("dkim_rotations")
    assert outcome == {"a.example": "active", "b.example": "pending"}
    assert _keys(app, world, "A") == [("protect", "retired"), ("s2", "active")]
    assert _keys(app, world, "B") == [("protect", "active"), ("s2", "pending")]
    # an outage: every domain is tried, each error noted, nothing changes
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    app.config.update(DNS_SERVERS=[silent.getsockname()], DNS_TIMEOUT=0.3)
    try:
        with app.app_context():
            outcome = jobs.run_now("dkim_rotations")
    finally:
        app.config.update(DNS_SERVERS=[])
        silent.close()
    assert list(outcome) == ["b.example"] and outcome["b.example"].startswith("error")
    assert _keys(app, world, "B") == [("protect", "active"), ("s2", "pending")]
    with serving(app, ""):  # the command line runs the same job
        result = app.test_cli_runner().invoke(args=["portal", "check-dkim-rotations"])
    assert result.exit_code == 0, result.output
    assert "b.example: pending" in result.output and "1 pending rotation(s) checked" in result.output


# --- the signer's files ------------------------------------------------------------------------------------------

def test_export_writes_opendkim_files(app: Flask, client: FlaskClient, world: World, tmp_path: Path) -> None:
    def export() -> str:
        result = app.test_cli_runner().invoke(args=["portal", "export-rules", str(tmp_path)])
        assert result.exit_code == 0, result.output
        return result.output

    client.put(_url(world), headers=world.headers("sysadmin"), json={"privateKey": keys.OTHER_PRIVATE_PKCS1})
    _rotate(client, world, "s2")
    export()
    root = tmp_path.resolve()
    key_table = (tmp_path / "opendkim/KeyTable").read_text().splitlines()
    assert f"protect._domainkey.a.example a.example:protect:{root}/opendkim/keys/a.example/protect.private" in key_table
    assert (f"protect._domainkey.alias-of-a.example alias-of-a.example:protect:"
            f"{root}/opendkim/keys/a.example/protect.private") in key_table
    assert f"protect._domainkey.b.example b.example:protect:{root}/opendkim/keys/b.example/protect.private" \
        in key_table
    assert not any("s2" in line for line in key_table)  # pending: it signs nothing yet
    signing = (tmp_path / "opendkim/SigningTable").read_text().splitlines()
    assert "*@a.example protect._domainkey.a.example" in signing
    assert "*@alias-of-a.example protect._domainkey.alias-of-a.example" in signing
    assert "*@b.example protect._domainkey.b.example" in signing and not any("s2" in line for line in signing)
    for name in ("a.example/protect.private", "a.example/s2.private", "b.example/protect.private"):
        path = tmp_path / "opendkim/keys" / name
        assert path.stat().st_mode & 0o777 == 0o600, name
        assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "opendkim/KeyTable").stat().st_mode & 0o777 == 0o644
    from cryptography.hazmat.primitives import serialization

    written = serialization.load_pem_private_key((tmp_path / "opendkim/keys/a.example/protect.private").read_bytes(),
                                                 None)
    given = serialization.load_pem_private_key(keys.OTHER_PRIVATE_PKCS1.encode(), None)
    assert written.private_numbers() == given.private_numbers()  # type: ignore[union-attr]
    # only if changed: a second run writes nothing; a loosened mode is put back
    assert export().startswith("0 file(s) changed")
    (tmp_path / "opendkim/keys/b.example/protect.private").chmod(0o644)
    assert "opendkim/keys/b.example/protect.private" in export()
    assert (tmp_path / "opendkim/keys/b.example/protect.private").stat().st_mode & 0o777 == 0o600
    # a deleted key's file goes
    client.delete(_url(world, "B"), headers=world.headers("sysadmin"))
    export()
    assert not (tmp_path / "opendkim/keys/b.example/protect.private").exists()
    assert not any("b.example" in line for line in (tmp_path / "opendkim/KeyTable").read_text().splitlines())
