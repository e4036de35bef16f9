"""Every page route x every role, with the expected answer; refused writes change nothing.

One row per route and method: what each role gets. The expectations come from the product's rules (README
"Accounts and permissions", "Mail: quarantine, folders, release, send"; DESIGN.md: a foreign object is a 404,
a visible one without the permission a 403), not from what the code answered. A page route without a row here
fails `test_every_page_route_is_in_the_matrix`, so a new page cannot be added without saying who may open it;
any other method answers 405 (`test_other_methods_are_refused`).

An outcome is a status code, or where the redirect goes:
  LOGIN    302 to a sign-in page            ME     302 to /me/ (a mailbox user's home)
  DASH     302 to / (the administrators' dashboard)
  DONE     302 to the page that follows a write, no error flashed
  FLASHED  302 back with an error flashed (buttons that report a refusal on the page they came from)
The blueprints' own guards (anonymous: sign in; a mailbox user on /admin, an administrator on /me: the other
portal) fill the rows through `admin_page` and `user_page`.

One world serves the module (built once, every account signed in once): after each request the database and
the mail store are compared with what they were; a GET or a refusal must have changed nothing (but for the
audit event of an administrator reading a user's mail), and a write that was let through is undone before the
next request.
"""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text

from portal.extensions import db, limiter
from portal.integrations.mailstore import maildir_root
from portal.models import AuditEvent, Domain
from tests.conftest import csrf_token
from tests.services_runtime import dns_server, smtp_server
from tests.snapshot import snapshot
from tests.world import PAGE_LOGINS, PASSWORD, World, _maildir, add_page_roles, build_world

LOGIN, ME, DASH, DONE, FLASHED = "login", "to /me/", "to /", "done", "flashed"
OK, BAD, NO, GONE = 200, 400, 403, 404


class Away(str):
    """A redirect by the blueprint's guard (sign in first, or the other portal): the request did nothing."""


SIGN_IN, TO_PORTAL, TO_DASHBOARD = Away(LOGIN), Away(ME), Away(DASH)
REFUSED = (NO, GONE, BAD, FLASHED)  # with Away: outcomes after which nothing may have changed

USER_ROLES = ("user", "userB", "userC", "viewas")
ADMIN_ROLES = ("sysadmin", "broker", "customer", "domainA", "operatorA", "helpdeskA", "readerA", "domainB", "adminC")
ROLES = ("anonymous", *USER_ROLES, *ADMIN_ROLES)
# user       user@a.example; domain A grants its users every end-user permission
# userB      user@b.example; domain B (same customer) grants everything too: A's objects are foreign to it
# userC      user@c.example; domain C (another broker) grants its users nothing
# viewas     admin-a viewing user@a.example's portal (IMPERSONATE)
# sysadmin   root;  broker  every permission on broker B1 (customer C1: domains A, B);
# customer   every permission on C1;  domainA  every permission on A;  operatorA  on A: DOMAIN_READ, USER_READ,
# USER_EDIT, FILTER_EDIT, QUARANTINE_READ, QUARANTINE_RELEASE (not DOMAIN_EDIT, GRANT, ALIAS_EDIT, POLICY_ASSIGN,
# IMPERSONATE);  helpdeskA  DOMAIN_READ, USER_READ, QUARANTINE_READ on A;  readerA  DOMAIN_READ on A;  domainB
# every permission on B;  adminC  every permission on C (broker B2: another tenant).
# The objects acted on are A's unless a row says otherwise.
MAILBOXES = ("user@a.example", "user@b.example", "user@c.example")


def admin_page(*outcomes: Any) -> dict[str, Any]:
    """An /admin page: sign in first; a mailbox user is sent to their portal. Outcomes in ADMIN_ROLES order."""
    assert len(outcomes) == len(ADMIN_ROLES)
    return {"anonymous": SIGN_IN, **dict.fromkeys(USER_ROLES, TO_PORTAL),
            **dict(zip(ADMIN_ROLES, outcomes, strict=True))}


def user_page(*outcomes: Any) -> dict[str, Any]:
    """A /me page: sign in first; an administrator is sent to the dashboard. Outcomes in USER_ROLES order."""
    assert len(outcomes) == len(USER_ROLES)
    return {"anonymous": SIGN_IN, **dict.fromkeys(ADMIN_ROLES, TO_DASHBOARD),
            **dict(zip(USER_ROLES, outcomes, strict=True))}


def everyone(outcome: Any) -> dict[str, Any]:
    return dict.fromkeys(ROLES, outcome)


def link_page(owner: str, for_owner: Any, for_anonymous: Any) -> dict[str, Any]:
    """A page behind a mail's link: its account's (and an anonymous browser's); signed in as another, 403."""
    return {**everyone(NO), owner: for_owner, "anonymous": for_anonymous}


ANY_ADMIN = (OK,) * 9
ANY_ADMIN_WRITES = (DONE,) * 9
ONLY_SYSADMIN = (OK,) + (NO,) * 8
ONLY_SYSADMIN_WRITES = (DONE,) + (NO,) * 8
SEE_A = (OK, OK, OK, OK, OK, OK, OK, GONE, GONE)  # DOMAIN_READ on A
EDIT_A = (DONE, DONE, DONE, DONE, NO, NO, NO, GONE, GONE)  # DOMAIN_EDIT on A
GRANT_A = ALIASES_A = EDIT_A  # GRANT, ALIAS_EDIT on A: held by the same roles
FILTERS_A = (DONE, DONE, DONE, DONE, DONE, NO, NO, GONE, GONE)  # FILTER_EDIT on A
FILTER_FORM_A = (OK, OK, OK, OK, OK, NO, NO, GONE, GONE)  # a form that only writes: FILTER_EDIT, as its POST
SYSADMIN_IN_A = (DONE, NO, NO, NO, NO, NO, NO, GONE, GONE)  # visible in A, written by a sysadmin only
SYSADMIN_FORM_IN_A = (OK, NO, NO, NO, NO, NO, NO, GONE, GONE)  # its form: the same
DKIM_EDIT_B = (DONE, DONE, DONE, GONE, GONE, GONE, GONE, DONE, GONE)  # DKIM_EDIT on B
DKIM_NOTHING_PENDING_B = (FLASHED, FLASHED, FLASHED, GONE, GONE, GONE, GONE, FLASHED, GONE)
EDIT_C1 = (DONE, DONE, DONE, GONE, GONE, GONE, GONE, GONE, GONE)  # DOMAIN_EDIT on customer C1 (who sees it)
SEE_USERS_A = (OK, OK, OK, OK, OK, OK, GONE, GONE, GONE)  # USER_READ on A: a user is visible with it only
EDIT_USERS_A = (DONE, DONE, DONE, DONE, DONE, NO, GONE, GONE, GONE)  # USER_EDIT on A
READ_MAIL_A = (OK, OK, OK, OK, OK, OK, GONE, GONE, GONE)  # QUARANTINE_READ on A
RELEASE_A = (DONE, DONE, DONE, DONE, DONE, FLASHED, GONE, GONE, GONE)  # QUARANTINE_RELEASE on A
SEARCHERS = (OK, OK, OK, OK, OK, OK, NO, OK, OK)  # QUARANTINE_READ anywhere
SEARCHERS_WRITE = (DONE, DONE, DONE, DONE, DONE, DONE, NO, DONE, DONE)
ONLY_ITS_STARTER = (GONE, GONE, GONE, OK, GONE, GONE, NO, GONE, GONE)  # admin-a's search
ONLY_ITS_STARTER_WRITE = (GONE, GONE, GONE, DONE, GONE, GONE, NO, GONE, GONE)
TO_ADMIN_A = {"admin_id": "readerA"}  # the account of reader-a: an admin of A with DOMAIN_READ
DOMAIN_A = {"domain_id": "A"}
MESSAGE = "quarantined-0@bad.example"  # in user@a.example's quarantine
FILE = object()  # a small uploaded file


