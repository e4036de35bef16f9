"""The shared API conventions: ids, lists, errors, exports, OpenAPI."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from openpyxl import load_workbook

from portal import ids
from portal.extensions import db
from portal.models import Admin
from portal.services.passwords import hash_password
from tests.world import World


@pytest.fixture
def many_admins(app: Flask, world: World) -> World:
    """25 more admins for the sysadmin to list: user00..user24 (odd ones are named 'Xavier')."""
    with app.app_context():
        digest = hash_password("irrelevant password")
        for i in range(25):
            db.session.add(Admin(login=f"user{i:02d}", email=f"u{i}@list.example", password_hash=digest,
                                 display_name="Xavier" if i % 2 else "Yvonne"))
        db.session.commit()
    return world


def _logins(response) -> list[str]:
    return [a["login"] for a in response.json]


def test_paging_and_total(client: FlaskClient, many_admins: World) -> None:
    h = many_admins.headers("sysadmin")
    first = client.get("/api/security/admins?search=user*&pageSize=10", headers=h)
    assert first.headers["X-Total-Count"] == "25"
    assert first.headers["Access-Control-Expose-Headers"] == "X-Total-Count"
    assert _logins(first) == [f"user{i:02d}" for i in range(10)]
    last = client.get("/api/security/admins?search=user*&pageSize=10&offset=20", headers=h)
    assert _logins(last) == [f"user{i:02d}" for i in range(20, 25)]
    default = client.get("/api/security/admins?search=user*", headers=h)
    assert len(default.json) == 25  # default page size 40


def test_sort(client: FlaskClient, many_admins: World) -> None:
    h = many_admins.headers("sysadmin")
    desc = _logins(client.get("/api/security/admins?search=user*&sort=-login&pageSize=3", headers=h))
    assert desc == ["user24", "user23", "user22"]
    by_name = client.get("/api/security/admins?search=user*&sort=displayName&pageSize=12", headers=h).json
    assert [a["displayName"] for a in by_name] == ["Xavier"] * 12
    bad = client.get("/api/security/admins?sort=password", headers=h)
    assert bad.status_code == 400 and bad.json["errors"][0]["field"] == "sort"


@pytest.mark.parametrize(("search", "expected"), [
    ("user07", 1), ("USER07", 1), ("user1*", 10), ("*@list.example", 25), ("*avie*", 12), ("*vonne", 13),
    ("user", 0), ("%", 0), ("_ser07", 0), ("*_*", 0),
])
def test_wildcard_filter(client: FlaskClient, many_admins: World, search: str, expected: int) -> None:
    response = client.get(f"/api/security/admins?search={search}&pageSize=100", headers=many_admins.headers("sysadmin"))
    assert response.status_code == 200
    matching = [a for a in response.json if a["login"].startswith("user")]
    assert len(matching) == expected


@pytest.mark.parametrize(("query", "field"), [
    ("offset=-1", "offset"), ("offset=abc", "offset"), ("pageSize=0", "pageSize"), ("pageSize=100000", "pageSize"),
    ("search=a%0Ab", "search"),
])
def test_bad_list_parameters(client: FlaskClient, world: World, query: str, field: str) -> None:
    response = client.get(f"/api/security/admins?{query}", headers=world.headers("sysadmin"))
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"][0]["field"] == field


def test_csv_export_is_the_whole_filtered_list(client: FlaskClient, many_admins: World) -> None:
    response = client.get("/api/security/admins?search=user*&pageSize=5",
                          headers={**many_admins.headers("sysadmin"), "Accept": "text/csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 25 and rows[0]["login"] == "user00"


def test_spreadsheet_export(client: FlaskClient, many_admins: World) -> None:
    response = client.get("/api/security/admins?search=*avie*",
                          headers={**many_admins.headers("sysadmin"), "Accept": "application/vnd.ms-excel"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.values)
    assert values[0][:2] == ("id", "login") and len(values) == 13


def test_export_defuses_formulas(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        db.session.get(Admin, world.pk["readerA"]).display_name = "=HYPERLINK(\"http://evil\")"
        db.session.commit()
    response = client.get("/api/security/admins", headers={**world.headers("sysadmin"), "Accept": "text/csv"})
    assert "'=HYPERLINK" in response.text


@pytest.mark.parametrize("bad_id", ["x", "0", "!!!", "ByE3n", "a" * 40, "snDrTx"])
def test_bad_ids_are_404(client: FlaskClient, world: World, bad_id: str) -> None:
    response = client.get(f"/api/security/admins/{bad_id}", headers=world.headers("sysadmin"))
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_ids_are_canonical(app: Flask) -> None:
    with app.app_context():
        for pk in (1, 2, 99, 123456789):
            assert ids.decode(ids.encode(pk)) == pk


def test_unknown_api_route_is_json_404(client: FlaskClient) -> None:
    response = client.get("/api/does/not/exist")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert response.json == {"type": "about:blank", "title": "Not Found", "status": 404,
                             "detail": response.json["detail"], "errors": []}


def test_wrong_method_is_json_405(client: FlaskClient, world: World) -> None:
    response = client.put("/api/security/admins", headers=world.headers("sysadmin"))
    assert response.status_code == 405 and response.mimetype == "application/problem+json"
    assert "GET" in response.headers["Allow"]


def test_malformed_json_and_non_object(client: FlaskClient, world: World) -> None:
    url = f"/api/security/admins/{world.id('readerA')}"
    h = {**world.headers("sysadmin"), "Content-Type": "application/json"}
    for payload in (b"{not json", b"[1, 2]", b"", b"\xff\xfe"):
        response = client.patch(url, data=payload, headers=h)
        assert response.status_code == 400, payload
        assert response.json["errors"][0]["field"] == "body"


def test_oversized_body_is_413(client: FlaskClient, world: World) -> None:
    big = b'{"displayName": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = client.patch(f"/api/security/admins/{world.id('readerA')}", data=big,
                            headers={**world.headers("sysadmin"), "Content-Type": "application/json"})
    assert response.status_code == 413 and response.mimetype == "application/problem+json"


def test_errors_never_show_a_stack_trace(app: Flask, client: FlaskClient, world: World, monkeypatch) -> None:
    from portal.services import admins

    def boom(*_a, **_k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(admins, "get", boom)
    response = client.get(f"/api/security/admins/{world.id('readerA')}", headers=world.headers("sysadmin"))
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_openapi_document_is_valid(client: FlaskClient) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json
    validate(document)
    assert document["openapi"] == "3.1.0"
    operation = document["paths"]["/api/admins/{adminId}/tokens"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TokenAdd"}
    assert set(document["components"]["schemas"]["TokenAdd"]["properties"]) == {"name", "expiration"}
    listing = document["paths"]["/api/security/admins"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"offset", "pageSize", "sort", "search"}
    assert "X-Total-Count" in listing["responses"]["200"]["headers"]
    assert document["paths"]["/api/openapi.json"]["get"]["security"] == []


def test_docs_page_loads_its_assets(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_openapi_servers_follow_the_host_the_document_was_read_from(client: FlaskClient) -> None:
    """`make run PORT=5101`: "Try it out" must call port 5101, not POSTERN_BASE_URL's; no Host header is echoed."""
    from urllib.parse import urljoin

    assert client.application.config["BASE_URL"] != "http://127.0.0.1:5101"
    document_url = "http://127.0.0.1:5101/api/openapi.json"
    document = client.get(document_url).json
    server = urljoin(document_url, document["servers"][0]["url"])
    assert server == "http://127.0.0.1:5101/"
    assert client.get(server.rstrip("/") + "/api/openapi.json").status_code == 200  # where "Try it out" goes
    hostile = client.get("/api/openapi.json", headers={"Host": "evil.example:6666"}).json
    assert "evil.example" not in str(hostile)
