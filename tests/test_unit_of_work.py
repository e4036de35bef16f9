"""One unit of work per request (portal/unit_of_work.py): the rule in the source, the boundary's
behaviour on a real app and database, and the one mapping from integrity errors to conflicts."""

from __future__ import annotations

import io
import itertools
import tokenize
from pathlib import Path

import pytest
from flask import Blueprint, Flask, Response, flash, redirect, request, session
from flask.testing import FlaskClient
from sqlalchemy import UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError

from portal import create_app, unit_of_work
from portal.errors import Conflict, Invalid, ServiceError
from portal.extensions import db
from portal.models import Broker, SenderRule, Upload
from portal.unit_of_work import CONFLICTS, attempt, conflict
from tests.world import UPLOAD_UID, World

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("portal/web", "portal/services", "portal/api")
# file -> why it may write apart from the request (unit_of_work.apart(); nothing commits or rolls back itself)
MAY_WRITE_APART = {
    "portal/services/release.py": "the one named exception: a release's delivery record is durable before "
                                  "the quarantine copy is flagged, so a retry after a crash sends nothing twice",
    "portal/services/login_throttle.py": "a failed sign-in's count outlives the rollback of the request that "
                                         "failed (on SQLite through the session, which has written nothing else)",
    "portal/services/mailservers.py": "a check's claim is committed before the server is contacted, so parallel "
                                      "requests in other processes see it and are refused (429) at once",
    "portal/services/relay_health.py": "a relay check's claim is committed before the relay is contacted, so "
                                        "parallel requests in other processes see it and are refused (429) at once",
    "portal/services/health.py": "a diagnostics run's claim (requested_at) is committed before DNS is asked, so "
                                 "parallel runs of one domain in other processes are refused (429) at once",
    "portal/services/filter_services.py": "a filter service's start/stop command acts on the host whatever the "
                                          "request answers: its audit event (failures too) outlives a rollback",
    "portal/services/quarantine_search.py": "a search records each mailbox's hits and progress as it goes, so the "
                                            "page polling it shows the first hits while the job still runs",
    "portal/services/digest.py": "a digest's claim (user, period) is committed before the mail is sent and its "
                                 "'sent' record at once after the 250: a retried or parallel job sends nothing twice",
}


def _calls(path: Path, names: set[str]) -> list[str]:
    """`name(` calls in the code (comments and strings do not count)."""
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
              if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)]
    return [f"{path.relative_to(ROOT)}:{t.start[0]} {t.string}()" for t, after in itertools.pairwise(tokens)
            if t.type == tokenize.NAME and t.string in names and after.string == "("]


def test_views_and_services_never_commit_or_roll_back() -> None:
    found = []
    for folder in CHECKED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            allowed = {"apart"} if str(path.relative_to(ROOT)) in MAY_WRITE_APART else set()
            found += _calls(path, {"commit", "rollback", "apart"} - allowed)
    assert found == [], ("the request's boundary (portal/unit_of_work.py) commits; use attempt() for a savepoint, "
                         "and apart() only where MAY_WRITE_APART names the reason")


def test_the_allow_list_names_files_that_exist() -> None:
    for name, reason in MAY_WRITE_APART.items():
        assert (ROOT / name).is_file() and reason
        assert _calls(ROOT / name, {"apart"}), f"{name} no longer writes apart: take it off the list"


def test_the_boundary_runs_before_the_other_after_request_hooks(app: Flask) -> None:
    """after_request hooks run last-registered first: the commit precedes the job dispatch."""
    assert app.after_request_funcs[None][-1] is unit_of_work.finish
    assert unit_of_work.finish not in [f for key, funcs in app.after_request_funcs.items() if key for f in funcs]


# --- the boundary on a real request ------------------------------------------------------------------

probe = Blueprint("uow_probe", __name__)


def _broker(name: str) -> None:
    db.session.add(Broker(name=name))


@probe.post("/_uow/ok")
def ok() -> str:
    _broker(request.form["name"])
    return "ok"


@probe.post("/_uow/refused")
def refused() -> str:
    _broker(request.form["name"])
    db.session.flush()
    raise Conflict("refused after writing")


@probe.post("/_uow/attempt-then-redirect")
def attempt_then_redirect() -> Response:
    """What the request did first stays; what the refused attempt wrote does not."""
    _broker("kept")
    try:
        with attempt():
            _broker("undone")
            db.session.flush()
            raise Invalid.on("name", "no")
    except ServiceError:
        flash("refused", "error")
    return redirect("/")


@probe.post("/_uow/attempt-first-then-400")
def attempt_first_then_400() -> tuple[str, int]:
    """A savepoint as the first write: with pysqlite its RELEASE must not commit on its own."""
    with attempt():
        _broker("inner")
    return "refused", 400


@probe.post("/_uow/duplicate-at-commit")
def duplicate_at_commit() -> Response:
    """A write the commit refuses (nothing flushed before): the answer is the conflict, not this redirect."""
    _broker("Broker One")
    session["marker"] = "set"
    return redirect("/")


@probe.post("/api/_uow/duplicate-at-commit")
def api_duplicate_at_commit() -> tuple[str, int]:
    db.session.add(Upload(uid=UPLOAD_UID, name="x", content_type="text/plain", size=1, data=b"x"))
    return "", 204


