"""The pages behind the links of mails: a confirm page that changes nothing, a POST that acts once (also across
gunicorn workers); abuse refused.

Links are made with `links.issue` as the mails' jobs make them; the pages are driven like a browser (the test
client, CSRF tokens from the pages). "Forgot my password" queues its mail through
`portal/services/tasks.py`.
"""

from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from portal.extensions import db
from portal.models import Admin, LinkToken, MailUser
from portal.services import links
from portal.services.links import Purpose
from portal.services.passwords import verify_password
from tests.conftest import csrf_token, login
from tests.services_runtime import gunicorn_app
from tests.snapshot import snapshot
from tests.world import PASSWORD, World

NEW_PASSWORD = "a new and long password"


def _issue(app: Flask, purpose: Purpose, *, user: str | None = None, admin: str | None = None,
           valid_for: timedelta = timedelta(hours=4)) -> str:
    with app.app_context():
        account = {"user": db.session.scalar(select(MailUser).where(MailUser.email == user))} if user else \
            {"admin": db.session.scalar(select(Admin).where(Admin.login == admin))}
        value = links.issue(purpose, valid_for=valid_for, **account)
        db.session.commit()
        return value


def _path(purpose: Purpose, value: str) -> str:
    return links.PATHS[purpose].format(token=value)


def _post(client: FlaskClient, path: str, **form: str) -> Any:
    page = client.get(path)
    token = csrf_token(page.text) if 'name="csrf_token"' in page.text else csrf_token(client.get("/me/login").text)
    return client.post(path, data={"csrf_token": token, **form})


def _sign_in_user(client: FlaskClient, email: str = "user@a.example", password: str = PASSWORD) -> Any:
    return client.post("/me/login", data={"csrf_token": csrf_token(client.get("/me/login").text), "email": email,
                                          "password": password})


def _state(app: Flask) -> dict[str, Any]:
    with app.app_context():
        return snapshot()


def _used(app: Flask) -> list[bool]:
    with app.app_context():
        return [t.used_at is not None for t in db.session.scalars(select(LinkToken).order_by(LinkToken.id))]


# --- sign in with a link --------------------------------------------------------------------------------------

def test_login_link_confirms_then_signs_in_with_a_new_session(app: Flask, client: FlaskClient, world: World) -> None:
    value = _issue(app, Purpose.LOGIN, user="user@a.example")
    before = _state(app)
    page = client.get(_path(Purpose.LOGIN, value))
    assert page.status_code == 200 and "user@a.example" in page.text and 'method="post"' in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    assert _state(app) == before  # opening the link changed nothing
    assert client.get("/me/quarantine").status_code == 302  # not signed in by a GET
    with client.session_transaction() as session:
        session["planted"] = "by someone else"  # what a fixated session would carry over
    answer = client.post(_path(Purpose.LOGIN, value), data={"csrf_token": csrf_token(page.text)})
    assert answer.status_code == 302 and answer.headers["Location"] == "/me/quarantine"
    assert client.get("/me/quarantine").status_code == 200  # lands in the user's quarantine
    with client.session_transaction() as session:
        assert "planted" not in session
    assert _used(app) == [True]
    again = app.test_client()
    refused = _post(again, _path(Purpose.LOGIN, value))
    assert refused.status_code == 410 and "used already" in refused.text
    assert again.get("/me/").status_code == 302


