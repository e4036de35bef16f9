"""A small tenancy for authorization tests: one admin per role, each with a token.

broker B1 -> customer C1 -> domains A (a.example) and B (b.example)
broker B2 -> customer C2 -> domain C (c.example)
b.example has an active DKIM key (selector protect); a.example and c.example have none.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from portal import ids
from portal.clock import utcnow
from portal.crypto import encrypt
from portal.extensions import db
from portal.models import (
    Admin,
    ApiToken,
    AttachmentRule,
    Authority,
    Broker,
    Customer,
    DkimKey,
    Domain,
    DomainAlias,
    EmailAlias,
    EmailAliasRecipient,
    HealthReport,
    MailServer,
    MailUser,
    Platform,
    Policy,
    SenderRule,
    Upload,
    UriRule,
)
from portal.permissions import ADMIN_PERMISSIONS, END_USER_PERMISSIONS, ObjectType, Permission
from portal.services import links, policies, tokens
from portal.services.links import Purpose
from portal.services.passwords import hash_password
from tests import dkim_keys as dkim_test_keys

PASSWORD = "correct horse battery"
ROLES = ("sysadmin", "broker", "customer", "domainA", "domainB", "enduser", "disabled", "expired", "none")


@dataclass
class World:
    pk: dict[str, int] = field(default_factory=dict)  # objects and admins by name
    token: dict[str, str] = field(default_factory=dict)  # role -> bearer value
    admin_of_role: dict[str, int] = field(default_factory=dict)
    public: dict[str, str] = field(default_factory=dict)  # name -> public id

    def id(self, name: str) -> str:
        return self.public[name]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token[role]}"} if role in self.token else {}


def _all(scope: ObjectType) -> list[str]:
    return [str(p) for p, info in ADMIN_PERMISSIONS.items() if scope in info.scopes]


def _admin(login: str, *, sys_admin: bool = False, enabled: bool = True,
           grants: tuple[tuple[ObjectType, int, list[str]], ...] = ()) -> Admin:
    admin = Admin(login=login, email=f"{login}@example.org", display_name=login.title(),
                  password_hash=hash_password(PASSWORD), sys_admin=sys_admin, enabled=enabled,
                  session_nonce=secrets.token_hex(8))
    for object_type, object_id, perms in grants:
        admin.authorities.append(Authority(object_type=str(object_type), object_id=object_id, permissions=perms))
    db.session.add(admin)
    db.session.flush()
    return admin


UPLOAD_UID = "0123456789abcdef0123456789abcdef"  # a file user@a.example uploaded


def build_world() -> World:
    w = World()
    b1, b2 = Broker(name="Broker One"), Broker(name="Broker Two")
    db.session.add_all([b1, b2])
    db.session.flush()
    c1, c2 = Customer(broker_id=b1.id, name="Customer One"), Customer(broker_id=b2.id, name="Customer Two")
    db.session.add_all([c1, c2])
    db.session.flush()
    da, dbb = Domain(customer_id=c1.id, name="a.example"), Domain(customer_id=c1.id, name="b.example")
    dc = Domain(customer_id=c2.id, name="c.example")
    db.session.add_all([da, dbb, dc])
    db.session.flush()
    w.pk.update(B1=b1.id, B2=b2.id, C1=c1.id, C2=c2.id, A=da.id, B=dbb.id, C=dc.id)
    for name, domain in (("A", da), ("B", dbb), ("C", dc)):
        domain.policies = [policies.default_policy(domain, quarantine=True, retention=False, archive=False)]
        # loopback port 9 (discard) is closed here: a delivery fails at once unless a test points it elsewhere
        domain.platforms = [Platform(name=f"relay-{name}", transport_dest="127.0.0.1", transport_port=9,
                                     is_default=True)]
    spare = Policy(domain=da, name="spare", relay_props={})
    alias = DomainAlias(domain=da, name="alias-of-a.example")
    db.session.add_all([spare, alias])
    db.session.flush()
    w.pk.update(policyA=da.policies[0].id, spareA=spare.id, aliasA=alias.id, policyB=dbb.policies[0].id)
    # relay-A was checked once and passed then (GET /platforms/{id}/health answers it; no failing entity added)
    w.pk["platformA"] = da.platforms[0].id
    db.session.add(HealthReport(entity_type="PLATFORM", entity_id=da.platforms[0].id, state="done", status=True,
                                performed_at=utcnow(), report={"status": True, "entries": [
                                    {"type": "RELAY", "result": "OK",
                                     "output": ["Connection to 127.0.0.1 port 25 (SMTP)", "Success"]}]}))

    people = {
        "sysadmin": _admin("root", sys_admin=True),
        "broker": _admin("broker1", grants=((ObjectType.BROKER, b1.id, _all(ObjectType.BROKER)),)),
        "customer": _admin("customer1", grants=((ObjectType.CUSTOMER, c1.id, _all(ObjectType.CUSTOMER)),)),
        "domainA": _admin("admin-a", grants=((ObjectType.DOMAIN, da.id, _all(ObjectType.DOMAIN)),)),
        "domainB": _admin("admin-b", grants=((ObjectType.DOMAIN, dbb.id, _all(ObjectType.DOMAIN)),)),
        "disabled": _admin("gone", sys_admin=True, enabled=False),
        "expired": _admin("late", sys_admin=True),
    }
    # Targets: a reader of A, an admin of C (another broker), an admin working on A and C.
    w.pk["readerA"] = _admin("reader-a", grants=((ObjectType.DOMAIN, da.id, [Permission.DOMAIN_READ]),)).id
    w.pk["adminC"] = _admin("admin-c", grants=((ObjectType.DOMAIN, dc.id, _all(ObjectType.DOMAIN)),)).id
    w.pk["adminAC"] = _admin("admin-ac", grants=(
        (ObjectType.DOMAIN, da.id, [Permission.DOMAIN_READ]), (ObjectType.DOMAIN, dc.id, [Permission.DOMAIN_READ]),
    )).id
    for role, admin in people.items():
        w.pk[role] = admin.id
        w.admin_of_role[role] = admin.id
        _, w.token[role] = tokens.issue(admin, f"{role} token")
    expired = db.session.get(ApiToken, db.session.query(ApiToken.id).filter_by(admin_id=people["expired"].id).scalar())
    expired.expiration = utcnow() - timedelta(minutes=1)

    user = MailUser(domain_id=da.id, email="user@a.example", password_hash=hash_password(PASSWORD),
                    policy=da.policies[0], platform=da.platforms[0])
    other = MailUser(domain_id=da.id, email="other@a.example", policy=da.policies[0], platform=da.platforms[0])
    user_b = MailUser(domain_id=dbb.id, email="user@b.example")
    db.session.add_all([user, other, user_b])
    db.session.flush()
    w.pk.update(enduser=user.id, userA=user.id, otherA=other.id, userB=user_b.id)
    da.end_user_permissions = " ".join(END_USER_PERMISSIONS)
    rule_a = SenderRule(owner_key=f"d:{da.id}", domain_id=da.id, value="spammer@bad.example", type="BLOCK")
    rule_user = SenderRule(owner_key=f"u:{user.id}", domain_id=da.id, user_id=user.id, value="friend.example",
                           type="ALLOW", spf_on=False)
    attachment = AttachmentRule(domain_id=da.id, action="DENY", check_type="FILENAME", filter=r"\.scr$")
    uri = UriRule(domain_id=da.id, action="BLACKLIST_URI_HOST", filter="phish.example")
    group = EmailAlias(domain_id=da.id, email="group@a.example",
                       recipients=[EmailAliasRecipient(email="user@a.example", type="USER")])
    db.session.add_all([rule_a, rule_user, attachment, uri, group])
    db.session.flush()
    w.pk.update(ruleA=rule_a.id, ruleUserA=rule_user.id, attachmentA=attachment.id, uriA=uri.id, groupA=group.id,
                recipientA=group.recipients[0].id)
    _, w.token["enduser"] = tokens.issue(user, "end user token")
    db.session.add(Upload(uid=UPLOAD_UID, user_id=user.id, name="note.txt", content_type="text/plain", size=5,
                          data=b"hello"))
    token, _ = tokens.issue(db.session.get(Admin, w.pk["readerA"]), "reader token")
    w.pk["readerA_token"] = token.id
    # a mail server nothing listens on (loopback, SMTP's port 2525): a check answers "ok": false at once
    server = MailServer(name="Loopback relay", protocol="SMTP", host="127.0.0.1", port=2525, security="NONE",
                        auth="NO_AUTH")
    db.session.add(server)
    db.session.flush()
    w.pk["server"] = server.id
    # b.example signs with DKIM (selector protect): a fixed key, made once (tests/dkim_keys.py)
    dkim_b = DkimKey(domain_id=dbb.id, selector="protect", state="active", bits=1024, activated_at=utcnow(),
                     private_key_enc=encrypt(dkim_test_keys.WORLD_PRIVATE), public_key=dkim_test_keys.WORLD_PUBLIC)
    db.session.add(dkim_b)
    db.session.flush()
    w.pk["dkimB"] = dkim_b.id
    # a finished quarantine search of admin-a's, with one hit (the API's matrix reads it as "=qsearchA")
    from portal.models import QuarantineSearch, QuarantineSearchHit

    now = utcnow()
    db.session.add(QuarantineSearch(
        id="qsearchA", admin_id=people["domainA"].id, domain_id=da.id, state="DONE", mailboxes_total=2,
        mailboxes_done=2, hits_total=1, truncated=False, created_at=now, finished_at=now,
        expires_at=now + timedelta(days=1), criteria={"sender": "bad.example", "receivedAfter": 0,
                                                      "receivedBefore": 1}))
    db.session.flush()
    db.session.add(QuarantineSearchHit(search_id="qsearchA", user_id=user.id, user_email=user.email,
                                       folder="Quarantine", message_key="<quarantined-0@bad.example>",
                                       sender="spam0@bad.example", subject="offer 0", reason="SPAM"))
    _maildir(user.email, quarantined=2)
    w.public = {name: ids.encode(pk) for name, pk in w.pk.items()}
    return w


def _maildir(email: str, quarantined: int) -> None:
    """A Maildir for a mailbox under MAIL_ROOT, with a Quarantine folder (the embedded store)."""
    import mailbox
    import shutil
    from pathlib import Path

    from flask import current_app

    from portal.integrations.mailstore import maildir_root

    root = maildir_root(Path(current_app.config["MAIL_ROOT"]), email)
    shutil.rmtree(root, ignore_errors=True)  # what an earlier test filed (Sent, Drafts) does not leak
    root.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(str(root), create=True)
    folder = box.add_folder("Quarantine")
    for n in range(quarantined):
        if n == 1:  # this one carries an attachment
            text = ("From: spam1@bad.example\nSubject: offer 1\nMessage-ID: <quarantined-1@bad.example>\n"
                    'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n'
                    "Content-Type: text/plain\n\nbody\n--b\nContent-Type: text/html\n"
                    'Content-Disposition: attachment; filename="price list.html"\n\n'
                    "<script>alert(1)</script>\n--b--\n")
        else:
            text = (f"From: spam{n}@bad.example\nSubject: offer {n}\n"
                    f"Message-ID: <quarantined-{n}@bad.example>\n\nbody\n")
        folder.add(mailbox.MaildirMessage(text))


# --- the page matrix's extra accounts (tests/web/test_page_matrix.py) -----------------------------

# who signs in for each role of the page matrix: an admin login, or a mailbox address (with PASSWORD)
PAGE_LOGINS = {
    "user": "user@a.example", "userB": "user@b.example", "userC": "user@c.example",
    "sysadmin": "root", "broker": "broker1", "customer": "customer1", "domainA": "admin-a", "operatorA": "operator-a",
    "helpdeskA": "helpdesk-a", "readerA": "reader-a", "domainB": "admin-b", "adminC": "admin-c",
}


def add_page_roles(w: World) -> None:
    """What the page matrix adds to `build_world`: mailbox users who can sign in on B (which grants its users
    everything, like A) and on C (which grants nothing); admins of A: a helpdesk (every *_READ, no write) and an
    operator (users, filters, quarantine); targets: a spare relay of A, a soft-deleted domain of C1, an outgoing
    provider, a failed job; links of mails: user@a.example's login and setup links, reader-a's reset link."""
    from portal.models import JobFailure, OutgoingProvider

    da, dbb, dc = (db.session.get(Domain, w.pk[name]) for name in ("A", "B", "C"))
    dbb.end_user_permissions = " ".join(END_USER_PERMISSIONS)
    dc.end_user_permissions = ""
    user_b = db.session.get(MailUser, w.pk["userB"])
    user_b.password_hash = hash_password(PASSWORD)
    user_c = MailUser(domain_id=dc.id, email="user@c.example", password_hash=hash_password(PASSWORD),
                      policy=dc.policies[0], platform=dc.platforms[0])
    provider = OutgoingProvider(name="Mail Cloud", spf_provider="spf.mailcloud.example")
    spare = Platform(domain_id=da.id, name="relay-A-spare", transport_dest="127.0.0.1", transport_port=9)
    gone = Domain(customer_id=w.pk["C1"], name="gone.example", status="DELETED", deletion_date=utcnow(),
                  purge_date=utcnow() + timedelta(days=30))
    failure = JobFailure(function="export_rules", arguments="()", error="RuntimeError: disk full")
    db.session.add_all([user_c, provider, spare, gone, failure])
    helpdesk = _admin("helpdesk-a", grants=((ObjectType.DOMAIN, da.id, [
        Permission.DOMAIN_READ, Permission.USER_READ, Permission.QUARANTINE_READ]),))
    operator = _admin("operator-a", grants=((ObjectType.DOMAIN, da.id, [
        Permission.DOMAIN_READ, Permission.USER_READ, Permission.USER_EDIT, Permission.FILTER_EDIT,
        Permission.QUARANTINE_READ, Permission.QUARANTINE_RELEASE]),))
    db.session.flush()
    w.pk.update(userC=user_c.id, helpdeskA=helpdesk.id, operatorA=operator.id, spareRelayA=spare.id,
                provider=provider.id, gone=gone.id, jobFailure=failure.id)
    w.public.update({name: ids.encode(w.pk[name]) for name in (
        "userC", "helpdeskA", "spareRelayA", "provider", "gone")}, jobFailure=f"db-{failure.id}")
    # links of mails (issue 13): the token values are what the URLs carry
    user_a, reader_a = db.session.get(MailUser, w.pk["userA"]), db.session.get(Admin, w.pk["readerA"])
    day = timedelta(days=1)
    w.public.update(loginLinkA=links.issue(Purpose.LOGIN, user=user_a, valid_for=day),
                    setupLinkA=links.issue(Purpose.PASSWORD_SETUP, user=user_a, valid_for=day),
                    resetLinkReaderA=links.issue(Purpose.PASSWORD_RESET, admin=reader_a, valid_for=day))
