"""Seed 5.3 / 5.4 / 5.5 replayed on the wire, the MX check on a real DNS server, soft delete and purge."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Authority, Domain, MailUser
from portal.services import domains
from tests.services_runtime import dns_server, free_port
from tests.snapshot import snapshot
from tests.world import World

SEED_DOMAIN = {"name": "got.com", "status": "ENABLED", "incoming": True, "outgoing": False, "quarantine": True,
               "retention": True, "archive": True, "defaultLanguage": "DE", "autoProvisioningOn": True,
               "senderVerifyOn": True, "customerId": "@C1", "externalId": "HBO-2019",
               "outgoingSubnets": ["92.123.51.204/31", "92.23.81.244/31"],
               "platforms": [{"name": "platform", "transportDest": "1.2.3.4", "transportType": "SMTP",
                              "transportPort": 25, "authType": "local", "authData": "", "default": True}]}
DOMAIN_FIELDS = ["id", "name", "description", "status", "wblistPriority", "defaultLanguage", "autoProvisioningOn",
                 "senderVerifyOn", "externalId", "policy", "domainAliases", "activeUsersCount", "policiesCount",
                 "quarantine", "retention", "archive", "incoming", "outgoingSubnets", "creationDate", "deletionDate",
                 "purgeDate", "outgoingProviders", "customer", "platforms"]
SEED_POLICY = {"name": "policyA", "quarantine": True, "retention": False, "archive": False, "mailSizeLimit": 8,
               "spamScore": 7.2, "incoming": True,
               "relayProps": {"relaySpam": True, "advertPrefix": "[PUB]", "prefixSpam": "[SPAM]",
                              "relayBadHeaders": True, "relayBadAttachments": True, "spamScoreLimit": 20.0},
               "quarantineProps": {"duration": 31, "storeSpam": True, "storeVirus": True, "storeAdvert": True,
                                   "storeBlacklisted": True, "storeSenderVerify": True, "storeBadHeaders": True,
                                   "storeBadEncoding": True, "storeBadAttachments": True}, "outgoing": False}


def _body(world: World, body: dict) -> dict:
    return {k: world.id(v[1:]) if isinstance(v, str) and v.startswith("@") else v for k, v in body.items()}


def test_create_domain_as_the_seed_shows(client: FlaskClient, world: World) -> None:
    response = client.post("/api/domains", json=_body(world, SEED_DOMAIN), headers=world.headers("sysadmin"))
    assert response.status_code == 201, response.json
    body = response.json
    assert list(body) == DOMAIN_FIELDS
    assert response.headers["Location"] == f"http://postern.test/api/domains/{body['id']}"
    assert body["name"] == "got.com" and body["defaultLanguage"] == "DE" and body["externalId"] == "HBO-2019"
    assert body["outgoingSubnets"] == ["92.123.51.204/31", "92.23.81.244/31"]
    assert body["policy"]["name"] == "Policy-got.com" and body["policiesCount"] == 1
    assert body["quarantine"] and body["retention"] and body["archive"] and body["incoming"]
    assert body["policy"]["quarantineProps"]["duration"] == 31 and body["policy"]["archiveProps"]["duration"] == 48
    assert body["customer"]["name"] == "Customer One" and body["customer"]["brokerId"] == world.id("B1")
    assert body["platforms"][0]["transportDest"] == "1.2.3.4" and body["platforms"][0]["default"] is True
    assert body["activeUsersCount"] == 0 and body["deletionDate"] is None
    listed = client.get("/api/domains?name=got.com", headers=world.headers("sysadmin"))
    assert listed.headers["X-Total-Count"] == "1" and listed.json[0]["id"] == body["id"]


def test_domain_list_filters(client: FlaskClient, world: World) -> None:
    h = world.headers("sysadmin")

    def names(query: str) -> list[str]:
        response = client.get(f"/api/domains?{query}", headers=h)
        assert response.status_code == 200, response.json
        return [d["name"] for d in response.json]

    assert names("name=*.example") == ["a.example", "b.example", "c.example"]
    assert names("name=a*") == ["a.example"]
    assert names("sort=-name&pageSize=1") == ["c.example"]
    assert names(f"customerId={world.id('C2')}") == ["c.example"]
    assert names("platformName=relay-B") == ["b.example"]
    platform_b = client.get(f"/api/domains/{world.id('B')}", headers=h).json["platforms"][0]["id"]
    assert names(f"platformId={platform_b}") == ["b.example"]
    assert names("status=enabled") == ["a.example", "b.example", "c.example"]
    assert names("customerId=garbage") == []
    assert client.get("/api/domains?name=a*&status=ENABLED", headers=h).status_code == 400
    assert names("") == ["a.example", "b.example", "c.example"]
    assert len(client.get("/api/domains", headers=world.headers("domainA")).json) == 1


def test_the_list_rows_are_each_domains_own_answer(app: Flask, client: FlaskClient, world: World) -> None:
    """The list's plain rows (one UNION ALL for every domain's children) give what the single domain gives,
    every part of it valid against its model: two aliases (in name order), two platforms with secrets masked,
    two policies, a provider, JSON and booleans converted as the model's columns are."""
    from portal.models import OutgoingProvider, Platform, Policy
    from portal.schemas.domains import DomainOut

    with app.app_context():
        a = db.session.get(Domain, world.pk["A"])
        a.outgoing_providers.append(OutgoingProvider(name="Mail Cloud", spf_provider="spf.mailcloud.example"))
        a.outgoing_subnets = ["192.0.2.0/24"]
        db.session.add(Platform(domain_id=a.id, name="relay-A-2", transport_dest="192.0.2.9", api_type="IMAP",
                                api_data={"host": "imap.a.example", "password": "secret"}))
        db.session.add(Policy(domain_id=a.id, name="strict", quarantine=True, quarantine_props={"days": 7},
                              spam_score=3.5, relay_props={"x": [1, 2]}))
        db.session.commit()
    h = world.headers("sysadmin")
    assert client.post(f"/api/domains/{world.id('A')}/aliases", json=["zz.a-alias.example", "aa.a-alias.example"],
                       headers=h).status_code == 201
    listed = client.get("/api/domains?sort=name", headers=h).json
    for item in listed:
        assert client.get(f"/api/domains/{item['id']}", headers=h).json == item
        assert DomainOut.model_validate(item).wire() == item
    [a_item] = [d for d in listed if d["name"] == "a.example"]
    assert {"aa.a-alias.example", "zz.a-alias.example"} <= {x["name"] for x in a_item["domainAliases"]}
    assert a_item["domainAliases"] == sorted(a_item["domainAliases"], key=lambda x: x["name"])
    assert len(a_item["platforms"]) >= 2 and a_item["platforms"][-1]["apiData"]["password"] != "secret"
    assert a_item["policiesCount"] >= 2 and a_item["quarantine"] is True and a_item["outgoingSubnets"] == [
        "192.0.2.0/24"]
    assert [p["spfProvider"] for p in a_item["outgoingProviders"]] == ["spf.mailcloud.example"]
    deep = client.get("/api/domains?offset=1&pageSize=1", headers=h).json
    assert deep == [listed[1]]


