"""Fixtures: the app on SQLite (default) or PostgreSQL (POSTERN_TEST_DATABASE_URL), migrated once."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import flask_migrate
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from sqlalchemy import text

from portal import create_app
from portal.extensions import db, limiter
from tests.services_runtime import missing, postgres_database
from tests.world import World, build_world

# Property-based tests explore new examples on a developer's machine; in CI they replay a fixed set, so a
# run is reproducible and a submission's result does not depend on a draw (`make fuzz` explores the API).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "default")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    admin_url = os.environ.get("POSTERN_TEST_DATABASE_URL")
    if not admin_url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    try:
        with postgres_database(admin_url) as url:
            yield url
    except Exception as exc:  # psycopg.OperationalError and friends
        missing(f"PostgreSQL at {admin_url} is not usable: {exc}")


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    application = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "INSTANCE_DIR": tmp_path_factory.mktemp("instance"),
        "PASSWORD_HASHER": "fast",
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "PASSWORD_RESET_ACCOUNT_RATE_LIMIT": "1000 per minute",
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "BASE_URL": "http://postern.test",
        "GATEWAY_MX_HOSTS": [],
        "DNS_SERVERS": [],
        "ALLOW_PRIVATE_TARGETS": True,  # the fixtures' servers listen on loopback
        "MAILSERVER_CHECK_INTERVAL": 0,
        "MAILSERVER_PORTS": "1024-65535",  # the fixtures' free ports
    })
    with application.app_context():
        flask_migrate.upgrade()
    yield application


def empty_tables(app: Flask) -> None:
    """Every table emptied (PostgreSQL's identities restarted)."""
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture(autouse=True)
def _clean_database(app: Flask) -> Iterator[None]:
    """Every test starts with empty tables (and fresh rate-limit counters)."""
    yield
    empty_tables(app)
    with app.app_context():
        limiter.reset()


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    """An application context for calling services directly."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def world(app: Flask) -> World:
    with app.app_context():
        built = build_world()
        db.session.commit()
        return built


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: FlaskClient, login_name: str, password: str, **extra: Any) -> Any:
    page = client.get("/login")
    return client.post("/login", data={"csrf_token": csrf_token(page.text), "login": login_name,
                                       "password": password, **extra})
