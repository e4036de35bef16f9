"""Relay checks across processes: a real gunicorn with 4 workers on the suite's database; parallel requests to
check one platform run one check (its report row made by one of them), the rest get a 429."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import HealthReport, Platform
from tests.api.test_mailserver_races import PARALLEL, _environment, _in_parallel
from tests.services_runtime import gunicorn_app, smtp_server
from tests.world import World


def test_parallel_checks_of_one_platform_run_once(app: Flask, world: World, database_url: str) -> None:
    with smtp_server() as (_sink, port), app.app_context():
        platform = db.session.get(Platform, world.pk["platformA"])
        platform.transport_port = port
        db.session.query(HealthReport).delete()  # never checked: the first requests race to make its row
        db.session.commit()
        env = _environment(app, database_url, POSTERN_RELAY_CHECK_INTERVAL="600")
        with gunicorn_app(env, workers=4) as base:
            url = f"{base}/api/platforms/{world.id('platformA')}/health"
            answers = _in_parallel([url] * PARALLEL, world.token["sysadmin"])
        statuses = sorted(status for status, _body in answers)
        assert statuses.count(201) == 1 and statuses.count(429) == PARALLEL - 1, statuses
        (checked,) = [body for status, body in answers if status == 201]
        assert checked["report"]["status"] is True
        db.session.expire_all()
        rows = db.session.scalar(select(func.count()).select_from(HealthReport).where(
            HealthReport.entity_type == "PLATFORM", HealthReport.entity_id == world.pk["platformA"]))
        assert rows == 1