def test_domain_patch_and_policy_assignment(app: Flask, client: FlaskClient, world: World) -> None:
    h = world.headers("domainA")
    url = f"/api/domains/{world.id('A')}"
    assert client.patch(url, json={"defaultLanguage": "ES"}, headers=h).status_code == 204
    assert client.get(url, headers=h).json["defaultLanguage"] == "ES"
    assert client.patch(url, json={"policyId": world.id("spareA")}, headers=h).status_code == 204
    assert client.get(url, headers=h).json["policy"]["name"] == "spare"
    foreign = client.patch(url, json={"policyId": world.id("policyB")}, headers=h)
    assert foreign.status_code == 400 and foreign.json["errors"][0]["field"] == "policyId"
    moved = client.patch(url, json={"customerId": world.id("C2")}, headers=h)
    assert moved.status_code == 403


@pytest.mark.parametrize(("body", "field", "status"), [
    ({"name": "not a domain"}, "name", 400),
    ({"name": "a.example"}, "name", 409),
    ({"name": "alias-of-a.example"}, "name", 409),
    ({"name": "x.example", "outgoingSubnets": ["1.2.3.4/24"]}, "outgoingSubnets[0]", 400),
    ({"name": "x.example", "outgoingSubnets": ["nonsense"]}, "outgoingSubnets[0]", 400),
    ({"name": "x.example", "status": "SLEEPING"}, "status", 400),
    ({"name": "x.example", "wblistPriority": "BOTH"}, "wblistPriority", 400),
    ({"name": "x.example", "platforms": [{"name": "p", "transportDest": "h.example", "transportPort": 70000}]},
     "platforms[0].transportPort", 400),
    ({"name": "x.example", "platforms": [{"name": "p", "transportDest": "bad host!"}]},
     "platforms[0].transportDest", 400),
    ({"name": "x.example", "platforms": [{"name": "p", "transportDest": "h.example", "authType": "ldap",
                                          "authData": {"host": "ldap.example", "port": 0}}]},
     "platforms[0].authData.port", 400),
    ({"name": "x.example", "customerId": "nope"}, "customerId", 400),
    ({"name": "x.example", "colour": "red"}, "colour", 400),
])
def test_create_domain_bad_input(app: Flask, client: FlaskClient, world: World, body: dict, field: str,
                                 status: int) -> None:
    with app.app_context():
        before = snapshot()
    payload = {"customerId": world.id("C1"), **body}
    response = client.post("/api/domains", json=payload, headers=world.headers("sysadmin"))
    assert response.status_code == status, response.json
    assert field in [e["field"] for e in response.json["errors"]], response.json
    with app.app_context():
        assert snapshot() == before