def test_login_link_without_quarantine_lands_home(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        db.session.get(MailUser, world.pk["userA"]).domain.end_user_permissions = ""
        db.session.commit()
    value = _issue(app, Purpose.LOGIN, user="user@a.example")
    answer = _post(client, _path(Purpose.LOGIN, value))
    assert answer.status_code == 302 and answer.headers["Location"] == "/me/"


def _expired(app: Flask) -> tuple[Purpose, str, str]:
    return Purpose.LOGIN, _issue(app, Purpose.LOGIN, user="user@a.example", valid_for=timedelta(seconds=-1)), \
        "expired"


def _reused(app: Flask) -> tuple[Purpose, str, str]:
    value = _issue(app, Purpose.PASSWORD_RESET, user="user@a.example")
    with app.app_context():
        links.use(value, Purpose.PASSWORD_RESET)
        db.session.commit()
    return Purpose.PASSWORD_RESET, value, "used already"


def _tampered(app: Flask) -> tuple[Purpose, str, str]:
    value = _issue(app, Purpose.LOGIN, user="user@a.example")
    return Purpose.LOGIN, value[:-1] + ("A" if value[-1] != "A" else "B"), "not valid"


def _login_as_reset(app: Flask) -> tuple[Purpose, str, str]:
    return Purpose.PASSWORD_RESET, _issue(app, Purpose.LOGIN, user="user@a.example"), "not valid"


def _reset_as_login(app: Flask) -> tuple[Purpose, str, str]:
    return Purpose.LOGIN, _issue(app, Purpose.PASSWORD_RESET, user="user@a.example"), "not valid"


def _setup_as_reset(app: Flask) -> tuple[Purpose, str, str]:
    return Purpose.PASSWORD_RESET, _issue(app, Purpose.PASSWORD_SETUP, admin="admin-a"), "not valid"


def _digest_as_login(app: Flask) -> tuple[Purpose, str, str]:
    return Purpose.LOGIN, _issue(app, Purpose.DIGEST_RELEASE, user="user@a.example"), "not valid"


def _admin_login_link(app: Flask) -> tuple[Purpose, str, str]:
    """A login link names a mailbox user: one made for an administrator opens nothing."""
    return Purpose.LOGIN, _issue(app, Purpose.LOGIN, admin="admin-a"), "not valid"


def _disabled_account(app: Flask) -> tuple[Purpose, str, str]:
    value = _issue(app, Purpose.PASSWORD_RESET, admin="admin-a")
    with app.app_context():
        db.session.scalar(select(Admin).where(Admin.login == "admin-a")).enabled = False
        db.session.commit()
    return Purpose.PASSWORD_RESET, value, "not valid"


def _unknown(_app: Flask) -> tuple[Purpose, str, str]:
    return Purpose.PASSWORD_SETUP, "x" * 43, "not valid"


ABUSE = [_expired, _reused, _tampered, _login_as_reset, _reset_as_login, _setup_as_reset, _digest_as_login,
         _admin_login_link, _disabled_account, _unknown]


@pytest.mark.parametrize("case", ABUSE, ids=[c.__name__.strip("_") for c in ABUSE])
def test_abused_links_are_refused_and_change_nothing(app: Flask, client: FlaskClient, world: World, case: Any) -> None:
    purpose, value, why = case(app)
    before = _state(app)
    page = client.get(_path(purpose, value))
    assert page.status_code == 410 and why in page.text, page.text[-800:]
    assert "Ask for a new one" in page.text  # and a way to get a new link:
    assert ('href="/me/link"' if purpose is Purpose.LOGIN else 'href="/me/password/forgot"') in page.text
    answer = client.post(_path(purpose, value), data={"csrf_token": csrf_token(page.text), "password": NEW_PASSWORD,
                                                      "confirm": NEW_PASSWORD})
    assert answer.status_code == 410 and why in answer.text
    assert _state(app) == before
    assert client.get("/me/").status_code == 302 and client.get("/").status_code == 302  # signed in nowhere


def test_refusals_are_translated(app: Flask, client: FlaskClient, world: World) -> None:
    client.post("/language", data={"csrf_token": csrf_token(client.get("/login").text), "lang": "FR"})
    page = client.get(_path(Purpose.LOGIN, "x" * 43))
    assert page.status_code == 410 and "Ce lien n\u2019est pas valide" in page.text and 'lang="fr"' in page.text


def test_another_accounts_link_is_refused(app: Flask, client: FlaskClient, world: World) -> None:
    value = _issue(app, Purpose.LOGIN, user="user@a.example")
    assert login(client, "root", PASSWORD).status_code == 302
    before = _state(app)
    page = client.get(_path(Purpose.LOGIN, value))
    assert page.status_code == 403 and "another account" in page.text and "/logout" in page.text
    assert _post(client, _path(Purpose.LOGIN, value)).status_code == 403
    assert _state(app) == before and _used(app) == [False]
    assert client.get("/").status_code == 200  # still the administrator
    reset = _issue(app, Purpose.PASSWORD_RESET, admin="admin-a")
    mailbox_user = app.test_client()
    assert _sign_in_user(mailbox_user).status_code == 302
    answer = mailbox_user.post(_path(Purpose.PASSWORD_RESET, reset),
                               data={"csrf_token": csrf_token(mailbox_user.get("/me/").text),
                                     "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert answer.status_code == 403
    with app.app_context():
        assert verify_password(db.session.scalar(select(Admin.password_hash).where(Admin.login == "admin-a")),
                               PASSWORD)
    viewing = app.test_client()  # admin-a viewing user@a.example's portal: their own link is refused too
    assert login(viewing, "admin-a", PASSWORD).status_code == 302
    assert viewing.post(f"/admin/users/{world.id('userA')}/impersonate",
                        data={"csrf_token": csrf_token(viewing.get("/").text)}).status_code == 302
    assert viewing.get(_path(Purpose.LOGIN, value)).status_code == 403
    assert _post(viewing, _path(Purpose.PASSWORD_RESET, reset), password=NEW_PASSWORD,
                 confirm=NEW_PASSWORD).status_code == 403
    assert _used(app) == [False, False] and viewing.get("/me/").status_code == 200  # still viewing as the user


def test_one_of_parallel_posts_of_a_link_goes_through(app: Flask, world: World) -> None:
    value = _issue(app, Purpose.LOGIN, user="user@a.example")
    clients = [app.test_client() for _ in range(5)]
    tokens = [csrf_token(c.get(_path(Purpose.LOGIN, value)).text) for c in clients]
    start, codes = threading.Barrier(len(clients)), []

    def one(client: FlaskClient, token: str) -> None:
        start.wait(timeout=10)
        codes.append(client.post(_path(Purpose.LOGIN, value), data={"csrf_token": token}).status_code)

    threads = [threading.Thread(target=one, args=pair) for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert codes.count(302) == 1, codes
    assert set(codes) <= {302, 410, 503}, codes  # SQLite: a writer that waited too long is a 503, never a use
    assert sum(c.get("/me/").status_code == 200 for c in clients) == 1


# --- choose a password ----------------------------------------------------------------------------------------

def test_reset_applies_the_rules_then_ends_every_session(app: Flask, client: FlaskClient, world: World) -> None:
    elsewhere = app.test_client()
    assert _sign_in_user(elsewhere).status_code == 302 and elsewhere.get("/me/").status_code == 200
    value = _issue(app, Purpose.PASSWORD_RESET, user="user@a.example")
    spare = _issue(app, Purpose.PASSWORD_SETUP, user="user@a.example")  # another password link, retired with it
    path = _path(Purpose.PASSWORD_RESET, value)
    before = _state(app)
    page = client.get(path)
    assert page.status_code == 200 and "user@a.example" in page.text and 'name="confirm"' in page.text
    token = csrf_token(page.text)
    for form, field, words in (
        ({"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"}, "confirm", "not the same"),
        ({"password": "short", "confirm": "short"}, "password", "at least 10 characters"),
        ({"password": "line\r\nbreak password", "confirm": "line\r\nbreak password"}, "password", "control"),
        ({"password": "x" * 300, "confirm": "x" * 300}, "password", "at most 256 characters"),
        ({}, "password", "at least 10 characters"),
    ):
        refused = client.post(path, data={"csrf_token": token, **form})
        assert refused.status_code == 400, form
        assert f'id="e-{field}"' in refused.text and words in refused.text, (form, refused.text[-1500:])
        assert _state(app) == before, form  # the link is still unused, nothing saved
    saved = client.post(path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert saved.status_code == 302 and saved.headers["Location"] == "/me/login"
    assert "Your password was saved" in client.get("/me/login").text
    assert elsewhere.get("/me/").status_code == 302  # the other session ended
    assert _used(app) == [True, True]
    assert _sign_in_user(app.test_client()).status_code == 400  # the old password is gone
    assert _sign_in_user(app.test_client(), password=NEW_PASSWORD).status_code == 302
    assert _post(app.test_client(), _path(Purpose.PASSWORD_SETUP, spare)).status_code == 410


def test_setup_for_the_signed_in_admin_keeps_this_browser_signed_in(app: Flask, client: FlaskClient,
                                                                   world: World) -> None:
    elsewhere = app.test_client()
    assert login(elsewhere, "admin-a", PASSWORD).status_code == 302
    assert login(client, "admin-a", PASSWORD).status_code == 302
    value = _issue(app, Purpose.PASSWORD_SETUP, admin="admin-a")
    page = client.get(_path(Purpose.PASSWORD_SETUP, value))
    assert page.status_code == 200 and "Choose your password" in page.text and "admin-a" in page.text
    saved = client.post(_path(Purpose.PASSWORD_SETUP, value),
                        data={"csrf_token": csrf_token(page.text), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert saved.status_code == 302 and saved.headers["Location"] == "/"
    assert client.get("/").status_code == 200  # this browser: a new session
    assert elsewhere.get("/").status_code == 302  # every other one ended
    assert login(app.test_client(), "admin-a", NEW_PASSWORD).status_code == 302


def test_admin_reset_from_an_anonymous_browser(app: Flask, client: FlaskClient, world: World) -> None:
    for n in range(app.config["LOGIN_ACCOUNT_FAILURES"] + 1):  # a guesser locked the name out
        login(app.test_client(), "reader-a", f"guess {n}")
    assert login(app.test_client(), "reader-a", PASSWORD).status_code == 429
    value = _issue(app, Purpose.PASSWORD_RESET, admin="reader-a")
    saved = _post(client, _path(Purpose.PASSWORD_RESET, value), password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert saved.status_code == 302 and saved.headers["Location"] == "/login"
    assert client.get("/").status_code == 302  # not signed in: the login page asks (and TOTP, if on)
    assert login(client, "reader-a", NEW_PASSWORD).status_code == 302  # the lock-out went with the old password


def test_a_mailbox_password_account_gets_no_form(app: Flask, client: FlaskClient, world: World) -> None:
    with app.app_context():
        user = db.session.get(MailUser, world.pk["userA"])
        user.platform.auth_type = "imap"
        db.session.commit()
    value = _issue(app, Purpose.PASSWORD_RESET, user="user@a.example")
    page = client.get(_path(Purpose.PASSWORD_RESET, value))
    assert page.status_code == 422 and "password of your mailbox" in page.text and 'name="password"' not in page.text
    refused = _post(client, _path(Purpose.PASSWORD_RESET, value), password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert refused.status_code == 422 and _used(app) == [False]


def test_link_posts_are_rate_limited(app: Flask, client: FlaskClient, world: World) -> None:
    token = csrf_token(client.get("/me/login").text)
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        codes = [client.post(_path(Purpose.PASSWORD_RESET, f"guess{n}" + "x" * 40),
                             data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code
                 for n in range(4)]
        login_codes = [client.post(_path(Purpose.LOGIN, f"guess{n}" + "x" * 40),
                                   data={"csrf_token": token}).status_code for n in range(4)]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    assert codes == [410, 410, 410, 429] and login_codes == [410, 410, 410, 429]


# --- forgot my password ---------------------------------------------------------------------------------------

def _queued(app: Flask) -> list[str]:
    """The INSERTs into the job outbox a block of requests made (the jobs may run and delete their rows)."""
    seen: list[str] = []

    def spot(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO JOB_OUTBOX"):
            seen.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", spot)
    app.extensions.setdefault("test_link_pages_spies", []).append(spot)
    return seen


def _stop_spying(app: Flask) -> None:
    with app.app_context():
        for spot in app.extensions.pop("test_link_pages_spies", []):
            event.remove(db.engine, "before_cursor_execute", spot)


def _page(html: str) -> str:
    """A page as compared between answers: without its CSRF tokens (signed with the time)."""
    return re.sub(r'(name="csrf_token" value=|"X-CSRFToken": )"[^"]+"', "", html)


def _forgot(client: FlaskClient, path: str, name: str, address: str = "127.0.0.1") -> Any:
    token = csrf_token(client.get(path).text)
    return client.post(path, data={"csrf_token": token, "name": name}, environ_base={"REMOTE_ADDR": address})


def test_login_pages_link_to_forgot_pages(client: FlaskClient) -> None:
    assert 'href="/me/password/forgot"' in client.get("/me/login").text
    assert 'href="/me/link"' in client.get("/me/login").text
    assert 'href="/password/forgot"' in client.get("/login").text


@pytest.mark.parametrize(("path", "names"), [
    ("/me/password/forgot", ["nobody@a.example", "disabled-or-not@nowhere.example"]),
    ("/password/forgot", ["no-such-login", "nobody@example.org"]),
    ("/me/link", ["nobody@a.example", "admin-a@example.org"]),
])
def test_forgot_and_link_requests_for_unknown_names_queue_nothing(app: Flask, client: FlaskClient,
                                                                        world: World, path: str,
                                                                        names: list[str]) -> None:
    queued = _queued(app)
    try:
        answers = [_forgot(client, path, name) for name in names]
    finally:
        _stop_spying(app)
    assert [a.status_code for a in answers] == [200] * len(names)
    assert all("If an account matches" in a.text or "If this address has a mailbox here" in a.text for a in answers)
    assert len({_page(a.text) for a in answers}) == 1
    assert queued == []


@pytest.mark.parametrize(("path", "known", "unknown"), [
    ("/me/password/forgot", "user@a.example", "nobody@a.example"),
    ("/password/forgot", "admin-a", "no-such-login"),
    ("/password/forgot", "admin-a@example.org", "nobody@example.org"),
    ("/me/link", "user@a.example", "nobody@a.example"),
])
def test_forgot_and_link_requests_queue_a_mail_for_a_known_account_only(app: Flask, world: World, path: str, known: str,
                                                       unknown: str) -> None:
    queued = _queued(app)
    try:
        for_unknown = _forgot(app.test_client(), path, unknown)
        assert queued == []
        for_known = _forgot(app.test_client(), path, known)
    finally:
        _stop_spying(app)
    assert len(queued) >= 1
    assert for_known.status_code == for_unknown.status_code == 200
    assert _page(for_known.text) == _page(for_unknown.text)


def test_forgot_refuses_bad_input(app: Flask, client: FlaskClient, world: World) -> None:
    before = _state(app)
    for path in ("/me/password/forgot", "/password/forgot", "/me/link"):
        for name in ("", "   ", "user@a.example\r\nBcc: x@evil.example", "a" * 400):
            answer = _forgot(client, path, name)
            assert answer.status_code == 400 and 'id="e-name"' in answer.text, (path, name)
    assert _state(app) == before


def test_forgot_is_rate_limited_per_name_and_per_client(app: Flask, world: World) -> None:
    app.config["PASSWORD_RESET_ACCOUNT_RATE_LIMIT"] = "2 per hour"
    try:
        per_name = [_forgot(app.test_client(), "/me/password/forgot", "Nobody@a.example ", f"198.51.100.{n}")
                    .status_code for n in range(3)]
        other_name = _forgot(app.test_client(), "/me/password/forgot", "else@a.example", "198.51.100.9").status_code
    finally:
        app.config["PASSWORD_RESET_ACCOUNT_RATE_LIMIT"] = "1000 per minute"
    assert per_name == [200, 200, 429] and other_name == 200
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    try:
        per_client = [_forgot(app.test_client(), "/password/forgot", f"nobody{n}", "203.0.113.5").status_code
                      for n in range(3)]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    assert per_client == [200, 200, 429]



# --- once across processes --------------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


def _browser() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect)


def _open(browser: urllib.request.OpenerDirector, url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with browser.open(url, data=data, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_parallel_posts_under_gunicorn_use_a_link_once(app: Flask, world: World, database_url: str) -> None:
    value = _issue(app, Purpose.LOGIN, user="user@a.example")
    env = {"POSTERN_DATABASE_URL": database_url, "POSTERN_SECRET_KEY": app.config["SECRET_KEY"],
           "POSTERN_INSTANCE_DIR": str(app.config["INSTANCE_DIR"]), "POSTERN_MAIL_ROOT": app.config["MAIL_ROOT"],
           "POSTERN_LOGIN_RATE_LIMIT": "1000 per second"}
    with gunicorn_app(env, workers=4) as base:
        url = base + _path(Purpose.LOGIN, value)
        browsers = [_browser() for _ in range(8)]
        tokens = []
        for browser in browsers:
            status, text = _open(browser, url)
            assert status == 200, text[-500:]
            tokens.append(csrf_token(text))
        start = threading.Barrier(len(browsers))

        def one(n: int) -> int:
            start.wait(timeout=30)
            return _open(browsers[n], url, {"csrf_token": tokens[n]})[0]

        with ThreadPoolExecutor(len(browsers)) as pool:
            codes = list(pool.map(one, range(len(browsers))))
        assert codes.count(302) == 1, codes
        assert set(codes) <= {302, 410, 503}, codes  # SQLite: a writer that waited too long is a 503, never a use
        assert sum(_open(b, base + "/me/")[0] == 200 for b in browsers) == 1
    assert _used(app) == [True]
