"""Domain.active_users, the count the domains list shows, and Domain.users_count, the X-Total-Count of a domain's
unfiltered users list, are kept by the flush that changes a user (issue 16): they follow every change made through
the API, concurrent writers add up, and a recount repairs rows written around the ORM."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import Domain, MailUser
from portal.services import domains
from tests.world import World


def _shown(client: FlaskClient, world: World, name: str) -> int:
    listed = client.get("/api/domains?pageSize=100", headers=world.headers("sysadmin")).json
    return next(d["activeUsersCount"] for d in listed if d["name"] == name)


def _actual(app: Flask, domain_pk: int) -> tuple[int, int]:
    """(active_users as kept, as counted); and users_count must equal the domain's users, counted."""
    with app.app_context():
        counted = db.session.scalar(select(func.count()).select_from(MailUser).where(
            MailUser.domain_id == domain_pk, MailUser.status == "ENABLED"))
        every = db.session.scalar(select(func.count()).select_from(MailUser).where(MailUser.domain_id == domain_pk))
        domain = db.session.get(Domain, domain_pk)
        assert domain.users_count == every, (domain.users_count, every)
        return domain.active_users, counted or 0


def _listed_total(client: FlaskClient, world: World, domain: str, query: str = "") -> int:
    response = client.get(f"/api/domains/{world.id(domain)}/users?pageSize=1{query}", headers=world.headers("sysadmin"))
    assert response.status_code == 200
    return int(response.headers["X-Total-Count"])


def test_the_count_follows_every_change_of_a_user(app: Flask, client: FlaskClient, world: World) -> None:
    h = world.headers("domainA")
    kept, counted = _actual(app, world.pk["A"])
    assert kept == counted == _shown(client, world, "a.example")
    body = {"email": "new@a.example", "status": "ENABLED", "language": "EN", "password": "HearMeRoar!",
            "domainId": world.id("A")}
    created = client.post("/api/users", json=body, headers=h)
    assert created.status_code == 201
    assert _actual(app, world.pk["A"]) == (counted + 1, counted + 1) and _shown(client, world, "a.example") == kept + 1
    url = f"/api/users/{created.json['id']}"
    assert client.patch(url, json={"status": "DISABLED"}, headers=h).status_code == 204
    assert _actual(app, world.pk["A"]) == (counted, counted)
    assert client.patch(url, json={"lastname": "Unchanged count"}, headers=h).status_code == 204
    assert _actual(app, world.pk["A"]) == (counted, counted)
    assert client.patch(url, json={"status": "ENABLED"}, headers=h).status_code == 204
    assert _actual(app, world.pk["A"]) == (counted + 1, counted + 1)
    assert client.delete(url, headers=h).status_code == 204
    assert _actual(app, world.pk["A"]) == (counted, counted) and _shown(client, world, "a.example") == kept
    disabled = client.post("/api/users", json={**body, "email": "off@a.example", "status": "DISABLED"}, headers=h)
    assert disabled.status_code == 201 and _actual(app, world.pk["A"]) == (counted, counted)


def test_the_users_list_total_is_the_kept_count_and_a_filter_counts(app: Flask, client: FlaskClient,
                                                                     world: World) -> None:
    """Without a filter the users list's X-Total-Count is users_count (no count statement); a filter counts."""
    from tests.api.test_round_trips import counting

    with app.app_context():
        every = db.session.scalar(select(func.count()).select_from(MailUser).where(MailUser.domain_id == world.pk["A"]))
    with counting(app) as sent:
        assert _listed_total(client, world, "A") == every
    assert not any("count(" in s.lower() for s in sent), sent
    with app.app_context():  # a user moved to B: both domains' counts follow the flush
        user = db.session.scalars(select(MailUser).where(MailUser.domain_id == world.pk["A"])).first()
        user.domain_id = world.pk["B"]
        db.session.commit()
    assert _listed_total(client, world, "A") == every - 1
    _actual(app, world.pk["A"])
    _actual(app, world.pk["B"])
    with counting(app) as sent:
        assert _listed_total(client, world, "A", "&name=*a*") <= every - 1
    assert any("count(" in s.lower() for s in sent), sent


def test_a_refused_change_leaves_the_count(app: Flask, client: FlaskClient, world: World) -> None:
    before = _actual(app, world.pk["A"])
    taken = {"email": "user@a.example", "status": "ENABLED", "language": "EN", "password": "HearMeRoar!",
             "domainId": world.id("A")}  # the address of an existing user: 409, rolled back
    assert client.post("/api/users", json=taken, headers=world.headers("domainA")).status_code == 409
    assert _actual(app, world.pk["A"]) == before


def test_concurrent_writers_add_up(app: Flask, world: World) -> None:
    """8 threads, each its own session and transaction, 5 users each into one domain (PostgreSQL: truly at
    the same time; SQLite: one writer at a time)."""
    def add(worker: int) -> None:
        with app.app_context():
            for n in range(5):
                db.session.add(MailUser(domain_id=world.pk["B"], email=f"w{worker}-{n}@b.example",
                                        status="ENABLED" if n % 2 == 0 else "DISABLED"))
                db.session.commit()

    before, _ = _actual(app, world.pk["B"])
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(8)))
    kept, counted = _actual(app, world.pk["B"])  # (and users_count == the users: 8 * 5 more)
    assert kept == counted == before + 8 * 3


def test_a_recount_repairs_rows_written_around_the_orm(app: Flask, world: World) -> None:
    with app.app_context():
        assert domains.recount_active_users() == 0  # consistent after the world was built through the ORM
        db.session.execute(update(MailUser).where(MailUser.domain_id == world.pk["A"]).values(status="DISABLED"))
        db.session.commit()
    assert _actual(app, world.pk["A"])[1] == 0 != _actual(app, world.pk["A"])[0]
    with app.app_context():
        assert domains.recount_active_users() == 1
        db.session.commit()
    assert _actual(app, world.pk["A"]) == (0, 0)