def test_idn_is_stored_as_punycode(client: FlaskClient, world: World) -> None:
    response = client.post("/api/domains", json={"name": "Bücher.example", "customerId": world.id("C1")},
                           headers=world.headers("sysadmin"))
    assert response.status_code == 201 and response.json["name"] == "xn--bcher-kva.example"


def test_platform_secrets_are_encrypted_and_masked(app: Flask, client: FlaskClient, world: World) -> None:
    platform = {"name": "imap", "transportDest": "mx.a.example", "apiType": "IMAP",
                "apiData": {"host": "imap.a.example", "port": 993, "login": "master", "password": "s3cret!",
                            "useSsl": True}}
    url = f"/api/domains/{world.id('B')}"
    h = world.headers("sysadmin")
    assert client.patch(url, json={"platforms": [platform]}, headers=h).status_code == 204
    shown = client.get(url, headers=h).json["platforms"][0]
    assert shown["apiData"]["password"] == "********" and "s3cret" not in client.get(url, headers=h).text
    with app.app_context():
        stored = db.session.get(Domain, world.pk["B"]).platforms[0].api_data
        assert stored["password"].startswith("enc:") and "s3cret" not in stored["password"]
        from portal.services.platforms import secret

        assert secret(stored, "password") == "s3cret!"
    # sending the mask back keeps the secret
    again = {**platform, "id": shown["id"], "apiData": {**platform["apiData"], "password": "********"}}
    assert client.patch(url, json={"platforms": [again]}, headers=h).status_code == 204
    with app.app_context():
        from portal.services.platforms import secret

        assert secret(db.session.get(Domain, world.pk["B"]).platforms[0].api_data, "password") == "s3cret!"


def test_removing_a_platform_in_use_is_refused(client: FlaskClient, world: World) -> None:
    response = client.patch(f"/api/domains/{world.id('A')}", headers=world.headers("sysadmin"),
                            json={"platforms": [{"name": "new", "transportDest": "mx2.a.example"}]})
    assert response.status_code == 400 and response.json["errors"][0]["field"] == "platforms"


# --- aliases ------------------------------------------------------------------------------------