@dataclass(frozen=True)
class Page:
    method: str
    rule: str  # as registered, e.g. /admin/domains/<domain_id>
    expected: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)  # path variable -> world name, or "=literal"
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, Any] = field(default_factory=dict)  # "@name" -> that world object's public id
    label: str = ""


MATRIX = [
    # --- web.auth: open to everyone ---------------------------------------------------------------------
    Page("GET", "/login", {**everyone(DASH), "anonymous": OK, **dict.fromkeys(USER_ROLES, ME)}),
    Page("POST", "/login", everyone(DASH), form={"login": "reader-a", "password": PASSWORD}),
    Page("GET", "/login/totp", everyone(LOGIN), label="(no password step pending)"),
    Page("POST", "/login/totp", everyone(LOGIN), form={"code": "123456"}, label="(no password step pending)"),
    Page("POST", "/logout", everyone(LOGIN)),
    Page("POST", "/language", everyone(DASH), form={"lang": "FR"}),
    Page("GET", "/brand/<key>.css", everyone(OK), {"key": "=1e88e5"}, label="(a brand's colours: public)"),
    # the pages behind the links of mails (issue 13): the link names the account; a browser signed in as another
    # one is refused (403: log out first); "forgot my password" answers everyone alike
    Page("GET", "/me/link/<token>", link_page("user", OK, OK), {"token": "loginLinkA"},
         label="(user@a.example's login link)"),
    Page("POST", "/me/link/<token>", link_page("user", DONE, DONE), {"token": "loginLinkA"},
         label="(user@a.example's login link: to their quarantine)"),
    Page("GET", "/password/setup/<token>", link_page("user", OK, OK), {"token": "setupLinkA"},
         label="(user@a.example's setup link)"),
    Page("POST", "/password/setup/<token>", link_page("user", ME, LOGIN), {"token": "setupLinkA"},
         form={"password": "a new and long password", "confirm": "a new and long password"},
         label="(user@a.example's setup link)"),
    Page("GET", "/password/reset/<token>", link_page("readerA", OK, OK), {"token": "resetLinkReaderA"},
         label="(reader-a's reset link)"),
    Page("POST", "/password/reset/<token>", link_page("readerA", DASH, LOGIN), {"token": "resetLinkReaderA"},
         form={"password": "a new and long password", "confirm": "a new and long password"},
         label="(reader-a's reset link)"),
    Page("GET", "/me/link", everyone(OK)),
    Page("POST", "/me/link", everyone(OK), form={"name": "nobody@a.example"}, label="(no such mailbox)"),
    Page("GET", "/me/password/forgot", everyone(OK)),
    Page("POST", "/me/password/forgot", everyone(OK), form={"name": "nobody@a.example"}, label="(no such account)"),
    Page("GET", "/password/forgot", everyone(OK)),
    Page("POST", "/password/forgot", everyone(OK), form={"name": "no-such-login"}, label="(no such account)"),
    # --- web.user: the mailbox user's portal; what the domain grants decides -------------------------------
    # user_page(user, userB, userC, viewas)
    Page("GET", "/me/login", {**everyone(OK), **dict.fromkeys(USER_ROLES, ME)}),
    Page("POST", "/me/login", everyone(ME), form={"email": "user@a.example", "password": PASSWORD}),
    Page("GET", "/me/", user_page(OK, OK, OK, OK)),
    Page("GET", "/me/quarantine", user_page(OK, OK, NO, OK)),
    Page("GET", "/me/quarantine/message", user_page(OK, GONE, NO, OK), query={"id": MESSAGE}),
    Page("GET", "/me/quarantine/attachment", user_page(OK, GONE, NO, OK),
         query={"id": "quarantined-1@bad.example", "part": "2"}),
    Page("GET", "/me/quarantine/source", user_page(OK, GONE, NO, GONE), query={"id": MESSAGE},
         label="(the owner's only, as on the administrators' view)"),
    Page("POST", "/me/quarantine/release", user_page(DONE, FLASHED, FLASHED, DONE), form={"id": MESSAGE}),
    Page("POST", "/me/quarantine/bulk", user_page(DONE, FLASHED, FLASHED, DONE),
         form={"action": "delete", "ids": MESSAGE}, label="(user@b.example has no mail store yet)"),
    Page("POST", "/me/quarantine/bulk", user_page(NO, NO, NO, DONE),
         form={"action": "block", "ids": MESSAGE, "scope": "domain"},
         label="block for the whole domain (an administrator viewing as the user)"),
    Page("GET", "/me/folders", user_page(OK, OK, NO, OK)),
    Page("GET", "/me/compose", user_page(OK, OK, NO, OK)),
    Page("POST", "/me/compose", user_page(DONE, DONE, NO, DONE),
         form={"to": "someone@c.example", "subject": "Hi", "body": "Hello"}),
    Page("POST", "/me/compose/attachments", user_page(OK, OK, NO, OK), form={"file": FILE}),
    Page("POST", "/me/compose/attachments/<uid>/delete", user_page(OK, GONE, GONE, OK),
         {"uid": "=0123456789abcdef0123456789abcdef"}, label="(user@a.example's file)"),
    Page("GET", "/me/senders", user_page(OK, OK, NO, OK)),
    Page("POST", "/me/senders", user_page(DONE, DONE, NO, DONE), form={"value": "pal@friends.example",
                                                                        "type": "BLOCK"}),
    Page("POST", "/me/senders/<rule_id>/delete", user_page(DONE, GONE, NO, DONE), {"rule_id": "ruleUserA"},
         label="(user@a.example's rule)"),
    Page("GET", "/me/signature", user_page(OK, OK, NO, OK)),
    Page("POST", "/me/signature", user_page(DONE, DONE, NO, DONE), form={"sign": "<b>Regards</b>"}),
    Page("GET", "/me/notifications", user_page(OK, OK, OK, OK)),
    Page("POST", "/me/notifications", user_page(DONE, DONE, DONE, DONE),
         form={"frequency": "WEEKLY", "time": "07:30", "day": "FRIDAY", "timezone": "Europe/Oslo", "language": "EN"}),
    # the digest's links: the token is the authority (no sign-in); an unknown one is gone for everyone
    Page("GET", "/me/digest/<action>/<token>", everyone(410), {"action": "=release", "token": "=not-a-token"}),
    Page("POST", "/me/digest/<action>/<token>", everyone(410), {"action": "=block", "token": "=not-a-token"}),
    Page("GET", "/me/digest/off/<token>", everyone(410), {"token": "=not-a-token"}),
    Page("POST", "/me/digest/off/<token>", everyone(410), {"token": "=not-a-token"},
         form={"List-Unsubscribe": "One-Click"}),
    Page("POST", "/me/impersonation/stop", user_page(ME, ME, ME, DONE)),
    # --- web.admin ------------------------------------------------------------------------------------
    # admin_page(sysadmin, broker, customer, domainA, operatorA, helpdeskA, readerA, domainB, adminC)
    Page("GET", "/", admin_page(*ANY_ADMIN)),
    Page("GET", "/admin", admin_page(*(DASH,) * 9)),
    Page("GET", "/admin/audit", admin_page(*ANY_ADMIN)),
    Page("GET", "/admin/explain", admin_page(OK, OK, OK, OK, OK, OK, OK, BAD, BAD),
         query={"sender": "spammer@bad.example", "recipient": "user@a.example"},
         label="(for a recipient one cannot see: the form's error)"),
    # one's own account
    Page("GET", "/account", admin_page(*ANY_ADMIN)),
    Page("POST", "/account", admin_page(*ANY_ADMIN_WRITES), form={"display_name": "Renamed",
                                                                   "email": "me@example.org", "language": "EN"}),
    Page("GET", "/account/tokens", admin_page(*ANY_ADMIN)),
    Page("POST", "/account/tokens", admin_page(*ANY_ADMIN), form={"name": "mine"}),
    Page("POST", "/account/tokens/<token_id>/revoke", admin_page(GONE, GONE, GONE, GONE, GONE, GONE, DONE, GONE, GONE),
         {"token_id": "readerA_token"}, label="(reader-a's token)"),
    Page("GET", "/account/security", admin_page(*ANY_ADMIN)),
    Page("POST", "/account/security/totp", admin_page(*ANY_ADMIN_WRITES), form={"code": "123456"},
         label="(no enrolment started: back to the page)"),
    Page("POST", "/account/security/totp/disable", admin_page(*ANY_ADMIN_WRITES), form={"password": PASSWORD}),
    # administrators (GRANT); reader-a is the target, so its own row says what one may do to oneself
    Page("GET", "/admin/admins", admin_page(OK, OK, OK, OK, NO, NO, NO, OK, OK)),
    Page("GET", "/admin/admins/new", admin_page(OK, OK, OK, OK, NO, NO, NO, OK, OK)),
    Page("POST", "/admin/admins/new", admin_page(DONE, DONE, DONE, DONE, NO, NO, NO, NO, NO),
         form={"login": "new-admin", "email": "new@a.example", "password": "a long enough password",
               "language": "EN", "enabled": "on", "object_type": "DOMAIN", "object_name": "a.example",
               "permissions": "DOMAIN_READ"}, label="(an admin of a.example)"),
    Page("GET", "/admin/admins/<admin_id>", admin_page(OK, OK, OK, OK, GONE, GONE, OK, GONE, GONE), TO_ADMIN_A),
    Page("POST", "/admin/admins/<admin_id>", admin_page(DONE, DONE, DONE, DONE, GONE, GONE, DONE, GONE, GONE),
         TO_ADMIN_A, form={"display_name": "Renamed", "email": "reader@a.example", "language": "EN"}),
    Page("POST", "/admin/admins/<admin_id>/authorities", admin_page(DONE, DONE, DONE, DONE, GONE, GONE, NO, GONE, GONE),
         TO_ADMIN_A, form={"object_type": "DOMAIN", "object_name": "a.example",
                           "permissions": ["DOMAIN_READ", "USER_READ"]}),
    Page("POST", "/admin/admins/<admin_id>/authorities/<object_type>/<object_id>/delete",
         admin_page(DONE, DONE, DONE, DONE, GONE, GONE, NO, GONE, GONE),
         {"admin_id": "readerA", "object_type": "=DOMAIN", "object_id": "A"}),
    Page("POST", "/admin/admins/<admin_id>/enabled", admin_page(DONE, DONE, DONE, DONE, GONE, GONE, NO, GONE, GONE),
         TO_ADMIN_A, form={"enabled": "false"}),
    Page("GET", "/admin/admins/<admin_id>/delete", admin_page(OK, OK, OK, OK, GONE, GONE, NO, GONE, GONE), TO_ADMIN_A),
    Page("POST", "/admin/admins/<admin_id>/delete", admin_page(DONE, DONE, DONE, DONE, GONE, GONE, NO, GONE, GONE),
         TO_ADMIN_A),
    Page("GET", "/admin/admins/<admin_id>/delete", admin_page(OK, NO, NO, NO, GONE, GONE, GONE, GONE, NO),
         {"admin_id": "adminAC"}, label="(admin-ac, reader of A and of C: governed by a sysadmin only)"),
    Page("POST", "/admin/admins/<admin_id>/delete", admin_page(DONE, NO, NO, NO, GONE, GONE, GONE, GONE, NO),
         {"admin_id": "adminAC"}, label="(admin-ac, reader of A and of C: governed by a sysadmin only)"),
    # brokers and customers
    Page("GET", "/admin/customers", admin_page(*ANY_ADMIN)),
    Page("POST", "/admin/customers", admin_page(DONE, DONE, NO, NO, NO, NO, NO, NO, NO),
         form={"broker_id": "@B1", "name": "New Customer"}, label="(of broker B1: DOMAIN_CREATE on it)"),
    Page("POST", "/admin/brokers", admin_page(*ONLY_SYSADMIN_WRITES), form={"broker_name": "New Broker"}),
    Page("GET", "/admin/customers/<customer_id>", admin_page(OK, OK, OK, GONE, GONE, GONE, GONE, GONE, GONE),
         {"customer_id": "C1"}),
    Page("POST", "/admin/customers/<customer_id>/options", admin_page(*EDIT_C1), {"customer_id": "C1"},
         form={"name": "SUPPORT_EMAIL", "value": "help@c1.example"}),
    Page("POST", "/admin/customers/<customer_id>/options/<name>/delete",
         admin_page(*EDIT_C1), {"customer_id": "C1", "name": "=SUPPORT_EMAIL"}),
    # installation-wide: system administrators
    Page("GET", "/admin/options", admin_page(*ONLY_SYSADMIN)),
    Page("POST", "/admin/options", admin_page(*ONLY_SYSADMIN_WRITES),
         form={"name": "SUPPORT_EMAIL", "value": "help@example.org"}),
    Page("POST", "/admin/options/<name>/delete", admin_page(*ONLY_SYSADMIN_WRITES), {"name": "=SUPPORT_EMAIL"}),
    Page("GET", "/admin/providers", admin_page(*ONLY_SYSADMIN)),
    Page("POST", "/admin/providers", admin_page(*ONLY_SYSADMIN_WRITES),
         form={"name": "Other Cloud", "spf_provider": "spf.other.example"}),
    Page("POST", "/admin/providers/<provider_id>/active", admin_page(*ONLY_SYSADMIN_WRITES),
         {"provider_id": "provider"}),
    Page("POST", "/admin/providers/<provider_id>/delete", admin_page(*ONLY_SYSADMIN_WRITES),
         {"provider_id": "provider"}),
    # mail servers (issue 12): installation-wide, system administrators only; "server": Loopback relay, 127.0.0.1:2525
    Page("GET", "/admin/mailservers", admin_page(*ONLY_SYSADMIN)),
    Page("GET", "/admin/mailservers/new", admin_page(*ONLY_SYSADMIN)),
    Page("POST", "/admin/mailservers/new", admin_page(*ONLY_SYSADMIN_WRITES),
         form={"name": "Second relay", "protocol": "SMTP", "host": "smtp.example.org", "security": "STARTTLS",
               "certificate": "DEFAULT", "auth": "NO_AUTH"}),
    Page("GET", "/admin/mailservers/<server_id>", admin_page(*ONLY_SYSADMIN), {"server_id": "server"}),
    Page("POST", "/admin/mailservers/<server_id>", admin_page(*ONLY_SYSADMIN_WRITES), {"server_id": "server"},
         form={"name": "Loopback relay", "protocol": "SMTP", "host": "127.0.0.1", "port": "2525", "security": "NONE",
               "certificate": "DEFAULT", "auth": "NO_AUTH", "subject_prefix": "[Relay]"}),
    Page("POST", "/admin/mailservers/<server_id>/enabled", admin_page(*ONLY_SYSADMIN_WRITES), {"server_id": "server"},
         form={"enabled": "true"}),
    Page("GET", "/admin/mailservers/<server_id>/delete", admin_page(*ONLY_SYSADMIN), {"server_id": "server"}),
    Page("POST", "/admin/mailservers/<server_id>/delete", admin_page(*ONLY_SYSADMIN_WRITES), {"server_id": "server"}),
    Page("POST", "/admin/mailservers/<server_id>/check", admin_page(*ONLY_SYSADMIN), {"server_id": "server"},
         label="(port 2525: a failed check, shown on the page)"),
    Page("POST", "/admin/mailservers/<server_id>/test-mail", admin_page(*ONLY_SYSADMIN), {"server_id": "server"},
         form={"to": "someone@example.org"}, label="(port 2525: a failed test mail, shown on the page)"),
    # filter services (issue 17): sysadmins and QUEUE_MANAGE (broker scope: the broker role) see and self-test;
    # sysadmins start / stop. The world's app watches no service and configures no command: a refusal, flashed
    Page("GET", "/admin/services", admin_page(OK, OK, NO, NO, NO, NO, NO, NO, NO)),
    Page("POST", "/admin/services/<name>/self-test", admin_page(OK, OK, NO, NO, NO, NO, NO, NO, NO),
         {"name": "=clamav"}, label="(POSTERN_CLAMD unset: a failed test, shown on the card)"),
    Page("POST", "/admin/services/<name>/enabled", admin_page(FLASHED, NO, NO, NO, NO, NO, NO, NO, NO),
         {"name": "=spamassassin"}, form={"enabled": "false"}, label="(no stop command configured)"),
    # the mail queue (issue 17): sysadmins and QUEUE_MANAGE on a broker; no Postfix here (`_no_postfix`), so who
    # gets through sees "not available here" (503) or has it flashed; tests/web/test_mailqueue_pages.py runs them
    # against a real Postfix
    Page("GET", "/admin/mailqueue", admin_page(503, 503, NO, NO, NO, NO, NO, NO, NO), label="(no Postfix)"),
    Page("GET", "/admin/mailqueue/<queue_id>", admin_page(503, 503, NO, NO, NO, NO, NO, NO, NO),
         {"queue_id": "=ABCDEF0123"}, label="(no Postfix)"),
    Page("POST", "/admin/mailqueue", admin_page(FLASHED, FLASHED, NO, NO, NO, NO, NO, NO, NO),
         form={"action": "hold", "ids": "ABCDEF0123"}, label="(no Postfix: the error flashed)"),
    # the domain-wide quarantine search (issue 15): QUARANTINE_READ anywhere (not reader-a); a search is its
    # starter's only (the world's "qsearchA" is admin-a's: anyone else, 404). The POST's job runs after the answer
    Page("GET", "/admin/quarantine/search", admin_page(*SEARCHERS)),
    Page("POST", "/admin/quarantine/search", admin_page(*SEARCHERS_WRITE), form={"sender": "bad.example"}),
    Page("GET", "/admin/quarantine/search/<search_id>", admin_page(*ONLY_ITS_STARTER), {"search_id": "=qsearchA"}),
    Page("POST", "/admin/quarantine/search/<search_id>/cancel", admin_page(*ONLY_ITS_STARTER_WRITE),
         {"search_id": "=qsearchA"}, label="(a finished search: stays as it was)"),
    # message tracking (issue 17): the mail queue's operators; the world's app indexes no log (an empty search)
    Page("GET", "/admin/tracking", admin_page(OK, OK, NO, NO, NO, NO, NO, NO, NO)),
    Page("GET", "/admin/jobs", admin_page(*ONLY_SYSADMIN)),
    Page("POST", "/admin/jobs/<job_id>/retry", admin_page(GONE, NO, NO, NO, NO, NO, NO, NO, NO), {"job_id": "=nothing"},
         label="(no such job)"),
    Page("POST", "/admin/jobs/<job_id>/dismiss", admin_page(*ONLY_SYSADMIN_WRITES), {"job_id": "jobFailure"},
         label="(a failure of the in-process runner)"),
    # domains (DOMAIN_CREATE on a customer or broker to create; DOMAIN_READ to see; DOMAIN_EDIT to change)
    Page("GET", "/admin/domains", admin_page(*ANY_ADMIN)),
    Page("GET", "/admin/domains/new", admin_page(OK, OK, OK, NO, NO, NO, NO, NO, NO)),
    Page("POST", "/admin/domains/new", admin_page(DONE, DONE, DONE, NO, NO, NO, NO, NO, NO),
         form={"name": "new.example", "customer_id": "@C1", "status": "ENABLED", "default_language": "EN",
               "quarantine": "on"}, label="(for customer C1)"),
    Page("GET", "/admin/domains/<domain_id>", admin_page(*(DONE,) * 7, GONE, GONE), DOMAIN_A,
         label="(to its first tab one may open; any authority on the domain shows it)"),
    Page("GET", "/admin/domains/<domain_id>/tab/<tab>", admin_page(*SEE_A), {"domain_id": "A", "tab": "=settings"}),
    Page("GET", "/admin/domains/<domain_id>/tab/<tab>", admin_page(OK, OK, OK, OK, NO, NO, NO, GONE, GONE),
         {"domain_id": "A", "tab": "=admins"}, label="(the admins tab opens with GRANT)"),
    # diagnostics (issue 14): seen with DOMAIN_READ, run with HEALTH_RUN (the job runs in-process after the commit)
    Page("GET", "/admin/domains/<domain_id>/tab/<tab>", admin_page(*SEE_A), {"domain_id": "A", "tab": "=health"}),
    Page("POST", "/admin/domains/<domain_id>/health", admin_page(DONE, DONE, DONE, DONE, NO, NO, NO, GONE, GONE),
         DOMAIN_A),
    Page("GET", "/admin/domains/<domain_id>/health/status", admin_page(*(DONE,) * 7, GONE, GONE), DOMAIN_A,
         label="(a fragment for HTMX; without it, to the Health tab)"),
    Page("GET", "/admin/domains/<domain_id>/dns", admin_page(*SEE_A), DOMAIN_A),
    Page("POST", "/admin/domains/<domain_id>/settings", admin_page(*EDIT_A), DOMAIN_A,
         form={"description": "changed", "status": "ENABLED", "wblist_priority": "USER", "default_language": "EN",
               "policy_id": "@policyA"}),
    Page("GET", "/admin/domains/<domain_id>/delete", admin_page(*SYSADMIN_FORM_IN_A), DOMAIN_A),
    Page("POST", "/admin/domains/<domain_id>/delete", admin_page(*SYSADMIN_IN_A), DOMAIN_A, form={"ignore_mx": "on"}),
    Page("POST", "/admin/domains/<domain_id>/revert", admin_page(DONE, NO, NO, GONE, GONE, GONE, GONE, GONE, GONE),
         {"domain_id": "gone"}, label="(gone.example of C1, deleted)"),
    Page("POST", "/admin/domains/<domain_id>/aliases", admin_page(*EDIT_A), DOMAIN_A,
         form={"alias": "more-a.example"}),
    Page("POST", "/admin/domains/<domain_id>/aliases/<alias_id>/delete", admin_page(*EDIT_A),
         {"domain_id": "A", "alias_id": "aliasA"}),
    Page("POST", "/admin/domains/<domain_id>/platforms", admin_page(*EDIT_A), DOMAIN_A,
         form={"name": "relay-A2", "transport_dest": "relay.a.example", "transport_port": "25",
               "transport_type": "SMTP"}),
    Page("POST", "/admin/domains/<domain_id>/platforms/<platform_id>/delete", admin_page(*EDIT_A),
         {"domain_id": "A", "platform_id": "spareRelayA"}),
    # relay checks on the Platforms tab (HEALTH_RUN on A runs and tries, DOMAIN_READ reads; the relays accept)
    Page("GET", "/admin/domains/<domain_id>/platforms/<platform_id>/health", admin_page(*SEE_A),
         {"domain_id": "A", "platform_id": "platformA"}),
    Page("POST", "/admin/domains/<domain_id>/platforms/<platform_id>/health", admin_page(*EDIT_A),
         {"domain_id": "A", "platform_id": "platformA"}),
    Page("POST", "/admin/domains/<domain_id>/relay-try", admin_page(OK, OK, OK, OK, NO, NO, NO, GONE, GONE),
         DOMAIN_A, form={"transport_dest": "127.0.0.1", "transport_port": "2525", "transport_type": "SMTP"},
         label="(nothing listens on 2525: the result page says so; nothing saved)"),
    Page("POST", "/admin/domains/<domain_id>/options", admin_page(*EDIT_A), DOMAIN_A,
         form={"name": "SUPPORT_EMAIL", "value": "help@a.example"}),
    Page("POST", "/admin/domains/<domain_id>/test-digest", admin_page(*(DONE,) * 6, NO, GONE, GONE), DOMAIN_A,
         form={"email": "user@a.example"}, label="(QUARANTINE_READ on A; the job's mail fails here: port 9)"),
    Page("POST", "/admin/domains/<domain_id>/options/<name>/delete", admin_page(*EDIT_A),
         {"domain_id": "A", "name": "=SUPPORT_EMAIL"}),
    Page("POST", "/admin/domains/<domain_id>/access", admin_page(*EDIT_A), DOMAIN_A,
         form={"access": ["QUARANTINE_VIEW"]}),
    # an existing account: only who manages it already; else the answer for an unknown login
    Page("POST", "/admin/domains/<domain_id>/admins", admin_page(DONE, BAD, BAD, BAD, NO, NO, NO, GONE, GONE),
         DOMAIN_A, form={"login": "admin-ac", "permissions": ["DOMAIN_READ"]},
         label="(admin-ac, also of another tenant: a sysadmin only)"),
    Page("POST", "/admin/domains/<domain_id>/admins", admin_page(DONE, DONE, DONE, BAD, NO, NO, NO, GONE, GONE),
         DOMAIN_A, form={"login": "admin-b", "permissions": ["DOMAIN_READ"]}, label="(admin-b, of b.example)"),
    Page("POST", "/admin/domains/<domain_id>/admins", admin_page(BAD, BAD, BAD, BAD, NO, NO, NO, GONE, GONE),
         DOMAIN_A, form={"login": "gone", "permissions": ["DOMAIN_READ"]}, label="(a sysadmin account: never)"),
    Page("POST", "/admin/domains/<domain_id>/admins/<admin_id>/revoke", admin_page(*GRANT_A),
         {"domain_id": "A", "admin_id": "readerA"}),
    # DKIM (b.example has a key, a.example none): generate and delete by a system administrator, rotation with
    # DKIM_EDIT; checking or cancelling with nothing pending says so on the tab
    Page("GET", "/admin/domains/<domain_id>/tab/<tab>", admin_page(*SEE_A), {"domain_id": "A", "tab": "=dkim"},
         label="(the DKIM tab opens with DOMAIN_READ)"),
    Page("POST", "/admin/domains/<domain_id>/dkim/generate", admin_page(*SYSADMIN_IN_A), DOMAIN_A),
    Page("POST", "/admin/domains/<domain_id>/dkim/delete",
         admin_page(DONE, NO, NO, GONE, GONE, GONE, GONE, NO, GONE), {"domain_id": "B"}),
    Page("POST", "/admin/domains/<domain_id>/dkim/rotation", admin_page(*DKIM_EDIT_B), {"domain_id": "B"},
         form={"selector": "s2"}),
    Page("POST", "/admin/domains/<domain_id>/dkim/rotation/check", admin_page(*DKIM_NOTHING_PENDING_B),
         {"domain_id": "B"}, label="(nothing pending: said on the tab; DNS is not asked)"),
    Page("POST", "/admin/domains/<domain_id>/dkim/rotation/cancel", admin_page(*DKIM_NOTHING_PENDING_B),
         {"domain_id": "B"}, label="(nothing pending: said on the tab)"),
    # policies: seen with the domain, written by system administrators only
    Page("GET", "/admin/domains/<domain_id>/policies/new", admin_page(*SYSADMIN_FORM_IN_A), DOMAIN_A),
    Page("POST", "/admin/domains/<domain_id>/policies/new", admin_page(*SYSADMIN_IN_A), DOMAIN_A,
         form={"name": "strict", "quarantine": "on", "quarantineProps.duration": "30"}),
    Page("GET", "/admin/policies/<policy_id>", admin_page(*SEE_A), {"policy_id": "policyA"}),
    Page("POST", "/admin/policies/<policy_id>", admin_page(*SYSADMIN_IN_A), {"policy_id": "spareA"},
         form={"name": "spare", "quarantine": "on", "quarantineProps.duration": "30"}),
    Page("POST", "/admin/policies/<policy_id>/delete",
         admin_page(DONE, FLASHED, FLASHED, FLASHED, FLASHED, FLASHED, FLASHED, GONE, GONE), {"policy_id": "spareA"}),
    # mailbox users (USER_READ to see them, USER_EDIT to change them)
    Page("GET", "/admin/domains/<domain_id>/users", admin_page(OK, OK, OK, OK, OK, OK, NO, GONE, GONE), DOMAIN_A),
    Page("POST", "/admin/domains/<domain_id>/users", admin_page(DONE, DONE, DONE, DONE, DONE, NO, NO, GONE, GONE),
         DOMAIN_A, form={"local_part": "new", "firstname": "New"}),
    Page("GET", "/admin/users/<user_id>", admin_page(*SEE_USERS_A), {"user_id": "otherA"}),
    Page("POST", "/admin/users/<user_id>", admin_page(*EDIT_USERS_A), {"user_id": "otherA"},
         form={"firstname": "Renamed", "status": "ENABLED", "language": "EN", "policy_id": "@policyA"}),
    Page("POST", "/admin/users/<user_id>", admin_page(DONE, DONE, DONE, DONE, NO, NO, GONE, GONE, GONE),
         {"user_id": "otherA"}, form={"firstname": "Renamed", "status": "ENABLED", "language": "EN",
                                      "policy_id": "@spareA"}, label="(another policy: POLICY_ASSIGN)"),
    Page("POST", "/admin/users/<user_id>/delete", admin_page(*EDIT_USERS_A), {"user_id": "otherA"}),
    Page("POST", "/admin/users/<user_id>/options", admin_page(*EDIT_USERS_A), {"user_id": "otherA"},
         form={"name": "TIMEZONE", "value": "Europe/Paris"}),
    Page("POST", "/admin/users/<user_id>/options/<name>/delete", admin_page(*EDIT_USERS_A),
         {"user_id": "otherA", "name": "=TIMEZONE"}),
    Page("POST", "/admin/users/<user_id>/impersonate", admin_page(ME, ME, ME, ME, NO, NO, GONE, GONE, GONE),
         {"user_id": "userA"}, label="(IMPERSONATE: opens the user's portal)"),
    # a user's quarantine seen by administrators (QUARANTINE_READ; release and delete: QUARANTINE_RELEASE)
    Page("GET", "/admin/users/<user_id>/quarantine", admin_page(*READ_MAIL_A), {"user_id": "userA"}),
    Page("GET", "/admin/users/<user_id>/quarantine/message", admin_page(*READ_MAIL_A), {"user_id": "userA"},
         query={"id": MESSAGE}),
    Page("GET", "/admin/users/<user_id>/quarantine/attachment", admin_page(*READ_MAIL_A), {"user_id": "userA"},
         query={"id": "quarantined-1@bad.example", "part": "2"}),
    Page("GET", "/admin/users/<user_id>/quarantine/source", admin_page(*(GONE,) * 9),
         {"user_id": "userA"}, query={"id": MESSAGE}, label="(the owner's only)"),
    Page("POST", "/admin/users/<user_id>/quarantine/release", admin_page(*RELEASE_A), {"user_id": "userA"},
         form={"id": MESSAGE}),
    Page("POST", "/admin/users/<user_id>/quarantine/bulk", admin_page(*RELEASE_A), {"user_id": "userA"},
         form={"action": "delete", "ids": MESSAGE}),
    Page("POST", "/admin/users/<user_id>/quarantine/bulk", admin_page(*(DONE,) * 5, NO, GONE, GONE, GONE),
         {"user_id": "userA"}, form={"action": "block", "ids": MESSAGE, "scope": "domain"},
         label="block for the whole domain (FILTER_EDIT)"),
    # filter rules (FILTER_EDIT) and email aliases (ALIAS_EDIT) of a domain
    Page("GET", "/admin/domains/<domain_id>/rules/<kind>", admin_page(*SEE_A), {"domain_id": "A", "kind": "=senders"}),
    Page("POST", "/admin/domains/<domain_id>/rules/<kind>", admin_page(*FILTERS_A),
         {"domain_id": "A", "kind": "=senders"}, form={"value": "new@spam.example", "type": "BLOCK"},
         label="(senders)"),
    Page("POST", "/admin/domains/<domain_id>/rules/<kind>", admin_page(*ALIASES_A),
         {"domain_id": "A", "kind": "=groups"}, form={"email": "team@a.example", "recipients": "user@a.example"},
         label="(email aliases)"),
    Page("POST", "/admin/domains/<domain_id>/rules/<kind>/<item_id>", admin_page(*FILTERS_A),
         {"domain_id": "A", "kind": "=attachments", "item_id": "attachmentA"},
         form={"action": "DENY", "check_type": "FILENAME", "filter": r"\.pif$"}),
    Page("POST", "/admin/domains/<domain_id>/rules/<kind>/<item_id>/delete", admin_page(*FILTERS_A),
         {"domain_id": "A", "kind": "=senders", "item_id": "ruleA"}, label="(senders)"),
    Page("POST", "/admin/domains/<domain_id>/rules/<kind>/<item_id>/delete", admin_page(*ALIASES_A),
         {"domain_id": "A", "kind": "=groups", "item_id": "groupA"}, label="(email aliases)"),
    Page("GET", "/admin/domains/<domain_id>/rules/senders/import", admin_page(*FILTER_FORM_A), DOMAIN_A),
    Page("POST", "/admin/domains/<domain_id>/rules/senders/import", admin_page(*FILTERS_A), DOMAIN_A,
         form={"csv": "value,type\nother@spam.example,BLOCK\n", "mode": "add", "confirm": "yes"}),
    Page("GET", "/admin/domains/<domain_id>/rules/<kind>/import", admin_page(*FILTER_FORM_A),
         {"domain_id": "A", "kind": "=uris"}),
    Page("POST", "/admin/domains/<domain_id>/rules/<kind>/import", admin_page(*FILTERS_A),
         {"domain_id": "A", "kind": "=uris"},
         form={"csv": "action,filter\nBLACKLIST_URI_HOST,bad.example\n", "mode": "add", "confirm": "yes"}),
]


