"""Diagnostics across processes: a real gunicorn with 4 workers on the suite's database, parallel requests.
A domain is diagnosed once per interval however many ask at once; a domain that starts failing while many runs
record it at the same moment notifies its contact once."""

from __future__ import annotations

from flask import Flask

from portal.extensions import db
from portal.models import MailServer, OptionValue
from tests.api.test_mailserver_races import PARALLEL, _environment, _in_parallel
from tests.services_runtime import dns_server, gunicorn_app, smtp_server
from tests.world import World

ZONE = "a.example. 300 IN A 192.0.2.1\n"  # no MX, no SPF, no DMARC: failing


def _env(app: Flask, database_url: str, server: tuple[str, int], interval: str) -> dict[str, str]:
    return _environment(app, database_url, POSTERN_DNS_SERVERS=f"{server[0]}:{server[1]}",
                        POSTERN_GATEWAY_MX_HOSTS="mx1.gateway.test", POSTERN_HEALTH_RUN_INTERVAL=interval,
                        POSTERN_DNS_TIMEOUT="2")


def test_parallel_runs_of_one_domain_run_once(app: Flask, world: World, database_url: str) -> None:
    with dns_server(ZONE) as server, gunicorn_app(_env(app, database_url, server, "600"), workers=4) as base:
        answers = _in_parallel([f"{base}/api/domains/{world.id('A')}/health"] * PARALLEL, world.token["sysadmin"])
    statuses = sorted(status for status, _body in answers)
    assert statuses.count(201) == 1 and statuses.count(429) == PARALLEL - 1, statuses


def test_a_domain_failing_in_parallel_runs_notifies_once(app: Flask, world: World, database_url: str) -> None:
    with smtp_server() as (sink, port), dns_server(ZONE) as server:
        with app.app_context():
            db.session.add(MailServer(name="out", protocol="SMTP", host="127.0.0.1", port=port, security="NONE",
                                      auth="NO_AUTH", sender_address="postern@ops.example", enabled=True))
            db.session.add(OptionValue(scope="DOMAIN", object_id=world.pk["A"], name="DOMAIN_ADMIN",
                                       value="boss@a.example"))
            db.session.commit()
        with gunicorn_app(_env(app, database_url, server, "0"), workers=4) as base:
            answers = _in_parallel([f"{base}/api/domains/{world.id('A')}/health"] * PARALLEL,
                                   world.token["sysadmin"])
            assert [status for status, _body in answers] == [201] * PARALLEL, answers
            assert sink.wait_for(1)
            again = _in_parallel([f"{base}/api/domains/{world.id('A')}/health"] * 2, world.token["sysadmin"])
            assert all(status == 201 for status, _body in again)
        assert len(sink.messages) == 1, [m[1] for m in sink.messages]
        assert sink.messages[0][1] == ["boss@a.example"]