def test_aliases_as_the_seed_shows(client: FlaskClient, world: World) -> None:
    url = f"/api/domains/{world.id('A')}/aliases"
    h = world.headers("domainA")
    added = client.post(url, json=["starks.net", "wolves.net"], headers=h)
    assert added.status_code == 201
    assert [a["name"] for a in added.json] == ["starks.net", "wolves.net"] and set(added.json[0]) == {"id", "name"}
    listed = client.get(url, headers=h)
    assert listed.headers["X-Total-Count"] == "3"
    assert [a["name"] for a in listed.json] == ["alias-of-a.example", "starks.net", "wolves.net"]
    assert client.put(url, json=["lanisters.net", "lions.net"], headers=h).status_code == 204
    assert [a["name"] for a in client.get(url, headers=h).json] == ["lanisters.net", "lions.net"]
    lion = client.get(url, headers=h).json[1]["id"]
    assert client.delete(f"{url}/{lion}", headers=h).status_code == 204
    assert client.delete(f"{url}/{lion}", headers=h).status_code == 404


def test_alias_conflicts_change_nothing(app: Flask, client: FlaskClient, world: World) -> None:
    url = f"/api/domains/{world.id('A')}/aliases"
    h = world.headers("sysadmin")
    with app.app_context():
        before = snapshot()
    for body, status, field in ((["fresh.example", "b.example"], 409, "[1]"), (["a.example"], 409, "[0]"),
                                (["fine.example", "not valid"], 400, "[1]"), (["x.example", "x.example"], 400, "[1]")):
        response = client.post(url, json=body, headers=h)
        assert response.status_code == status, body
        assert response.json["errors"][0]["field"] == field
        assert client.put(url, json=body, headers=h).status_code == status
    assert client.post(url, json={"not": "a list"}, headers=h).status_code == 400
    with app.app_context():
        assert snapshot() == before


# --- policies -----------------------------------------------------------------------------------

def test_policy_as_the_seed_shows(client: FlaskClient, world: World) -> None:
    h = world.headers("sysadmin")
    body = {**SEED_POLICY, "domainId": world.id("A")}
    response = client.post(f"/api/domains/{world.id('A')}/policies", json=body, headers=h)
    assert response.status_code == 201, response.json
    policy = response.json
    assert list(policy) == ["id", "name", "domainId", "quarantine", "retention", "archive", "mailSizeLimit",
                            "spamScore", "incoming", "relayProps", "quarantineProps", "retentionProps",
                            "archiveProps", "outgoing"]
    assert policy["relayProps"] == {"relaySpam": True, "relayAdvert": True, "advertPrefix": "[PUB]",
                                    "prefixSpam": "[SPAM]", "relayBadHeaders": True, "relayBadAttachments": True,
                                    "spamScoreLimit": 20.0}
    assert policy["quarantineProps"]["storeVirus"] is True and policy["retentionProps"] is None
    assert response.headers["Location"].endswith(f"/api/policies/{policy['id']}")
    assert client.patch(f"/api/policies/{policy['id']}", json={"name": "policyC"}, headers=h).status_code == 204
    assert client.get(f"/api/policies/{policy['id']}", headers=h).json["name"] == "policyC"
    listed = client.get(f"/api/domains/{world.id('A')}/policies", headers=h)
    assert listed.headers["X-Total-Count"] == "3"
    assert client.delete(f"/api/policies/{policy['id']}", headers=h).status_code == 204


def test_policy_rules(client: FlaskClient, world: World) -> None:
    h = world.headers("sysadmin")
    url = f"/api/domains/{world.id('A')}/policies"
    assert client.post(url, json={"name": "SPARE"}, headers=h).status_code == 409
    other = client.post(url, json={"name": "x", "domainId": world.id("B")}, headers=h)
    assert other.status_code == 400 and other.json["errors"][0]["field"] == "domainId"
    low = client.post(url, json={"name": "x", "spamScore": 9, "relayProps": {"spamScoreLimit": 3}}, headers=h)
    assert low.status_code == 422
    for body, field in (({"name": "x", "mailSizeLimit": -1}, "mailSizeLimit"),
                        ({"name": "x", "quarantineProps": {"duration": 0}}, "quarantineProps.duration"),
                        ({"name": "x", "archiveProps": {"duration": 500}}, "archiveProps.duration"),
                        ({"name": "x", "spamScore": "high"}, "spamScore"),
                        ({"name": "bad\nname"}, "name")):
        response = client.post(url, json=body, headers=h)
        assert response.status_code == 400 and response.json["errors"][0]["field"] == field, body
    in_use = client.delete(f"/api/policies/{world.id('policyA')}", headers=h)
    assert in_use.status_code == 400


