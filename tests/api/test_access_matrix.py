"""Every API route x every role, with the expected status; refused writes change nothing.

Adding a route without adding it here fails `test_every_route_is_in_the_matrix`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.api import REGISTRY
from tests.services_runtime import dns_server
from tests.snapshot import snapshot
from tests.world import ROLES, UPLOAD_UID, World

UNAUTHENTICATED = {"disabled": 401, "expired": 401, "none": 401}
AUTHENTICATED = ("sysadmin", "broker", "customer", "domainA", "domainB", "enduser")


def expect(**statuses: int) -> dict[str, int]:
    table = {**UNAUTHENTICATED, **statuses}
    assert set(table) == set(ROLES), f"missing roles: {set(ROLES) - set(table)}"
    return table


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


@dataclass(frozen=True)
class Case:
    method: str
    rule: str  # as registered, e.g. /security/admins/<adminId>
    expected: dict[str, int]
    params: dict[str, str] = field(default_factory=dict)  # path parameter -> world name ("self": the caller)
    query: dict[str, str] = field(default_factory=dict)  # values naming world objects are encoded
    body: Any = None  # strings "@name" become that world object's public id
    label: str = ""


ADMIN_TARGET = {"adminId": "readerA"}
TENANT_VIEW = dict(sysadmin=200, broker=200, customer=200, domainA=200, domainB=404, enduser=403)
ONLY_SYSADMIN = dict(broker=403, customer=403, domainA=403, domainB=403, enduser=403)
DOMAIN_A = {"domainId": "A"}
DOMAIN_B = {"domainId": "B"}
B_VIEW = dict(sysadmin=200, broker=200, customer=200, domainA=404, domainB=200, enduser=403)
NOTHING_PENDING = dict(sysadmin=404, broker=404, customer=404, domainA=404, domainB=404, enduser=403)
TENANT_WRITE = dict(sysadmin=204, broker=204, customer=204, domainA=204, domainB=404, enduser=403)
TENANT_CREATE = dict(sysadmin=201, broker=201, customer=201, domainA=201, domainB=404, enduser=403)
TENANT_OK = dict(sysadmin=200, broker=200, customer=200, domainA=200, domainB=404, enduser=403)
SYSADMIN_ONLY_IN_A = dict(broker=403, customer=403, domainA=403, domainB=404, enduser=403)
QUEUE_REFUSED = dict(customer=403, domainA=403, domainB=403, enduser=403)
QUEUE_ID = {"queueId": "=ABCDEF0123"}
QUEUE_IDS = {"ids": ["ABCDEF0123"]}

MATRIX = [
    Case("GET", "/security/admins",
         expect(sysadmin=200, broker=200, customer=200, domainA=200, domainB=200, enduser=403)),
    Case("GET", "/security/admins/<adminId>", expect(**TENANT_VIEW), ADMIN_TARGET),
    Case("PATCH", "/security/admins/<adminId>", expect(**TENANT_VIEW), ADMIN_TARGET, body={"displayName": "Renamed"}),
    Case("DELETE", "/security/admins/<adminId>",
         expect(sysadmin=204, broker=204, customer=204, domainA=204, domainB=404, enduser=403), ADMIN_TARGET),
    Case("GET", "/security/permissions", expect(**TENANT_VIEW), query={"scope": "DOMAIN", "id": "@A"}),
    Case("POST", "/admins/<adminId>/tokens", expect(sysadmin=201, **ONLY_SYSADMIN), ADMIN_TARGET,
         body={"name": "automation"}),
    Case("POST", "/admins/<adminId>/tokens", expect(
        sysadmin=201, broker=201, customer=201, domainA=201, domainB=201, enduser=403),
         {"adminId": "self"}, body={"name": "mine"}, label="own"),
    Case("GET", "/admins/<adminId>/tokens", expect(sysadmin=200, **ONLY_SYSADMIN), ADMIN_TARGET),
    Case("GET", "/admins/<adminId>/tokens", expect(
        sysadmin=200, broker=200, customer=200, domainA=200, domainB=200, enduser=403), {"adminId": "self"},
         label="own"),
    Case("DELETE", "/admins/<adminId>/tokens/<id>", expect(sysadmin=204, **ONLY_SYSADMIN),
         {"adminId": "readerA", "id": "readerA_token"}),
    # 5.5 Domains
    Case("POST", "/domains", expect(sysadmin=201, broker=201, customer=201, domainA=403, domainB=403, enduser=403),
         body={"name": "new.example", "customerId": "@C1"}),
    Case("GET", "/domains", expect(sysadmin=200, broker=200, customer=200, domainA=200, domainB=200, enduser=403)),
    Case("GET", "/domains/<domainId>", expect(**TENANT_VIEW), DOMAIN_A),
    Case("PATCH", "/domains/<domainId>", expect(**TENANT_WRITE), DOMAIN_A, body={"description": "changed"}),
    Case("DELETE", "/domains/<domainId>", expect(sysadmin=204, **SYSADMIN_ONLY_IN_A), DOMAIN_A),
    Case("GET", "/domains/<domainId>/access", expect(**TENANT_VIEW), DOMAIN_A),
    Case("PUT", "/domains/<domainId>/access", expect(**TENANT_WRITE), DOMAIN_A, body=["QUARANTINE_VIEW"]),
    Case("GET", "/domains/<domainId>/options", expect(**TENANT_VIEW), DOMAIN_A),
    Case("POST", "/domains/<domainId>/options", expect(**TENANT_CREATE), DOMAIN_A,
         body={"name": "SUPPORT_EMAIL", "value": "help@a.example"}),
    Case("DELETE", "/domains/<domainId>/options/<optionName>", expect(**TENANT_WRITE),
         {"domainId": "A", "optionName": "=SUPPORT_EMAIL"}),
    Case("GET", "/domains/<domainId>/admins", expect(**TENANT_VIEW), DOMAIN_A),
    Case("POST", "/domains/<domainId>/admins", expect(**TENANT_CREATE), DOMAIN_A,
         body={"login": "new-admin", "email": "n@a.example", "password": "long enough password",
               "permissions": ["DOMAIN_READ"]}),
    # an existing account: only who manages it already (every authority in its GRANT scope); else as nonexistent
    Case("POST", "/domains/<domainId>/admins", expect(
        sysadmin=201, broker=201, customer=201, domainA=404, domainB=404, enduser=403), DOMAIN_A,
         body={"id": "@domainB", "permissions": ["DOMAIN_READ"]}, label="(admin-b, of b.example: its managers only)"),
    Case("POST", "/domains/<domainId>/admins", expect(
        sysadmin=201, broker=404, customer=404, domainA=404, domainB=404, enduser=403), DOMAIN_A,
         body={"id": "@adminAC", "permissions": ["DOMAIN_READ"]}, label="(admin-ac, also of another tenant)"),
    Case("POST", "/domains/<domainId>/admins", expect(
        sysadmin=400, broker=404, customer=404, domainA=404, domainB=404, enduser=403), DOMAIN_A,
         body={"id": "@disabled", "permissions": ["DOMAIN_READ"]}, label="(a sysadmin account: never)"),
    Case("GET", "/domains/<domainId>/admins/<adminId>", expect(**TENANT_VIEW), {"domainId": "A", "adminId": "readerA"}),
    Case("DELETE", "/domains/<domainId>/admins/<adminId>", expect(**TENANT_WRITE),
         {"domainId": "A", "adminId": "readerA"}),
    Case("PUT", "/domains/<domainId>/admins/<adminId>/authorities", expect(**TENANT_OK),
         {"domainId": "A", "adminId": "readerA"}, body=["DOMAIN_READ", "USER_READ"]),
    # 5.6 DomainsDKIM (b.example has a key, a.example none): the seed's routes for sysadmins, reading for whoever
    # sees the domain; the rotation (an extension) with DKIM_EDIT
    Case("POST", "/domains/<domainId>/dkim", expect(sysadmin=201, **ONLY_SYSADMIN), DOMAIN_A),
    Case("GET", "/domains/<domainId>/dkim", expect(**B_VIEW), DOMAIN_B),
    Case("PUT", "/domains/<domainId>/dkim", expect(sysadmin=200, **ONLY_SYSADMIN), DOMAIN_B, body={"selector": "s9"}),
    Case("DELETE", "/domains/<domainId>/dkim", expect(sysadmin=204, **ONLY_SYSADMIN), DOMAIN_B),
    Case("GET", "/domains/<domainId>/dkim/keys", expect(**B_VIEW), DOMAIN_B),
    Case("POST", "/domains/<domainId>/dkim/rotation", expect(
        sysadmin=201, broker=201, customer=201, domainA=404, domainB=201, enduser=403), DOMAIN_B,
         body={"selector": "s2"}),
    Case("POST", "/domains/<domainId>/dkim/rotation/check", expect(**NOTHING_PENDING), DOMAIN_B,
         label="(nothing pending: 404 for everyone who may; DNS is not asked)"),
    Case("DELETE", "/domains/<domainId>/dkim/rotation", expect(**NOTHING_PENDING), DOMAIN_B,
         label="(nothing pending: 404 for everyone who may)"),
    # 5.3 DomainAliases
    Case("GET", "/domains/<domainId>/aliases", expect(**TENANT_VIEW), DOMAIN_A),
    Case("POST", "/domains/<domainId>/aliases", expect(**TENANT_CREATE), DOMAIN_A, body=["more-a.example"]),
    Case("PUT", "/domains/<domainId>/aliases", expect(**TENANT_WRITE), DOMAIN_A, body=["more-a.example"]),
    Case("DELETE", "/domains/<domainId>/aliases/<aliasId>", expect(**TENANT_WRITE),
         {"domainId": "A", "aliasId": "aliasA"}),
    # 5.4 DomainPolicies
    Case("GET", "/domains/<domainId>/policies", expect(**TENANT_VIEW), DOMAIN_A),
    Case("POST", "/domains/<domainId>/policies", expect(sysadmin=201, **SYSADMIN_ONLY_IN_A), DOMAIN_A,
         body={"name": "strict"}),
    Case("GET", "/policies/<policyId>", expect(**TENANT_VIEW), {"policyId": "policyA"}),
    Case("PATCH", "/policies/<policyId>", expect(sysadmin=204, **SYSADMIN_ONLY_IN_A), {"policyId": "spareA"},
         body={"spamScore": 4.0}),
    Case("DELETE", "/policies/<policyId>", expect(sysadmin=204, **SYSADMIN_ONLY_IN_A), {"policyId": "spareA"}),
    # 5.14 Users
    Case("POST", "/users", expect(sysadmin=201, broker=201, customer=201, domainA=201, domainB=400, enduser=403),
         body={"email": "new@a.example"}),
    Case("GET", "/users", expect(sysadmin=200, broker=200, customer=200, domainA=200, domainB=200, enduser=403)),
    Case("GET", "/domains/<domainId>/users", expect(**TENANT_VIEW), DOMAIN_A),
    Case("GET", "/users/<userId>", expect(**TENANT_VIEW), {"userId": "userA"}),
    Case("PATCH", "/users/<userId>", expect(**TENANT_WRITE), {"userId": "otherA"}, body={"firstname": "Renamed"}),
    Case("DELETE", "/users/<userId>", expect(**TENANT_WRITE), {"userId": "otherA"}),
    Case("GET", "/users/<userId>/options", expect(**TENANT_VIEW), {"userId": "otherA"}),
    Case("POST", "/users/<userId>/options", expect(**TENANT_CREATE), {"userId": "otherA"},
         body={"name": "TIMEZONE", "value": "Europe/Paris"}),
    Case("DELETE", "/users/<userId>/options/<optionName>", expect(**TENANT_WRITE),
         {"userId": "otherA", "optionName": "=TIMEZONE"}),
    # 5.9 FilteringRulesOnSenders
    Case("POST", "/wblist", expect(sysadmin=201, broker=201, customer=201, domainA=201, domainB=403, enduser=403),
         body=[{"value": "x@spam.example", "owner": "a.example", "type": "BLOCK"}]),
    Case("GET", "/domains/<domainId>/wblist", expect(**TENANT_VIEW), DOMAIN_A),
    Case("POST", "/domains/<domainId>/wblist", expect(**TENANT_CREATE), DOMAIN_A,
         body=[{"value": "new@spam.example", "type": "BLOCK"}]),
    Case("PUT", "/domains/<domainId>/wblist", expect(**TENANT_OK), DOMAIN_A,
         body=[{"value": "new@spam.example", "type": "BLOCK"}]),
    Case("PUT", "/domains/<domainId>/wblist/<wbItemId>", expect(**TENANT_OK), {"domainId": "A", "wbItemId": "ruleA"},
         body={"value": "other@spam.example", "type": "BLOCK"}),
    Case("DELETE", "/domains/<domainId>/wblist/<wbItemId>", expect(**TENANT_WRITE),
         {"domainId": "A", "wbItemId": "ruleA"}),
    Case("GET", "/users/<userId>/wblist", expect(**{**TENANT_VIEW, "enduser": 200}), {"userId": "userA"}),
    Case("POST", "/users/<userId>/wblist", expect(**{**TENANT_CREATE, "enduser": 201}), {"userId": "userA"},
         body=[{"value": "pal@friends.example", "type": "ALLOW", "spfOn": False}]),
    Case("PUT", "/users/<userId>/wblist", expect(**{**TENANT_OK, "enduser": 200}), {"userId": "userA"},
         body=[{"value": "pal@friends.example", "type": "ALLOW", "spfOn": True}]),
    Case("PUT", "/users/<userId>/wblist/<wbItemId>", expect(**{**TENANT_OK, "enduser": 200}),
         {"userId": "userA", "wbItemId": "ruleUserA"}, body={"value": "pal.example", "type": "BLOCK"}),
    Case("DELETE", "/users/<userId>/wblist/<wbItemId>", expect(**{**TENANT_WRITE, "enduser": 204}),
         {"userId": "userA", "wbItemId": "ruleUserA"}),
    Case("GET", "/wblist/decision", expect(**{**TENANT_OK, "enduser": 200}),
         query={"sender": "spammer@bad.example", "recipient": "user@a.example"}),
    # 5.8 / 5.10 attachment and URI rules
    Case("GET", "/domains/<domainId>/filters/attachments", expect(**TENANT_VIEW), DOMAIN_A),
    Case("POST", "/domains/<domainId>/filters/attachments", expect(**TENANT_CREATE), DOMAIN_A,
         body={"action": "DENY", "checkType": "FILENAME", "filter": "\\.exe$"}),
    Case("PATCH", "/filters/attachments/<attachmentId>", expect(**TENANT_WRITE), {"attachmentId": "attachmentA"},
         body={"description": "screensavers"}),
    Case("DELETE", "/filters/attachments/<attachmentId>", expect(**TENANT_WRITE), {"attachmentId": "attachmentA"}),
    Case("GET", "/domains/<domainId>/filters/uris", expect(**TENANT_VIEW), DOMAIN_A),
    Case("POST", "/domains/<domainId>/filters/uris", expect(**TENANT_CREATE), DOMAIN_A,
         body={"action": "URIDNSBL_SKIP_DOMAIN", "filter": "partner.example"}),
    Case("PATCH", "/filters/uris/<uriId>", expect(**TENANT_WRITE), {"uriId": "uriA"}, body={"description": "x"}),
    Case("DELETE", "/filters/uris/<uriId>", expect(**TENANT_WRITE), {"uriId": "uriA"}),
    # 5.15 UsersAliases
    Case("GET", "/domains/<domainId>/groups", expect(**TENANT_VIEW), DOMAIN_A),
    Case("POST", "/domains/<domainId>/groups", expect(**TENANT_CREATE), DOMAIN_A, body={"email": "team@a.example"}),
    Case("GET", "/domains/<domainId>/groups/<groupId>", expect(**TENANT_VIEW), {"domainId": "A", "groupId": "groupA"}),
    Case("PATCH", "/domains/<domainId>/groups/<groupId>", expect(**TENANT_WRITE),
         {"domainId": "A", "groupId": "groupA"}, body={"email": "crew@a.example", "recipients": ["user@a.example"]}),
    Case("POST", "/domains/<domainId>/groups/<groupId>/addresses", expect(**TENANT_CREATE),
         {"domainId": "A", "groupId": "groupA"}, body=["other@a.example"]),
    Case("DELETE", "/domains/<domainId>/groups/<groupId>/addresses/<addressId>", expect(**TENANT_WRITE),
         {"domainId": "A", "groupId": "groupA", "addressId": "recipientA"}),
    Case("DELETE", "/groups/<groupId>", expect(**TENANT_WRITE), {"groupId": "groupA"}),
    # 5.7 Emails
    Case("GET", "/users/<userIdOrEmail>/emails/folders", expect(**{**TENANT_OK, "enduser": 200}),
         {"userIdOrEmail": "userA"}),
    Case("GET", "/users/<userIdOrEmail>/emails/folders/<path:path>", expect(**{**TENANT_OK, "enduser": 200}),
         {"userIdOrEmail": "userA", "path": "=Quarantine"}),
    Case("GET", "/users/<userIdOrEmail>/emails/<path:folderPath>", expect(**{**TENANT_OK, "enduser": 200}),
         {"userIdOrEmail": "userA", "folderPath": "=Quarantine"}),
    Case("GET", "/users/<userIdOrEmail>/emails/<path:folderPath>/<messageId>", expect(**{**TENANT_OK, "enduser": 200}),
         {"userIdOrEmail": "userA", "folderPath": "=Quarantine", "messageId": "=<quarantined-0@bad.example>"}),
    Case("GET", "/users/<userId>/emails/<path:folderPath>/<messageId>/attachments",
         expect(**{**TENANT_OK, "enduser": 200}),
         {"userId": "userA", "folderPath": "=Quarantine", "messageId": "=quarantined-1@bad.example"}),
    Case("GET", "/users/<userId>/emails/<path:folderPath>/<emailId>/attachments/<int:partId>",
         expect(**{**TENANT_OK, "enduser": 200}),
         {"userId": "userA", "folderPath": "=Quarantine", "emailId": "=quarantined-1@bad.example", "partId": "=2"}),
    Case("POST", "/users/<userIdOrEmail>/emails/<path:folderPath>/<fugluId>/release",
         expect(sysadmin=503, broker=503, customer=503, domainA=503, domainB=404, enduser=503),
         {"userIdOrEmail": "userA", "folderPath": "=Quarantine", "fugluId": "=quarantined-0@bad.example"},
         label="(the test relay is down: 503 means allowed)"),
    Case("POST", "/users/<userIdOrEmail>/emails/send",
         expect(sysadmin=503, broker=503, customer=503, domainA=503, domainB=404, enduser=503),
         {"userIdOrEmail": "userA"}, body={"to": ["someone@b.example"], "subject": "Hi", "body": "<p>Hi</p>"},
         label="(the test relay is down: 503 means allowed)"),
    Case("POST", "/emails/attachments", expect(**dict.fromkeys(AUTHENTICATED, 400)),
         label="(no file: 400 means allowed)"),
    Case("GET", "/emails/attachments/<uid>/<filename>", expect(**{**dict.fromkeys(AUTHENTICATED, 404), "enduser": 200}),
         {"uid": "=" + UPLOAD_UID, "filename": "=note.txt"}, label="(only the uploader)"),
    Case("DELETE", "/emails/attachments/<uid>/<filename>",
         expect(**{**dict.fromkeys(AUTHENTICATED, 404), "enduser": 204}),
         {"uid": "=" + UPLOAD_UID, "filename": "=note.txt"}, label="(only the uploader)"),
    # 5.16 UsersSigns
    Case("GET", "/users/<userId>/sign", expect(**{**TENANT_OK, "enduser": 200}), {"userId": "userA"}),
    Case("PUT", "/users/<userId>/sign", expect(**{**TENANT_OK, "enduser": 200}), {"userId": "userA"},
         body={"sign": "PGI+aGk8L2I+"}),
    Case("DELETE", "/users/<userId>/sign", expect(**{**TENANT_WRITE, "enduser": 204}), {"userId": "userA"}),
    # 5.12 Tasks, 5.13 TemporaryAuthTokens (202: queued; the job then fails on the test relay, which is down)
    Case("POST", "/tasks", expect(sysadmin=202, broker=202, customer=202, domainA=202, domainB=404, enduser=403),
         body={"command": "send_welcome_mail", "params": {"recipient": "user@a.example"}}, label="welcome"),
    Case("POST", "/tasks", expect(sysadmin=202, broker=202, customer=202, domainA=202, domainB=404, enduser=202),
         body={"command": "send_token_mail", "params": {"recipient": "user@a.example"}}, label="login link"),
    Case("POST", "/tasks", expect(sysadmin=202, broker=202, customer=202, domainA=202, domainB=404, enduser=404),
         body={"command": "send_password_reset_mail", "params": {"recipient": "other@a.example"}},
         label="another user's reset"),
    Case("GET", "/token", expect(sysadmin=202, broker=202, customer=202, domainA=202, domainB=404, enduser=202),
         query={"username": "user@a.example"}),
    # mail servers (a Postern extension): system administrators only
    Case("GET", "/mailservers", expect(sysadmin=200, **ONLY_SYSADMIN)),
    Case("POST", "/mailservers", expect(sysadmin=201, **ONLY_SYSADMIN),
         body={"name": "New", "host": "smtp.example.com"}),
    Case("DELETE", "/mailservers", expect(sysadmin=204, **ONLY_SYSADMIN), query={"ids": "@server"}),
    Case("GET", "/mailservers/in-use", expect(sysadmin=200, **ONLY_SYSADMIN)),
    Case("GET", "/mailservers/<serverId>", expect(sysadmin=200, **ONLY_SYSADMIN), {"serverId": "server"}),
    Case("PUT", "/mailservers/<serverId>", expect(sysadmin=200, **ONLY_SYSADMIN), {"serverId": "server"},
         body={"name": "Loopback relay", "host": "127.0.0.1", "port": 2525, "security": "NONE"}),
    Case("PATCH", "/mailservers/<serverId>", expect(sysadmin=200, **ONLY_SYSADMIN), {"serverId": "server"},
         body={"remark": "changed"}),
    Case("DELETE", "/mailservers/<serverId>", expect(sysadmin=204, **ONLY_SYSADMIN), {"serverId": "server"}),
    Case("POST", "/mailservers/<serverId>/enable", expect(sysadmin=200, **ONLY_SYSADMIN), {"serverId": "server"}),
    Case("POST", "/mailservers/<serverId>/disable", expect(sysadmin=200, **ONLY_SYSADMIN), {"serverId": "server"}),
    Case("POST", "/mailservers/<serverId>/check", expect(sysadmin=200, **ONLY_SYSADMIN), {"serverId": "server"},
         label="(nothing listens: a failed check is a 200)"),
    Case("POST", "/mailservers/<serverId>/test-mail", expect(sysadmin=200, **ONLY_SYSADMIN), {"serverId": "server"},
         body={"to": "someone@b.example"}, label="(nothing listens: a failed test mail is a 200)"),
    # filter services (issue 17, a Postern extension): sysadmins, or QUEUE_MANAGE (broker scope: the broker role)
    # read; sysadmins switch. The world's app watches no service and configures no command: running false, 409
    Case("GET", "/services/<name>", expect(sysadmin=200, broker=200, customer=403, domainA=403, domainB=403,
                                           enduser=403), {"name": "=clamav"}),
    Case("PUT", "/services/<name>", expect(sysadmin=409, **ONLY_SYSADMIN), {"name": "=spamassassin"},
         body={"enabled": False}, label="(no stop command configured: nothing runs)"),
    # 5.11 Health (domains); the world has no report: GET of a domain's last one is a 404 for all, see
    # tests/api/test_health_api.py for the roles once a report exists
    Case("POST", "/domains/<domainId>/health", expect(**TENANT_CREATE), DOMAIN_A),
    Case("GET", "/domains/<domainId>/health", expect(sysadmin=404, broker=404, customer=404, domainA=404, domainB=404,
                                                     enduser=403), DOMAIN_A, label="(never diagnosed)"),
    Case("GET", "/health", expect(sysadmin=200, broker=200, customer=200, domainA=200, domainB=200, enduser=403)),
    # 5.11 Health: relays (127.0.0.1:9 is not an allowed port: a 201 report with ERROR_RELAY_FORBIDDEN_TARGET)
    Case("POST", "/platforms/<platformId>/health", expect(**{**TENANT_CREATE, "enduser": 403}),
         {"platformId": "platformA"}),
    Case("GET", "/platforms/<platformId>/health", expect(**TENANT_VIEW), {"platformId": "platformA"}),
    Case("POST", "/health/try-relay", expect(
        sysadmin=200, broker=200, customer=200, domainA=200, domainB=400, enduser=403),
         body={"transportDest": "127.0.0.1", "transportPort": 2525, "authType": "local", "apiType": "IMAP",
               "domainId": "@A"}, label="(nothing listens: a failed try is a 200; domainB: not its domain)"),
    # the mail queue (issue 17): sysadmins and QUEUE_MANAGE on a broker; here no Postfix is installed (the module's
    # fixture points POSTERN_POSTFIX_BIN at an empty directory), so who gets through gets 503;
    # tests/api/test_mailqueue_api.py runs the same roles against a real Postfix
    *(Case(method, rule, expect(sysadmin=503, broker=503, **QUEUE_REFUSED), params, body=body)
      for method, rule, params, body in (
          ("GET", "/mailqueue", {}, None),
          ("GET", "/mailqueue/count", {}, None),
          ("DELETE", "/mailqueue", {}, None),
          ("POST", "/mailqueue/flush", {}, None),
          ("POST", "/mailqueue/delete", {}, QUEUE_IDS),
          ("POST", "/mailqueue/hold", {}, QUEUE_IDS),
          ("POST", "/mailqueue/release", {}, QUEUE_IDS),
          ("POST", "/mailqueue/resend", {}, QUEUE_IDS),
          ("GET", "/mailqueue/<queueId>", QUEUE_ID, None),
          ("DELETE", "/mailqueue/<queueId>", QUEUE_ID, None),
          ("POST", "/mailqueue/<queueId>/resend", QUEUE_ID, None),
          ("POST", "/mailqueue/<queueId>/hold", QUEUE_ID, None),
          ("POST", "/mailqueue/<queueId>/release", QUEUE_ID, None),
      )),
    # the domain-wide quarantine search (issue 15): QUARANTINE_READ anywhere; a search is its starter's only
    # (the world's "qsearchA" is admin-a's), a domain the caller may not search is a 400 in the body
    Case("POST", "/quarantine/searches", expect(
        sysadmin=202, broker=202, customer=202, domainA=202, domainB=400, enduser=403),
         body={"sender": "bad.example", "domainId": "@A"}),
    *(Case(method, rule, expect(sysadmin=404, broker=404, customer=404, domainA=status, domainB=404, enduser=403),
           {"searchId": "=qsearchA"})
      for method, rule, status in (("GET", "/quarantine/searches/<searchId>", 200),
                                   ("GET", "/quarantine/searches/<searchId>/hits", 200),
                                   ("DELETE", "/quarantine/searches/<searchId>", 204))),
    # message tracking (issue 17): the mail queue's operators; the world's app indexes no log: an empty search
    Case("GET", "/mailtracking", expect(sysadmin=200, broker=200, **QUEUE_REFUSED)),
    # statistics (issue 15): the caller's QUARANTINE_READ scope, or one domain of it
    Case("GET", "/statistics", expect(sysadmin=200, broker=200, customer=200, domainA=200, domainB=200,
                                      enduser=403)),
    Case("GET", "/statistics", expect(sysadmin=200, broker=200, customer=200, domainA=200, domainB=404,
                                      enduser=403), query={"domainId": "@A"}, label="(one domain)"),
    Case("GET", "/openapi.json", everyone(200)),
    Case("GET", "/docs", everyone(200)),
]


@pytest.fixture(scope="module", autouse=True)
def _no_postfix(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The mail queue's tools looked for in an empty directory: Postfix is "not available here" (503)."""
    saved = app.config["POSTFIX_BIN"]
    app.config["POSTFIX_BIN"] = str(tmp_path_factory.mktemp("no-postfix"))
    try:
        yield
    finally:
        app.config["POSTFIX_BIN"] = saved


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


