"""Domain, policy and user pages: tabs, forms with errors next to fields, scoping, confirmations."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import db
from portal.models import Domain, MailUser, Policy
from tests.conftest import csrf_token, login
from tests.world import PASSWORD, World


def _as(client: FlaskClient, who: str) -> str:
    client.delete_cookie("session")
    assert login(client, who, PASSWORD).status_code == 302
    return csrf_token(client.get("/").text)


def test_domain_list_is_scoped_and_searchable(client: FlaskClient, world: World) -> None:
    _as(client, "admin-a")
    page = client.get("/admin/domains")
    assert "a.example" in page.text and "b.example" not in page.text
    _as(client, "root")
    fragment = client.get("/admin/domains?name=*b.ex*", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "b.example" in fragment.text and "c.example" not in fragment.text
    status = client.get("/admin/domains?status=DELETED")
    assert "No domain matches" in status.text
    assert client.get("/admin/domains?export=csv").text.count("\n") == 4


def test_every_tab_renders_and_foreign_domain_is_404(client: FlaskClient, world: World) -> None:
    _as(client, "admin-a")
    for tab in ("settings", "aliases", "platforms", "policies", "options", "admins", "access", "dkim"):
        response = client.get(f"/admin/domains/{world.id('A')}/tab/{tab}")
        assert response.status_code == 200, tab
        fragment = client.get(f"/admin/domains/{world.id('A')}/tab/{tab}", headers={"HX-Request": "true"})
        assert "<html" not in fragment.text and f'id="tab-{tab}"' in fragment.text
    assert client.get(f"/admin/domains/{world.id('B')}/tab/settings").status_code == 404
    assert client.get(f"/admin/domains/{world.id('A')}/tab/nope").status_code == 404


def test_create_domain_page(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "customer1")
    bad = client.post("/admin/domains/new", data={"csrf_token": token, "name": "not valid",
                                                  "customer_id": world.id("C1"), "status": "ENABLED",
                                                  "default_language": "EN"})
    assert bad.status_code == 400 and "Give a domain name such as" in bad.text and 'value="not valid"' in bad.text
    ok = client.post("/admin/domains/new", data={
        "csrf_token": token, "name": "fresh.example", "customer_id": world.id("C1"), "status": "ENABLED",
        "default_language": "FR", "quarantine": "on", "transport_dest": "mx.fresh.example", "transport_port": "25",
        "transport_type": "SMTP"})
    assert ok.status_code == 302
    with app.app_context():
        domain = db.session.query(Domain).filter_by(name="fresh.example").one()
        assert domain.default_language == "FR" and domain.platforms[0].transport_dest == "mx.fresh.example"
        assert domain.default_policy.quarantine is True


def test_settings_errors_stay_next_to_fields(client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-a")
    response = client.post(f"/admin/domains/{world.id('A')}/settings", data={
        "csrf_token": token, "status": "ENABLED", "default_language": "EN", "wblist_priority": "USER",
        "outgoing_subnets": "10.0.0.0/8\n10.1.2.3/16", "policy_id": world.id("policyA")})
    assert response.status_code == 400 and "did you mean 10.1.0.0/16" in response.text
    assert "10.1.2.3/16" in response.text  # the input is kept
    ok = client.post(f"/admin/domains/{world.id('A')}/settings", data={
        "csrf_token": token, "status": "ENABLED", "default_language": "EN", "wblist_priority": "DOMAIN",
        "outgoing_subnets": "10.0.0.0/8", "policy_id": world.id("policyA"), "sender_verify_on": "on"})
    assert ok.status_code == 302


def test_aliases_tab(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-a")
    url = f"/admin/domains/{world.id('A')}/aliases"
    assert client.post(url, data={"csrf_token": token, "alias": "second-a.example"}).status_code == 302
    taken = client.post(url, data={"csrf_token": token, "alias": "b.example"})
    assert taken.status_code == 409 and "exists already" in taken.text
    page = client.get(f"/admin/domains/{world.id('A')}/tab/aliases")
    assert "second-a.example" in page.text and "hx-confirm" in page.text
    alias = re.search(r"/aliases/([A-Za-z0-9]+)/delete", page.text).group(1)
    assert client.post(f"{url}/{alias}/delete", data={"csrf_token": token}).status_code == 302


def test_delete_confirm_and_revert(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "root")
    confirm = client.get(f"/admin/domains/{world.id('B')}/delete")
    assert confirm.status_code == 200 and "reverted" in confirm.text
    with app.app_context():
        assert db.session.get(Domain, world.pk["B"]).status == "ENABLED"
    assert client.post(f"/admin/domains/{world.id('B')}/delete", data={"csrf_token": token}).status_code == 302
    page = client.get(f"/admin/domains/{world.id('B')}/tab/settings")
    assert "It will be purged on" in page.text and "Revert the deletion" in page.text
    assert client.post(f"/admin/domains/{world.id('B')}/revert", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.get(Domain, world.pk["B"]).status == "ENABLED"
    _as(client, "admin-a")
    assert client.post(f"/admin/domains/{world.id('A')}/delete", data={"csrf_token": token}).status_code in (400, 403)


def test_policy_editor(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "root")
    url = f"/admin/domains/{world.id('A')}/policies/new"
    form = {"csrf_token": token, "name": "Relaxed", "mailSizeLimit": "50", "spamScore": "8", "incoming": "on",
            "relayProps.spamScoreLimit": "4", "quarantineProps.duration": "14", "quarantine": "on"}
    low = client.post(url, data=form)
    assert low.status_code == 422 and "must not be below the spam score" in low.text
    assert 'name="relayProps.spamScoreLimit" value="4"' in low.text
    bad = client.post(url, data={**form, "relayProps.spamScoreLimit": "12", "quarantineProps.duration": "0"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text
    ok = client.post(url, data={**form, "relayProps.spamScoreLimit": "12"})
    assert ok.status_code == 302
    with app.app_context():
        policy = db.session.query(Policy).filter_by(name="Relaxed").one()
        assert policy.quarantine_props["duration"] == 14 and policy.relay_props["spamScoreLimit"] == 12
    _as(client, "admin-a")
    page = client.get(f"/admin/policies/{world.id('policyA')}")
    assert page.status_code == 200 and "<fieldset disabled" in page.text


def test_users_pages(app: Flask, client: FlaskClient, world: World) -> None:
    token = _as(client, "admin-a")
    listing = client.get(f"/admin/domains/{world.id('A')}/users?name=*other*")
    assert "other@a.example" in listing.text and "user@a.example" not in listing.text
    dup = client.post(f"/admin/domains/{world.id('A')}/users", data={"csrf_token": token, "local_part": "user"})
    assert dup.status_code == 409 and "already exists" in dup.text
    created = client.post(f"/admin/domains/{world.id('A')}/users",
                          data={"csrf_token": token, "local_part": "newbie", "firstname": "New"})
    assert created.status_code == 302
    user_url = created.headers["Location"]
    saved = client.post(user_url, data={"csrf_token": token, "firstname": "Newer", "status": "DISABLED",
                                        "language": "FR", "policy_id": world.id("spareA")})
    assert saved.status_code == 302
    with app.app_context():
        user = db.session.query(MailUser).filter_by(email="newbie@a.example").one()
        assert (user.firstname, user.status, user.language, user.policy.name) == ("Newer", "DISABLED", "FR", "spare")
    option = client.post(f"{user_url}/options", data={"csrf_token": token, "name": "TIMEZONE", "value": "Mars/Base"})
    assert option.status_code == 400 and "Not a known time zone" in option.text
    assert client.post(f"{user_url}/delete", data={"csrf_token": token}).status_code == 302
    assert client.get(f"/admin/domains/{world.id('B')}/users").status_code == 404


def test_installation_options_page(app: Flask, client: FlaskClient, world: World) -> None:
    """System administrators set installation-wide values; domains inherit them."""
    login(client, "root", PASSWORD)
    page = client.get("/admin/options")
    assert page.status_code == 200 and 'id="installation-options"' in page.text and "SUPPORT_EMAIL" in page.text
    token = csrf_token(page.text)
    bad = client.post("/admin/options", data={"csrf_token": token, "name": "SUPPORT_EMAIL", "value": "not mail"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text and 'value="not mail"' in bad.text
    saved = client.post("/admin/options", data={"csrf_token": token, "name": "SUPPORT_EMAIL",
                                                "value": "help@gateway.example"})
    assert saved.status_code == 302
    tab = client.get(f"/admin/domains/{world.id('A')}/tab/options")
    assert "help@gateway.example" in tab.text  # inherited by the domain
    client.post("/admin/options/SUPPORT_EMAIL/delete", data={"csrf_token": token})
    assert "help@gateway.example" not in client.get("/admin/options").text
    client.post("/logout", data={"csrf_token": token})
    login(client, "admin-a", PASSWORD)
    assert client.get("/admin/options").status_code == 403
    token = csrf_token(client.get("/admin/").text)
    assert client.post("/admin/options", data={"csrf_token": token, "name": "TIMEZONE",
                                               "value": "Europe/Paris"}).status_code == 403


def test_outgoing_providers(app: Flask, client: FlaskClient, world: World) -> None:
    """System administrators keep the catalog; a domain picks active providers in its settings."""
    login(client, "root", PASSWORD)
    page = client.get("/admin/providers")
    token = csrf_token(page.text)
    bad = client.post("/admin/providers", data={"csrf_token": token, "name": "M365", "spf_provider": "not a host!"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text
    assert client.post("/admin/providers", data={"csrf_token": token, "name": "M365",
                                                 "spf_provider": "spf.protection.outlook.com"}).status_code == 302
    dup = client.post("/admin/providers", data={"csrf_token": token, "name": "m365", "spf_provider": "x.example"})
    assert dup.status_code == 409
    # an SPF include host may have underscores (`include:_spf.google.com`); an address is not one
    assert client.post("/admin/providers", data={"csrf_token": token, "name": "Google Workspace",
                                                 "spf_provider": "_spf.Google.com"}).status_code == 302
    assert "<code>_spf.google.com</code>" in client.get("/admin/providers").text
    address = client.post("/admin/providers", data={"csrf_token": token, "name": "By address",
                                                     "spf_provider": "192.0.2.1"})
    assert address.status_code == 400 and 'id="e-spf_provider"' in address.text and 'value="192.0.2.1"' in address.text
    from portal import ids
    from portal.models import OutgoingProvider

    with app.app_context():
        provider = db.session.query(OutgoingProvider).filter_by(name="M365").one()
        public = ids.encode(provider.id)
    settings = client.get(f"/admin/domains/{world.id('A')}/tab/settings")
    assert 'id="domain-providers"' in settings.text and "spf.protection.outlook.com" in settings.text
    form = {"csrf_token": token, "status": "ENABLED", "default_language": "EN", "wblist_priority": "USER",
            "provider_ids": public, "ignore_mx": "on"}
    assert client.post(f"/admin/domains/{world.id('A')}/settings", data=form).status_code == 302
    with app.app_context():
        assert [p.name for p in db.session.get(Domain, world.pk["A"]).outgoing_providers] == ["M365"]
    client.post(f"/admin/providers/{public}/active", data={"csrf_token": token})  # made inactive
    kept = client.post(f"/admin/domains/{world.id('A')}/settings", data=form)
    assert kept.status_code == 302  # a domain keeps an inactive provider it had
    refused = client.post(f"/admin/domains/{world.id('B')}/settings", data=form)
    assert refused.status_code == 400 and "not offered any more" in refused.text
    client.post(f"/admin/providers/{public}/delete", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(Domain, world.pk["A"]).outgoing_providers == []
    client.post("/logout", data={"csrf_token": token})
    login(client, "admin-a", PASSWORD)
    assert client.get("/admin/providers").status_code == 403


def test_brokers_and_customers(app: Flask, client: FlaskClient, world: World) -> None:
    """A fresh installation can get its first customer (then domains) from the pages or the command line."""
    from portal import ids
    from portal.models import Broker, Customer

    login(client, "root", PASSWORD)
    page = client.get("/admin/customers")
    assert page.status_code == 200 and "Customer One" in page.text and 'id="new-broker"' in page.text
    token = csrf_token(page.text)
    assert client.post("/admin/brokers", data={"csrf_token": token, "broker_name": "Reseller"}).status_code == 302
    dup = client.post("/admin/brokers", data={"csrf_token": token, "broker_name": "reseller"})
    assert dup.status_code == 409
    with app.app_context():
        broker = ids.encode(db.session.query(Broker).filter_by(name="Reseller").one().id)
    made = client.post("/admin/customers", data={"csrf_token": token, "broker_id": broker, "name": "Acme Ltd"})
    assert made.status_code == 302
    customer_page = client.get(made.headers["Location"])
    assert "Acme Ltd" in customer_page.text and 'id="customer-options"' in customer_page.text
    blank = client.post("/admin/customers", data={"csrf_token": token, "broker_id": broker, "name": " "})
    assert blank.status_code == 400 and 'aria-invalid="true"' in blank.text
    with app.app_context():
        customer_id = ids.encode(db.session.query(Customer).filter_by(name="Acme Ltd").one().id)
    client.post(f"/admin/customers/{customer_id}/options", data={"csrf_token": token, "name": "TIMEZONE",
                                                                 "value": "Europe/Paris"})
    assert "Europe/Paris" in client.get(f"/admin/customers/{customer_id}").text
    client.post("/logout", data={"csrf_token": token})
    # a broker admin creates customers under their broker only; a domain admin sees no customer
    login(client, "broker1", PASSWORD)
    token = csrf_token(client.get("/admin/customers").text)
    refused = client.post("/admin/customers", data={"csrf_token": token, "broker_id": broker, "name": "X"})
    assert refused.status_code == 403
    assert client.get(f"/admin/customers/{customer_id}").status_code == 404
    with app.app_context():
        own = ids.encode(world.pk["B1"])
    assert client.post("/admin/customers", data={"csrf_token": token, "broker_id": own,
                                                 "name": "New Client"}).status_code == 302
    client.post("/logout", data={"csrf_token": token})
    login(client, "admin-a", PASSWORD)
    assert "Customer One" not in client.get("/admin/customers").text


def test_create_customer_command(app: Flask) -> None:
    from portal.models import Customer

    runner = app.test_cli_runner()
    result = runner.invoke(args=["portal", "create-customer", "Initech", "--broker", "Direct"])
    assert result.exit_code == 0 and "Initech" in result.output
    again = runner.invoke(args=["portal", "create-customer", "Initech", "--broker", "Direct"])
    assert again.exit_code == 1 and "already" in again.output
    with app.app_context():
        assert db.session.query(Customer).filter_by(name="Initech").one().broker.name == "Direct"