# --- options ------------------------------------------------------------------------------------

def test_option_inheritance(client: FlaskClient, world: World) -> None:
    sys_h, a_h = world.headers("sysadmin"), world.headers("domainA")
    durl, uurl = f"/api/domains/{world.id('A')}/options", f"/api/users/{world.id('otherA')}/options"

    def option(url: str, name: str, h: dict) -> dict:
        response = client.get(url, headers=h)
        assert response.status_code == 200
        return next(o for o in response.json if o["option"]["name"] == name)

    tz = option(uurl, "TIMEZONE", a_h)
    assert tz["value"] is None and tz["parentValue"] == "UTC"
    assert tz["option"] == {"ptfScope": True, "urlScope": False, "customerScope": True, "domainScope": True,
                            "userScope": True, "restricted": False, "group": None, "name": "TIMEZONE",
                            "type": "TIMEZONE", "values": None,
                            "description": "Time zone of dates in the portal and in digests"}
    set_domain = client.post(durl, json={"name": "TIMEZONE", "value": "Europe/Paris"}, headers=a_h)
    assert set_domain.status_code == 201 and set_domain.json["value"] == "Europe/Paris"
    assert option(uurl, "TIMEZONE", a_h)["parentValue"] == "Europe/Paris"
    client.post(uurl, json={"name": "TIMEZONE", "value": "Asia/Tokyo"}, headers=a_h)
    assert option(uurl, "TIMEZONE", a_h)["value"] == "Asia/Tokyo"
    assert client.delete(f"{durl}/TIMEZONE", headers=a_h).status_code == 204
    assert option(uurl, "TIMEZONE", a_h)["parentValue"] == "UTC"
    assert "DOMAIN_ADMIN" not in [o["option"]["name"] for o in client.get(uurl, headers=a_h).json]
    restricted = client.post(durl, json={"name": "APP_URL", "value": "https://mail.a.example"}, headers=a_h)
    assert restricted.status_code == 403
    assert client.post(durl, json={"name": "APP_URL", "value": "https://mail.a.example"},
                       headers=sys_h).status_code == 201
    assert client.delete(f"{durl}/NOPE", headers=a_h).status_code == 404


@pytest.mark.parametrize(("name", "value"), [
    ("SUPPORT_EMAIL", "not-an-email"), ("BRAND_COLOR", "red"), ("LOGO_URL", "javascript:alert(1)"),
    ("TIMEZONE", "Mars/Olympus"), ("DIGEST_FREQUENCY", "HOURLY"), ("UNKNOWN_OPTION", "x"),
    ("SUPPORT_EMAIL", "a@b.example\r\nBcc: x@y.example"), ("BRAND_COLOR", "#12345"),
    ("BRAND_COLOR", "red;}body{display:none"), ("LOGO_URL", "http://cdn.a.example/logo.png"),
    ("LOGO_URL", "https://user:pw@cdn.a.example/logo.png"),
])
def test_option_values_are_validated(client: FlaskClient, world: World, name: str, value: str) -> None:
    response = client.post(f"/api/domains/{world.id('A')}/options", json={"name": name, "value": value},
                           headers=world.headers("sysadmin"))
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] in ("value", "name")


