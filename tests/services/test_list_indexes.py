"""The lists' contains-filters are answered from trigram indexes on PostgreSQL (issue 16), in every run: a
private PostgreSQL database, migrated, and the planner's choice for the count a filtered list runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
from flask import Flask
from sqlalchemy import Select, func, select, text

from portal import create_app
from portal.extensions import db
from portal.models import Admin, Domain, MailUser, SenderRule
from portal.services import admins, domains, listing, users, wblist
from portal.services.listing import ListParams, ListSpec
from tests.services_runtime import missing, postgres_database

LISTS: list[tuple[Select, ListSpec, str, str]] = [  # (the list's rows, its spec, the filter, the index)
    (select(MailUser), users.LIST_SPEC, "name", "ix_users_email_trgm"),
    (select(Admin), admins.LIST_SPEC, "search", "ix_admins_login_trgm"),
    (select(Domain), domains.LIST_SPEC, "name", "ix_domains_name_trgm"),
    (select(SenderRule), wblist.LIST_SPEC, "value", "ix_sender_rules_value_trgm"),
]


@pytest.fixture(scope="module")
def pg_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    url = os.environ.get("POSTERN_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        missing(f"PostgreSQL at {url} is not usable: {exc}")
    folder: Path = tmp_path_factory.mktemp("indexes")
    with postgres_database(url) as private:
        app = create_app({"SQLALCHEMY_DATABASE_URI": private, "SECRET_KEY": "indexes", "REDIS_URL": None,
                          "INSTANCE_DIR": folder, "RATELIMIT_STORAGE_URI": "memory://"})
        with app.app_context():
            flask_migrate.upgrade()
            try:
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()


def test_every_filtered_column_has_its_trigram_index(pg_app: Flask) -> None:
    names = set(db.session.scalars(text("SELECT indexname FROM pg_indexes WHERE indexname LIKE '%_trgm'")))
    assert {index for *_, index in LISTS} <= names


def test_a_domain_users_count_filtered_by_contains_reads_the_trigram_index(pg_app: Flask) -> None:
    """20,000 users in one domain, vacuumed and analyzed as autovacuum would (the rows inserted after the GIN
    index was made wait in its pending list until then): the count of `*012345*` is a bitmap scan of the
    trigram index, not a scan of the domain's users."""
    from bench.datagen import generate_users

    domain_pk, _ = generate_users(2, 20_000)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE users")
    rows = select(MailUser).where(MailUser.domain_id == domain_pk)
    stmt = listing.filtered(rows, users.LIST_SPEC, ListParams(filter_name="name", filter_value="*012345*"))
    count = select(func.count()).select_from(stmt.order_by(None).subquery())
    compiled = count.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    plan = "\n".join(db.session.scalars(text("EXPLAIN " + str(compiled).replace("%%", "%"))))
    assert "ix_users_email_trgm" in plan, plan
    assert db.session.scalar(count) == 1