# --- the one world of the module ---------------------------------------------------------------------------

@dataclass
class Setting:
    world: World
    cookies: dict[str, str]  # role -> its signed session cookie
    tokens: dict[str, str]  # role -> its CSRF token
    rows: dict[str, list[dict[str, Any]]]  # every table, every column: what a change is undone to
    database: Any  # tests.snapshot's view of `rows`, compared after a request that wrote
    mail: list[str]  # the messages of the world's mailboxes
    writes: list[str]  # the INSERT / UPDATE / DELETE statements run since the last look


@pytest.fixture(scope="module", autouse=True)
def _loopback_dns(app: Flask) -> Iterator[None]:
    """Diagnostics ask DNS: a loopback server that knows nothing (every name NXDOMAIN), never the network."""
    with dns_server("") as server:
        saved = app.config["DNS_SERVERS"]
        app.config["DNS_SERVERS"] = [server]
        try:
            yield
        finally:
            app.config["DNS_SERVERS"] = saved


@pytest.fixture(scope="module", autouse=True)
def _no_postfix(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The mail queue's tools looked for in an empty directory: the same answers with or without Postfix here."""
    saved = app.config["POSTFIX_BIN"]
    app.config["POSTFIX_BIN"] = str(tmp_path_factory.mktemp("no-postfix"))
    try:
        yield
    finally:
        app.config["POSTFIX_BIN"] = saved


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """Overrides conftest's per-test cleanup: the module's world lives until its last test (`setting`)."""


def _rows() -> dict[str, list[dict[str, Any]]]:
    with db.engine.connect() as conn:
        return {t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in db.metadata.sorted_tables}


def _put_back(rows: dict[str, list[dict[str, Any]]]) -> None:
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
        for table in db.metadata.sorted_tables:
            if rows.get(table.name):
                conn.execute(table.insert(), rows[table.name])


def _mail(root: Path) -> list[str]:
    """Every message of the world's mailboxes: folder and Maildir name without its flags."""
    return sorted(f"{path.parent.parent.relative_to(root)}/{path.name.partition(':')[0]}"
                  for email in MAILBOXES for sub in ("cur", "new")
                  for path in maildir_root(root, email).glob(f"**/{sub}/*"))


def _put_mail_back(root: Path) -> list[str]:
    for email in MAILBOXES:
        shutil.rmtree(maildir_root(root, email), ignore_errors=True)
    _maildir("user@a.example", quarantined=2)
    return _mail(root)


WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _sign_in(app: Flask, role: str, world: World) -> FlaskClient:
    client = app.test_client()
    if role == "anonymous":
        return client
    if role == "viewas":
        client = _sign_in(app, "domainA", world)
        token = csrf_token(client.get("/account").text)
        opened = client.post(f"/admin/users/{world.id('userA')}/impersonate", data={"csrf_token": token})
        assert opened.status_code == 302
        return client
    who = PAGE_LOGINS[role]
    page, form = ("/me/login", {"email": who}) if "@" in who else ("/login", {"login": who})
    token = csrf_token(client.get(page).text)
    assert client.post(page, data={**form, "password": PASSWORD, "csrf_token": token}).status_code == 302, role
    return client


@pytest.fixture(scope="module")
def setting(app: Flask) -> Iterator[Setting]:
    with smtp_server() as (_sink, port):  # every domain's relay accepts: a release or a sent mail goes through
        with app.app_context():
            world = build_world()
            add_page_roles(world)
            for domain in db.session.scalars(select(Domain)):
                for platform in domain.platforms:
                    platform.transport_port = port
            db.session.commit()
        cookies, tokens = {}, {}
        for role in ROLES:
            client = _sign_in(app, role, world)
            tokens[role] = csrf_token(client.get("/me/login" if role == "anonymous" else "/login",
                                                 follow_redirects=True).text)
            cookie = client.get_cookie("session")
            assert cookie is not None, role
            cookies[role] = cookie.value
        with app.app_context():  # not held during the tests: a request would reuse it, and its `g`
            setting = Setting(world, cookies, tokens, _rows(), snapshot(), _mail(Path(app.config["MAIL_ROOT"])), [])
            engine = db.engine

        def spot(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if WRITE.match(statement):
                setting.writes.append(statement)

        event.listen(engine, "before_cursor_execute", spot)
        yield setting
        event.remove(engine, "before_cursor_execute", spot)
        with app.app_context():
            _put_back({})
            if db.engine.dialect.name == "postgresql":  # as conftest leaves it: identities from 1
                with db.engine.begin() as conn:
                    names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
                    conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        for email in MAILBOXES:
            shutil.rmtree(maildir_root(Path(app.config["MAIL_ROOT"]), email), ignore_errors=True)
        limiter.reset()


def _url(page: Page, world: World) -> str:
    path = page.rule
    for name, value in page.params.items():
        path = path.replace(f"<{name}>", value[1:] if value.startswith("=") else world.id(value))
    return path + ("?" + urlencode(page.query) if page.query else "")


def _form(page: Page, world: World, token: str) -> dict[str, Any]:
    def value(v: Any) -> Any:
        if v is FILE:
            return io.BytesIO(b"hello"), "hello.txt"
        if isinstance(v, list):
            return [value(x) for x in v]
        return world.id(v[1:]) if isinstance(v, str) and v.startswith("@") else v

    return {"csrf_token": token, **{k: value(v) for k, v in page.form.items()}}


def outcome(response: Any, client: FlaskClient) -> Any:
    if response.status_code not in (301, 302, 303):
        return response.status_code
    path = urlsplit(response.headers["Location"]).path
    if path in ("/login", "/me/login"):
        return LOGIN
    if path in ("/", "/me/"):
        return DASH if path == "/" else ME
    return FLASHED if any(category == "error" for category, _message in flashed(client)) else DONE


def flashed(client: FlaskClient) -> list[tuple[str, str]]:
    with client.session_transaction() as session:
        return list(session.get("_flashes", []))


@pytest.mark.parametrize(
    ("page", "role"), [(p, r) for p in MATRIX for r in ROLES],
    ids=[f"{p.method} {p.rule}{' ' + p.label if p.label else ''} as {r}" for p in MATRIX for r in ROLES],
)
def test_page_as_role(app: Flask, setting: Setting, page: Page, role: str) -> None:
    client = app.test_client()
    client.set_cookie("session", setting.cookies[role])
    url = _url(page, setting.world)
    if page.method == "GET":
        response = client.get(url)
    else:
        response = client.open(url, method=page.method, data=_form(page, setting.world, setting.tokens[role]),
                               headers={"X-CSRFToken": setting.tokens[role]})
    got, expected = outcome(response, client), page.expected[role]
    root = Path(app.config["MAIL_ROOT"])
    with app.app_context():
        now = snapshot() if setting.writes else setting.database
        changed = {table for table, rows in now.items() if rows != setting.database[table]}
        database_changed = bool(changed)
        # reading a user's mail as an administrator is an audit event (and only that); so is reading the gateway's
        # filter services (issue 17: every tenant's mail passes through them)
        action = [c.name for c in AuditEvent.__table__.columns].index("action")
        read_audited = page.method == "GET" and changed == {"audit_events"} and {
            row[action] for row in now["audit_events"] if row not in setting.database["audit_events"]} in (
            {"MAIL_READ"}, {"SERVICE_STATUS"})
        mail_changed = _mail(root) != setting.mail
        try:
            assert got == expected, f"{got!r} instead of {expected!r}: " + (
                f"{response.headers['Location']} {flashed(client)}" if response.status_code in (301, 302, 303)
                else response.get_data(as_text=True)[-600:])
            if page.method == "GET" or isinstance(expected, Away) or expected in REFUSED:
                assert not database_changed or read_audited, \
                    f"{page.method} {url} as {role} ({got}) changed the database: {sorted(changed)}"
                assert not mail_changed, f"{page.method} {url} as {role} ({got}) changed the mail store"
        finally:
            if database_changed:
                _put_back(setting.rows)
            if mail_changed:
                setting.mail = _put_mail_back(root)
            setting.writes.clear()


def _page_rules(app: Flask) -> list[Any]:
    return [r for r in app.url_map.iter_rules()
            if r.endpoint != "static" and not r.endpoint.startswith("api.") and not r.rule.startswith("/api")]


def test_every_page_route_is_in_the_matrix(app: Flask) -> None:
    """The audit: each page route and method has a row, and each row names a page route."""
    routes = {(m, r.rule) for r in _page_rules(app) for m in r.methods - {"HEAD", "OPTIONS"}}
    rows = {(p.method, p.rule) for p in MATRIX}
    assert routes - rows == set(), f"page routes nobody said who may open: {sorted(routes - rows)}"
    assert rows - routes == set(), f"rows for routes that do not exist: {sorted(rows - routes)}"
    for page in MATRIX:
        assert set(page.expected) == set(ROLES), f"{page.method} {page.rule}: roles {set(ROLES) ^ set(page.expected)}"


def test_other_methods_are_refused(app: Flask, setting: Setting) -> None:
    """GET on a form's target and POST on a page answer 405 to anyone, and change nothing."""
    methods: dict[str, set[str]] = {}  # a path may have one rule per method (/login)
    for rule in _page_rules(app):
        methods.setdefault(rule.rule, set()).update(rule.methods)
    failures = []
    for role in ("anonymous", "sysadmin"):
        client = app.test_client()
        client.set_cookie("session", setting.cookies[role])
        for path, allowed in methods.items():
            url = re.sub(r"<(?:\w+:)?\w+>", "x", path)
            for method in {"GET", "POST"} - allowed:
                response = client.open(url, method=method, data={"csrf_token": setting.tokens[role]})
                if response.status_code != 405:
                    failures.append(f"{method} {path} as {role}: {response.status_code}")
    assert failures == []
    assert setting.writes == []
