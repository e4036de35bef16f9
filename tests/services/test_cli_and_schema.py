"""The CLI commands, and the refusal to serve on an unmigrated database."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

from portal import create_app
from portal.extensions import db
from portal.models import Admin, Broker, MailUser
from portal.services.passwords import verify_password


def test_create_admin_and_token(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "create-admin", "--login", "Ops", "--email", "ops@example.org",
                                 "--password", "a long enough password", "--sysadmin"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        admin = db.session.query(Admin).filter_by(login="ops").one()
        assert admin.sys_admin and verify_password(admin.password_hash, "a long enough password")
    again = runner.invoke(args=["portal", "create-admin", "--login", "ops", "--email", "ops@example.org",
                                "--password", "a long enough password"])
    assert again.exit_code == 1 and "already taken" in again.output
    weak = runner.invoke(args=["portal", "create-admin", "--login", "x", "--email", "bad", "--password", "short"])
    assert weak.exit_code == 1 and "email" in weak.output and "password" in weak.output

    token = runner.invoke(args=["portal", "create-token", "--login", "ops", "--name", "ci", "--days", "7"])
    assert token.exit_code == 0
    value = token.output.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f]{32}", value)
    client = app.test_client()
    assert client.get("/api/security/admins", headers={"Authorization": f"Bearer {value}"}).status_code == 200
    unknown = runner.invoke(args=["portal", "create-token", "--login", "nobody", "--name", "x"])
    assert unknown.exit_code == 1


def test_seed_demo_is_idempotent(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["portal", "seed-demo"])
    assert first.exit_code == 0 and "postmaster" in first.output
    assert runner.invoke(args=["portal", "seed-demo"]).exit_code == 0
    with app.app_context():
        assert db.session.query(Broker).count() == 1
        assert db.session.query(Admin).count() == 4
        assert db.session.query(MailUser).count() == 36
    client = app.test_client()
    from tests.conftest import login

    assert login(client, "postmaster", "postern-demo").status_code == 302


def test_worker_needs_redis(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["portal", "worker", "--burst"])
    assert result.exit_code == 1 and "REDIS_URL" in result.output


def test_refuses_to_serve_an_unmigrated_database(tmp_path: Path) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.db'}", "SECRET_KEY": "x",
                      "INSTANCE_DIR": tmp_path})
    client = app.test_client()
    response = client.get("/login")
    assert response.status_code == 503
    assert "flask --app app db upgrade" in response.text
    assert client.get("/api/security/admins").status_code == 503
    import flask_migrate

    with app.app_context():
        flask_migrate.upgrade()
    assert client.get("/login").status_code == 200
