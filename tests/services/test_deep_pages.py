"""Deep pages are a deferred join (keys first, then the page's rows), read backwards nearer the end: the same rows,
in the same order, as the plain OFFSET query, for every sort, both directions, with and without a filter, around
the threshold and at the end."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Domain, MailUser
from portal.services import listing, users
from portal.services.listing import KEYS_FIRST_FROM, ListParams

SIZE = KEYS_FIRST_FROM + 120


@pytest.fixture
def domain_pk(ctx: None) -> int:
    from bench.datagen import generate_users

    pk, _ = generate_users(1, SIZE)
    return pk


def _plain(stmt, params: ListParams) -> list[int]:
    stmt = listing.filtered(stmt, users.LIST_SPEC, params)
    window = listing.ordered(stmt, users.LIST_SPEC, params).offset(params.offset).limit(params.page_size)
    return [u.id for u in db.session.scalars(window)]


@pytest.mark.parametrize("sort", [*users.LIST_SPEC.sorts, *(f"-{s}" for s in users.LIST_SPEC.sorts)])
def test_a_deep_page_holds_the_rows_the_plain_offset_gives(domain_pk: int, sort: str) -> None:
    stmt = select(MailUser).where(MailUser.domain_id == domain_pk)
    assert listing._key(stmt) is MailUser.__table__.c.id  # the deferred join applies
    for offset in (KEYS_FIRST_FROM - 1, KEYS_FIRST_FROM, KEYS_FIRST_FROM + 77, SIZE - 5, SIZE + 10):
        for name, value in ((None, None), ("name", "*an*")):
            params = ListParams(offset=offset, page_size=40, sort=sort, filter_name=name, filter_value=value)
            rows, total = listing.page(stmt, users.LIST_SPEC, params)
            assert [u.id for u in rows] == _plain(stmt, params), (offset, sort, name)
            if name is None:  # a kept total (a domain's users_count): the same page, read backwards near the end
                kept, _ = listing.page(stmt, users.LIST_SPEC, params, unfiltered_total=SIZE)
                assert [u.id for u in kept] == _plain(stmt, params), (offset, sort)
            everything = ListParams(page_size=SIZE, sort=sort, filter_name=name, filter_value=value)
            assert total == len(_plain(stmt, everything))


def test_a_deep_page_of_domains_loads_what_the_list_loads(ctx: None) -> None:
    """The domains list is plain rows selecting the key first: a deep page walks the keys, then has the same
    domains as a plain OFFSET, each with its customer and children."""
    from bench.datagen import generate_users
    from portal.services import domain_rows

    generate_users(SIZE, 1)
    stmt = domain_rows.as_rows(select(Domain))
    assert listing._key(stmt) is Domain.__table__.c.id
    for sort in ("name", "-name", "status"):
        params = ListParams(offset=KEYS_FIRST_FROM + 3, page_size=40, sort=sort)
        rows, total = listing.page(stmt, domain_rows.ROWS_SPEC, params)
        plain = listing.ordered(select(Domain), domain_rows.ROWS_SPEC, params).offset(params.offset).limit(40)
        assert [d.id for d in rows] == list(db.session.scalars(plain.with_only_columns(Domain.id)))
        assert total == SIZE and len(rows) == 40
        for d in rows:
            model = db.session.get(Domain, d.id)
            assert d.customer.name == model.customer.name and d.active_users == model.active_users
            for children in ("aliases", "policies", "platforms", "outgoing_providers"):
                assert [c.id for c in getattr(d, children)] == [c.id for c in getattr(model, children)]


def test_a_plain_rows_page_carries_its_count_whatever_the_window(ctx: None) -> None:
    """The count rides in the page's statement (one round trip fewer): the total stays right on page 1, deep, past
    the end (no row carries it: counted apart), filtered, and for an empty list; the rows come back with the
    statement's own columns only."""
    from bench.datagen import generate_users
    from portal.services import domain_rows

    stmt = domain_rows.as_rows(select(Domain))
    params = ListParams(offset=0, page_size=40, sort="name")
    assert listing.page(stmt, domain_rows.ROWS_SPEC, params) == ([], 0)  # nothing yet
    generate_users(SIZE, 1)
    matching = len(db.session.scalars(select(Domain.id).where(Domain.name.like("%1%"))).all())
    assert 0 < matching < SIZE
    for offset in (0, 7, KEYS_FIRST_FROM + 3, SIZE - 1, SIZE, SIZE + 50):
        for name, value, expected in ((None, None, SIZE), ("name", "*1*", matching)):
            page = ListParams(offset=offset, page_size=40, sort="name", filter_name=name, filter_value=value)
            rows, total = listing.page(stmt, domain_rows.ROWS_SPEC, page)
            assert total == expected, (offset, name)
            assert len(rows) == max(0, min(40, expected - offset)), (offset, name)
    raw, total = listing.page(stmt, domain_rows.LIST_SPEC, params)  # the spec without its row maker: bare rows
    assert total == SIZE and all(row._fields == tuple(c.key for c in domain_rows._COLUMNS) for row in raw)