def test_brand_values_are_stored_clean(client: FlaskClient, world: World) -> None:
    url, h = f"/api/domains/{world.id('A')}/options", world.headers("domainA")
    assert client.post(url, json={"name": "BRAND_COLOR", "value": " #ABC "}, headers=h).json["value"] == "#aabbcc"
    logo = "https://cdn.a.example/logo.png"
    assert client.post(url, json={"name": "LOGO_URL", "value": logo}, headers=h).json["value"] == logo
    refused = client.post(url, json={"name": "BRAND_COLOR", "value": "blue"}, headers=h)
    assert refused.json["errors"] == [{"field": "value", "message": "“blue” is not a colour: give it as #rrggbb or "
                                                                     "#rgb, e.g. #1e88e5."}]


# --- domain admins and end-user access ------------------------------------------------------------

def test_domain_admins(client: FlaskClient, world: World) -> None:
    url = f"/api/domains/{world.id('A')}/admins"
    h = world.headers("domainA")
    assert {a["login"] for a in client.get(url, headers=h).json} == {"admin-a", "reader-a", "admin-ac"}
    new = client.post(url, json={"login": "helper", "email": "helper@a.example", "password": "long enough pw",
                                 "permissions": ["USER_READ"]}, headers=h)
    assert new.status_code == 201 and new.json["authorities"][0]["permissions"] == ["USER_READ"]
    existing = client.post(url, json={"id": world.id("adminC"), "permissions": ["DOMAIN_READ"]},
                           headers=world.headers("sysadmin"))
    assert existing.status_code == 201 and existing.json["authoritiesCount"] == 2
    too_much = client.post(url, json={"login": "x", "email": "x@a.example", "password": "long enough pw",
                                      "permissions": ["DOMAIN_CREATE"]}, headers=h)
    assert too_much.status_code == 400
    helper = new.json["id"]
    assert client.put(f"{url}/{helper}/authorities", json=["USER_READ", "USER_EDIT"], headers=h).status_code == 200
    assert client.delete(f"{url}/{helper}", headers=h).status_code == 204
    assert client.get(f"/api/security/admins/{helper}", headers=world.headers("sysadmin")).status_code == 404
    # admin-ac keeps its account (it still works on c.example)
    assert client.delete(f"{url}/{world.id('adminAC')}", headers=h).status_code == 204
    assert client.get(f"/api/security/admins/{world.id('adminAC')}",
                      headers=world.headers("sysadmin")).status_code == 200


def test_end_user_access(client: FlaskClient, world: World) -> None:
    url = f"/api/domains/{world.id('A')}/access"
    h = world.headers("domainA")
    assert client.put(url, json=["QUARANTINE_VIEW", "WBLIST_EDIT"], headers=h).status_code == 204
    assert client.get(url, headers=h).json == [
        {"name": "QUARANTINE_VIEW", "enabled": True}, {"name": "QUARANTINE_RELEASE", "enabled": False},
        {"name": "WBLIST_EDIT", "enabled": True}, {"name": "SIGN_EDIT", "enabled": False},
        {"name": "SEND_MAIL", "enabled": False}, {"name": "FOLDERS_VIEW", "enabled": False}]
    bad = client.put(url, json=["QUARANTINE_VIEW", "ROOT"], headers=h)
    assert bad.status_code == 400 and bad.json["errors"][0]["field"] == "[1]"


# --- soft delete, revert, purge -----------------------------------------------------------------

def test_soft_delete_revert_and_purge(app: Flask, client: FlaskClient, world: World) -> None:
    h = world.headers("sysadmin")
    url = f"/api/domains/{world.id('A')}"
    assert client.delete(url, headers=h).status_code == 204
    deleted = client.get(url, headers=h).json
    assert deleted["status"] == "DELETED"
    assert deleted["purgeDate"] - deleted["deletionDate"] == 30 * 24 * 3600 * 1000
    # the users of a deleted domain are suspended: their tokens stop working
    assert client.get("/api/openapi.json", headers=world.headers("enduser")).status_code == 200
    from portal.services import tokens

    with app.app_context():
        from portal.errors import Unauthorized

        with pytest.raises(Unauthorized):
            tokens.authenticate(world.token["enduser"])
    assert client.patch(url, json={"status": "ENABLED"}, headers=world.headers("domainA")).status_code == 403
    assert client.patch(url, json={"status": "ENABLED"}, headers=h).status_code == 204
    reverted = client.get(url, headers=h).json
    assert reverted["status"] == "ENABLED" and reverted["purgeDate"] is None
    client.delete(url, headers=h)
    with app.app_context():
        assert domains.purge_due() == []  # not yet due
        db.session.get(Domain, world.pk["A"]).purge_date = utcnow() - timedelta(seconds=1)
        assert domains.purge_due() == ["a.example"]
        db.session.commit()
        assert db.session.get(Domain, world.pk["A"]) is None
        assert db.session.query(MailUser).filter_by(domain_id=world.pk["A"]).count() == 0
        assert db.session.query(Authority).filter_by(object_type="DOMAIN", object_id=world.pk["A"]).count() == 0
    assert client.get(url, headers=h).status_code == 404


