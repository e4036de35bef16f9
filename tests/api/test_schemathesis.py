"""Schemathesis over /api/openapi.json: every operation, with a token per role, against the WSGI app.

Each answer must be no 5xx and conform to the document: a documented status code, the documented
content type, a body matching the documented schema. Requests are drawn from the document (positive and
negative data); path parameters are either drawn freely or name the world's objects (so that the
request reaches the service with a fuzzed body, not only the 404 of an unknown id).

The short profile runs in `make test` (a few examples per operation and role); `make fuzz` runs the long
one: POSTERN_FUZZ_EXAMPLES examples per operation and role (default 3 here, 60 there) for the roles in
POSTERN_FUZZ_ROLES (default sysadmin, domainA, enduser; there every role of tests/world.py). The short
profile draws the same examples every run; POSTERN_FUZZ_RANDOM=1 (`make fuzz`) draws new ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import update

from portal.api import REGISTRY
from portal.extensions import db
from portal.models import Platform
from tests.services_runtime import missing, postfix_queue, smtp_server
from tests.world import ROLES, UPLOAD_UID, World

EXAMPLES = int(os.environ.get("POSTERN_FUZZ_EXAMPLES", "3"))
RANDOM = os.environ.get("POSTERN_FUZZ_RANDOM") == "1"  # make fuzz: new examples each run; make test: the same
FUZZ_ROLES = tuple(os.environ.get("POSTERN_FUZZ_ROLES", "sysadmin,domainA,enduser").split(","))
assert set(FUZZ_ROLES) <= set(ROLES), FUZZ_ROLES
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Path parameters naming the world's objects (world names; "=" marks a literal value).
KNOWN: dict[str, tuple[str, ...]] = {
    "domainId": ("A", "C"), "userId": ("userA", "userB"), "userIdOrEmail": ("userA", "=user@a.example"),
    "adminId": ("readerA", "adminC"), "aliasId": ("aliasA",), "groupId": ("groupA",), "addressId": ("recipientA",),
    "policyId": ("policyA", "spareA"), "attachmentId": ("attachmentA",), "uriId": ("uriA",),
    "wbItemId": ("ruleA", "ruleUserA"), "id": ("readerA_token",), "folderPath": ("=Quarantine",),
    "path": ("=Quarantine",), "messageId": ("=quarantined-1@bad.example",), "emailId": ("=quarantined-1@bad.example",),
    "fugluId": ("=quarantined-0@bad.example",), "partId": ("=2",), "optionName": ("=TIMEZONE",),
    "uid": (f"={UPLOAD_UID}",), "filename": ("=note.txt",), "platformId": ("platformA",),
    "searchId": ("=qsearchA",),
}
OPERATIONS = sorted({(ep.method, ep.openapi_path) for ep in REGISTRY})


@pytest.fixture(scope="module")
def api_schema(app: Flask) -> Any:
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


@pytest.fixture(scope="module")
def relay() -> Iterator[int]:
    """An SMTP peer that takes every message: a release or a send reaches it (an unreachable relay is a
    documented 503, which is an outage, not what is fuzzed here)."""
    with smtp_server() as (_sink, port):
        yield port


@pytest.fixture(scope="module")
def queue(app: Flask) -> Iterator[str | None]:
    """A private Postfix for the mail queue's operations (its absence is a documented 503, an outage too);
    None where Postfix is not installed: those operations are then missing (a skip, a failure under CI)."""
    if not os.path.exists("/usr/sbin/postfix") or os.geteuid() != 0:
        yield None
        return
    with postfix_queue() as postfix:
        saved = app.config["POSTFIX_CONFIG"], app.config["POSTFIX_BIN"]
        app.config["POSTFIX_CONFIG"], app.config["POSTFIX_BIN"] = postfix.config, "/usr/sbin"
        try:
            yield postfix.config
        finally:
            app.config["POSTFIX_CONFIG"], app.config["POSTFIX_BIN"] = saved


@pytest.fixture
def fuzz_world(app: Flask, world: World, relay: int) -> World:
    with app.app_context():
        db.session.execute(update(Platform).values(transport_port=relay))
        db.session.commit()
    return world


def _known(world: World, names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    def value(name: str) -> st.SearchStrategy[str]:
        return st.sampled_from([v[1:] if v.startswith("=") else world.id(v) for v in KNOWN[name]])
    return st.fixed_dictionaries({name: value(name) for name in names})


@pytest.mark.parametrize("role", FUZZ_ROLES)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_answers_as_documented(request: pytest.FixtureRequest, api_schema: Any, fuzz_world: World, role: str,
                                       method: str, path: str) -> None:
    world = fuzz_world
    if path.startswith("/api/mailqueue") and request.getfixturevalue("queue") is None:
        missing("Postfix is not installed: the mail queue's operations cannot be fuzzed")
    operation = api_schema[path][method]
    headers = world.headers(role)
    names = [p.name for p in operation.path_parameters]
    known = _known(world, [n for n in names if n in KNOWN])
    modes = st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE])

    @given(data=st.data())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not RANDOM,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(data: st.DataObject) -> None:
        mode = data.draw(modes)
        fixed = data.draw(st.one_of(st.none(), known)) if names and all(n in KNOWN for n in names) else None
        case = data.draw(operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)

    run()