@pytest.fixture(scope="module")
def probe_app(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The app with the probe routes above, on the test database (migrated by `app`)."""
    application = create_app({**{k: app.config[k] for k in (
        "SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "PASSWORD_HASHER", "REDIS_URL", "RATELIMIT_STORAGE_URI", "BASE_URL",
        "GATEWAY_MX_HOSTS", "DNS_SERVERS", "LOGIN_RATE_LIMIT")}, "TESTING": True, "WTF_CSRF_ENABLED": False,
        "INSTANCE_DIR": tmp_path_factory.mktemp("probe")})
    application.register_blueprint(probe)
    return application


@pytest.fixture
def probe_client(probe_app: Flask, world: World) -> FlaskClient:
    return probe_app.test_client()


def _brokers(probe_app: Flask) -> set[str]:
    with probe_app.app_context():
        return set(db.session.scalars(select(Broker.name)))


def test_a_successful_request_commits(probe_app: Flask, probe_client: FlaskClient) -> None:
    assert probe_client.post("/_uow/ok", data={"name": "new broker"}).status_code == 200
    assert "new broker" in _brokers(probe_app)


def test_a_failed_request_rolls_back_what_it_flushed(probe_app: Flask, probe_client: FlaskClient) -> None:
    answer = probe_client.post("/_uow/refused", data={"name": "half done"})
    assert answer.status_code == 409 and "refused after writing" in answer.text
    assert "half done" not in _brokers(probe_app)


def test_a_refused_attempt_leaves_nothing_but_the_rest_commits(probe_app: Flask, probe_client: FlaskClient) -> None:
    assert probe_client.post("/_uow/attempt-then-redirect").status_code == 302
    names = _brokers(probe_app)
    assert "kept" in names and "undone" not in names


def test_a_savepoint_does_not_commit_by_itself(probe_app: Flask, probe_client: FlaskClient) -> None:
    assert probe_client.post("/_uow/attempt-first-then-400").status_code == 400
    assert "inner" not in _brokers(probe_app)


def test_a_failed_commit_is_the_answer_and_leaves_the_session_as_it_was(
        probe_app: Flask, probe_client: FlaskClient) -> None:
    answer = probe_client.post("/_uow/duplicate-at-commit")
    assert answer.status_code == 409 and answer.mimetype == "text/html"
    assert "A broker with this name exists already." in answer.text
    with probe_client.session_transaction() as cookie:
        assert "marker" not in cookie
    assert sorted(_brokers(probe_app)) == ["Broker One", "Broker Two"]


def test_a_failed_commit_under_the_api_is_a_problem(probe_client: FlaskClient) -> None:
    answer = probe_client.post("/api/_uow/duplicate-at-commit")
    assert answer.status_code == 409 and answer.mimetype == "application/problem+json"
    assert answer.json["detail"] == unit_of_work.UNIQUE_DEFAULT and answer.json["status"] == 409


# --- the mapping ------------------------------------------------------------------------------------

def _integrity_error(*objects: object) -> IntegrityError:
    """The real error of the database under test (SQLite names columns, PostgreSQL the constraint)."""
    db.session.add_all(objects)
    with pytest.raises(IntegrityError) as raised:
        db.session.flush()
    db.session.rollback()
    return raised.value


def test_a_known_unique_constraint_names_its_field(ctx: None, world: World) -> None:
    found = conflict(_integrity_error(Broker(name="Broker One")))
    assert isinstance(found, Conflict) and found.status == 409
    assert found.field_messages() == {"name": "A broker with this name exists already."}
    rule = SenderRule(owner_key=f"d:{world.pk['A']}", domain_id=world.pk["A"], value="spammer@bad.example",
                      type="BLOCK")
    found = conflict(_integrity_error(rule))
    assert found is not None and found.field_messages() == {"value": "A rule for this sender already exists."}


def test_an_unknown_constraint_is_still_a_conflict(ctx: None, world: World) -> None:
    found = conflict(_integrity_error(Upload(uid=UPLOAD_UID, name="x", content_type="text/plain", size=1,
                                             data=b"x")))
    assert found is not None and found.detail == unit_of_work.UNIQUE_DEFAULT and not found.errors


def test_a_missing_reference_is_a_conflict(ctx: None, world: World) -> None:
    found = conflict(_integrity_error(SenderRule(owner_key="d:0", domain_id=10**6, value="x.example",
                                                 type="BLOCK")))
    assert found is not None and found.detail == unit_of_work.REFERENCE_DEFAULT


def test_other_integrity_errors_are_not_conflicts(ctx: None) -> None:
    assert conflict(_integrity_error(Broker(name=None))) is None


def test_attempt_turns_a_duplicate_into_the_conflict_and_keeps_the_transaction(ctx: None, world: World) -> None:
    _broker("before")
    with pytest.raises(Conflict) as raised, attempt():
        _broker("Broker One")
    assert raised.value.field_messages() == {"name": "A broker with this name exists already."}
    assert db.session.scalar(select(func.count()).select_from(Broker).where(Broker.name == "before")) == 1


def test_every_entry_of_the_table_names_a_unique_constraint() -> None:
    names = {str(c.name) for table in db.metadata.tables.values() for c in table.constraints
             if isinstance(c, UniqueConstraint)}
    names |= {str(ix.name) for table in db.metadata.tables.values() for ix in table.indexes if ix.unique}
    assert set(CONFLICTS) <= names, set(CONFLICTS) - names
