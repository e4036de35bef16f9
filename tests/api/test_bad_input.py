"""Hostile input to the API is a 4xx problem naming the field, never a 500, and writes nothing:
ids that do not fit a key, JSON with lone surrogates or deep nesting, regular expressions with huge
repeat counts (issue 10, item 7)."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal import ids
from portal.errors import NotFound
from portal.extensions import db
from portal.models import AttachmentRule, SenderRule
from tests.world import World

MAX_KEY = ids.MAX_KEY  # the largest key a column takes (INTEGER: 32-bit on PostgreSQL)
FIXTURES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PROBLEM = "application/problem+json"


def _rules(app: Flask) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(AttachmentRule)),
                db.session.scalar(select(func.count()).select_from(SenderRule)))


# --- ids ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/domains/{id}", "/users/{id}", "/security/admins/{id}", "/domains/{id}/policies",
                                  "/users/{id}/emails/folders", "/domains/{id}/filters/attachments"])
def test_an_id_past_any_key_is_a_404(app: Flask, client: FlaskClient, world: World, path: str) -> None:
    with app.app_context():
        past_integer = ids._sqids().encode([2**31])  # a valid sqid whose key no INTEGER column holds
    for public_id in ("99999999999999999999999999", past_integer):
        response = client.get("/api" + path.format(id=public_id), headers=world.headers("sysadmin"))
        assert response.status_code == 404 and response.mimetype == PROBLEM, (public_id, response.text)


@given(public_id=st.text(min_size=1, max_size=40))
@settings(max_examples=300, deadline=None)
def test_decode_is_a_key_or_not_found(app: Flask, public_id: str) -> None:
    with app.app_context():
        try:
            pk = ids.decode(public_id)
        except NotFound:
            return
        assert 0 <= pk <= MAX_KEY and ids.encode(pk) == public_id


@given(pk=st.integers(min_value=0, max_value=MAX_KEY))
@settings(max_examples=200, deadline=None)
def test_every_key_round_trips(app: Flask, pk: int) -> None:
    with app.app_context():
        assert ids.decode(ids.encode(pk)) == pk


ID_ALPHABET = st.sampled_from(ids.DEFAULT_ALPHABET)


@FIXTURES
@given(public_id=st.one_of(st.text(ID_ALPHABET, min_size=1, max_size=40), st.from_regex(r"\A[0-9]{6,40}\Z")))
def test_any_id_in_a_url_is_a_404_or_an_answer(client: FlaskClient, world: World, public_id: str) -> None:
    response = client.get(f"/api/domains/{public_id}", headers=world.headers("sysadmin"))
    assert response.status_code in (200, 404), response.text


# --- JSON bodies --------------------------------------------------------------------------------------

def _post_rule(client: FlaskClient, world: World, raw: bytes) -> object:
    return client.post(f"/api/domains/{world.id('A')}/filters/attachments", data=raw,
                       headers={**world.headers("sysadmin"), "Content-Type": "application/json"})


@pytest.mark.parametrize(("raw", "field"), [
    (b'{"action": "DENY", "checkType": "FILENAME", "filter": "x", "description": "\\ud800"}', "description"),
    (b'{"action": "DENY", "checkType": "FILENAME", "filter": "x", "description": "ok \\udfff ok"}', "description"),
    (b'{"action": "DENY", "checkType": "FILENAME", "filter": "x", "\\ud800": 1}', "body"),
    (b"[" * 100_000, "body"),
    (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "body"),
    (b'{"action": "DENY", "checkType": "FILENAME", "filter": "x", "description": ' + b"[" * 40 + b"]" * 40 + b"}",
     "body"),
])
def test_bodies_the_parser_lets_through_are_400(app: Flask, client: FlaskClient, world: World, raw: bytes,
                                                 field: str) -> None:
    before = _rules(app)
    response = _post_rule(client, world, raw)
    assert response.status_code == 400 and response.mimetype == PROBLEM, response.text
    assert response.json["errors"][0]["field"] == field
    assert _rules(app) == before


def test_a_surrogate_in_a_nested_value_is_named(client: FlaskClient, world: World) -> None:
    """Free-form values (a policy's relay properties) are not checked by the schema: the parser's check names them."""
    raw = b'{"name": "p", "relayProps": {"servers": ["ok", "\\ud83d"]}}'
    response = client.post(f"/api/domains/{world.id('A')}/policies", data=raw,
                           headers={**world.headers("sysadmin"), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "relayProps.servers[1]"


def test_a_surrogate_pair_is_text(app: Flask, client: FlaskClient, world: World) -> None:
    """A well-formed pair (an emoji written as two escapes) is ordinary text."""
    raw = b'{"action": "DENY", "checkType": "FILENAME", "filter": "x", "description": "\\ud83d\\ude00"}'
    response = _post_rule(client, world, raw)
    assert response.status_code == 201, response.text
    assert response.json["description"] == "\U0001f600"


JSON_TEXT = st.text(alphabet=st.characters(codec="utf-16", categories=("L", "N", "P", "Cs", "Cc")), max_size=12)
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | JSON_TEXT,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JSON_TEXT, inner, max_size=3),
                           max_leaves=20)


@FIXTURES
@given(extra=JSON_VALUES, depth=st.one_of(st.integers(0, 40), st.integers(900, 5000)))
def test_any_json_body_is_an_answer_never_a_500(app: Flask, client: FlaskClient, world: World, extra: object,
                                                depth: int) -> None:
    """Every body, with surrogates anywhere and nested at any depth: 201 or a 4xx problem; a 4xx writes nothing."""
    body = {"action": "DENY", "checkType": "FILENAME", "filter": "x", "description": extra}
    raw = json.dumps(body, ensure_ascii=True)  # lone surrogates become \\udXXX escapes, as an attacker sends them
    raw = raw.replace('"description": ', '"description": ' + "[" * depth, 1)[:-1] + "]" * depth + "}"
    before = _rules(app)
    response = _post_rule(client, world, raw.encode())
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.mimetype == PROBLEM and response.json["errors"]
        assert _rules(app) == before
    elif response.status_code == 201:
        client.delete(f"/api/domains/{world.id('A')}/filters/attachments/{response.json['id']}",
                      headers=world.headers("sysadmin"))


# --- regular expressions ------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern", ["a{99999999999}", "a{4294967295}", "a{1,99999999999}", "x{100001}", "x{,20000}"])
def test_huge_repeat_counts_are_400(app: Flask, client: FlaskClient, world: World, pattern: str) -> None:
    before = _rules(app)
    response = client.post(f"/api/domains/{world.id('A')}/filters/attachments", headers=world.headers("sysadmin"),
                           json={"action": "DENY", "checkType": "FILENAME", "filter": pattern})
    assert response.status_code == 400 and response.json["errors"][0]["field"] == "filter", response.text
    assert _rules(app) == before


@FIXTURES
@given(count=st.integers(min_value=0, max_value=10**30), low=st.booleans())
def test_any_repeat_count_is_an_answer(app: Flask, client: FlaskClient, world: World, count: int, low: bool) -> None:
    pattern = f"\\.exe{{1,{count}}}$" if low else f"x{{{count}}}"
    response = client.post(f"/api/domains/{world.id('A')}/filters/attachments", headers=world.headers("sysadmin"),
                           json={"action": "DENY", "checkType": "FILENAME", "filter": pattern})
    assert response.status_code in (201, 400, 409), response.text
    if response.status_code == 201:
        client.delete(f"/api/domains/{world.id('A')}/filters/attachments/{response.json['id']}",
                      headers=world.headers("sysadmin"))


# --- the document says so ------------------------------------------------------------------------------

def test_the_document_names_the_404_of_a_path_and_the_413_of_a_body(client: FlaskClient, world: World) -> None:
    """What schemathesis found undocumented: every operation with an object in its path may answer 404, every
    one with a body 413 (a list body as well)."""
    doc = client.get("/api/openapi.json").json
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") == []:
                continue
            assert "{" not in path or "404" in operation["responses"], (method, path)
            assert "requestBody" not in operation or "413" in operation["responses"], (method, path)
    too_big = client.put(f"/api/domains/{world.id('A')}/wblist", headers=world.headers("sysadmin"),
                         json=[{"value": f"s{n}@x.example", "type": "BLOCK"} for n in range(40_000)])
    assert too_big.status_code == 413 and too_big.mimetype == PROBLEM
    assert "413" in doc["paths"]["/api/domains/{domainId}/wblist"]["put"]["responses"]
    missing = client.post("/api/domains/x/policies", headers=world.headers("sysadmin"), json={"name": "p"})
    assert missing.status_code == 404 and "404" in doc["paths"]["/api/domains/{domainId}/policies"]["post"]["responses"]


def test_a_signature_that_is_not_base64_ascii_is_400(client: FlaskClient, world: World) -> None:
    """Found by schemathesis: base64 of a str with non-ASCII characters raised ValueError (a 500)."""
    response = client.put(f"/api/users/{world.id('userA')}/sign", headers=world.headers("sysadmin"),
                          json={"sign": "\u00dc\u00ca\U000dc119"})
    assert response.status_code == 400 and response.json["errors"][0]["field"] == "sign"
