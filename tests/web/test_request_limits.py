"""Too long a URL is a 414 and too large a header block a 431, answered by the app before anything runs,
whatever server is in front (`portal/request_limits.py`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import login
from tests.world import PASSWORD, World


@pytest.fixture
def signed_in(client: FlaskClient, world: World) -> FlaskClient:
    assert login(client, "root", PASSWORD).status_code == 302
    return client


@pytest.fixture
def small_limits(app: Flask) -> Iterator[None]:
    before = app.config["MAX_URL_BYTES"], app.config["MAX_HEADER_BYTES"]
    app.config["MAX_URL_BYTES"], app.config["MAX_HEADER_BYTES"] = 200, 2000
    yield
    app.config["MAX_URL_BYTES"], app.config["MAX_HEADER_BYTES"] = before


def test_a_long_url_with_a_session_is_a_414(signed_in: FlaskClient) -> None:
    assert signed_in.get("/admin/domains?value=" + "a" * 100).status_code == 200
    for path in ("/admin/domains?value=" + "a" * 9000, "/me/quarantine?value=" + "a" * 9000, "/" + "a" * 9000):
        response = signed_in.get(path)
        assert response.status_code == 414, path
        assert "URI Too Long" in response.text


def test_a_long_api_url_is_a_problem(client: FlaskClient, world: World) -> None:
    response = client.get("/api/domains?name=" + "a" * 9000, headers=world.headers("sysadmin"))
    assert response.status_code == 414
    assert response.content_type == "application/problem+json" and response.json["status"] == 414


def test_a_large_header_block_is_a_431(signed_in: FlaskClient) -> None:
    headers = {f"X-Filler-{i}": "b" * 4000 for i in range(9)}  # 36 KB
    response = signed_in.get("/admin/domains", headers=headers)
    assert response.status_code == 431
    assert signed_in.get("/admin/domains", headers={"X-Filler": "b" * 4000}).status_code == 200


def test_the_limits_are_configured(signed_in: FlaskClient, small_limits: None) -> None:
    assert signed_in.get("/admin/domains?value=" + "a" * 150).status_code == 200
    assert signed_in.get("/admin/domains?value=" + "a" * 190).status_code == 414
    assert signed_in.get("/admin/domains", headers={"X-Filler": "b" * 2000}).status_code == 431