def _resolve(body: Any, world: World) -> Any:
    if isinstance(body, dict):
        return {k: _resolve(v, world) for k, v in body.items()}
    if isinstance(body, list):
        return [_resolve(v, world) for v in body]
    if isinstance(body, str) and body.startswith("@"):
        return world.id(body[1:])
    return body


def _url(case: Case, world: World, role: str) -> str:
    def sub(match: re.Match[str]) -> str:
        name = case.params[match.group(1)]
        if name.startswith("="):
            return name[1:]
        if name == "self":
            return world.id(role) if role in world.admin_of_role else world.id("readerA")
        return world.id(name)

    path = "/api" + re.sub(r"<(?:\w+:)?(\w+)>", sub, case.rule)
    if case.query:
        query = "&".join(f"{k}={world.id(v[1:]) if v.startswith('@') else v}" for k, v in case.query.items())
        path += "?" + query
    return path


@pytest.mark.parametrize(
    ("case", "role"),
    [(c, r) for c in MATRIX for r in ROLES],
    ids=[f"{c.method} {c.rule}{' ' + c.label if c.label else ''} as {r}" for c in MATRIX for r in ROLES],
)
def test_route_as_role(app: Flask, client: FlaskClient, world: World, case: Case, role: str) -> None:
    url = _url(case, world, role)
    with app.app_context():
        before = snapshot()
    response = client.open(url, method=case.method, json=_resolve(case.body, world), headers=world.headers(role))
    assert response.status_code == case.expected[role], response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
        if case.method != "GET":
            with app.app_context():
                assert snapshot() == before, "a refused write changed the database"


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    """An audit of endpoints: each /api route is declared (with its access) and tested here."""
    declared = {(ep.method, ep.rule) for ep in REGISTRY}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, rule.rule[len("/api"):]) in declared, f"{method} {rule.rule} has no declared access"
    for ep in REGISTRY:
        assert ep.access, f"{ep.method} {ep.rule} has no access"
    tested = {(c.method, c.rule) for c in MATRIX}
    assert declared - tested == set(), f"routes missing from the role matrix: {declared - tested}"