def test_purge_cli(app: Flask, world: World) -> None:
    with app.app_context():
        domain = db.session.get(Domain, world.pk["B"])
        domain.status, domain.purge_date = "DELETED", utcnow() - timedelta(days=1)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["portal", "purge-domains"])
    assert result.exit_code == 0 and "b.example" in result.output


# --- MX check against a real DNS server -----------------------------------------------------------

ZONE = """
mx-ok.example.     300 IN MX 10 mx1.gateway.test.
mx-other.example.  300 IN MX 10 mail.elsewhere.test.
a.example.         300 IN MX 10 mx2.gateway.test.
nomx.example.      300 IN A  192.0.2.1
"""


@pytest.fixture
def dns(app: Flask) -> Iterator[None]:
    with dns_server(ZONE) as server:
        app.config.update(GATEWAY_MX_HOSTS=["mx1.gateway.test", "mx2.gateway.test"], DNS_SERVERS=[server],
                          DNS_TIMEOUT=2.0)
        try:
            yield
        finally:
            app.config.update(GATEWAY_MX_HOSTS=[], DNS_SERVERS=[])


def _create(client: FlaskClient, world: World, name: str, **headers: str) -> object:
    return client.post("/api/domains", json={"name": name, "customerId": world.id("C1")},
                       headers={**world.headers("sysadmin"), **headers})


def test_mx_check(client: FlaskClient, world: World, dns: None) -> None:
    assert _create(client, world, "mx-ok.example").status_code == 201
    other = _create(client, world, "mx-other.example")
    assert other.status_code == 422 and "mail.elsewhere.test" in other.json["detail"]
    assert _create(client, world, "nomx.example").status_code == 422
    assert _create(client, world, "unknown.example").status_code == 422
    assert _create(client, world, "mx-other.example", **{"X-Ignore-MX": "true"}).status_code == 201
    pending = client.post("/api/domains", json={"name": "later.example", "customerId": world.id("C1"),
                                                "status": "PENDING"}, headers=world.headers("sysadmin"))
    assert pending.status_code == 201
    enable = client.patch(f"/api/domains/{pending.json['id']}", json={"status": "ENABLED"},
                          headers=world.headers("sysadmin"))
    assert enable.status_code == 422
    # a.example still points to the gateway: deleting it would bounce its mail
    assert client.delete(f"/api/domains/{world.id('A')}", headers=world.headers("sysadmin")).status_code == 422
    assert client.delete(f"/api/domains/{world.id('A')}",
                         headers={**world.headers("sysadmin"), "X-Ignore-MX": "1"}).status_code == 204


def test_dns_outage_is_a_clear_error_not_a_hang(app: Flask, client: FlaskClient, world: World) -> None:
    import socket

    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
    silent.bind(("127.0.0.1", 0))
    app.config.update(GATEWAY_MX_HOSTS=["mx1.gateway.test"], DNS_SERVERS=[silent.getsockname()], DNS_TIMEOUT=0.5)
    try:
        response = _create(client, world, "slow.example")
    finally:
        app.config.update(GATEWAY_MX_HOSTS=[], DNS_SERVERS=[])
        silent.close()
    assert response.status_code == 503 and "DNS did not answer" in response.json["detail"]
    assert free_port()
