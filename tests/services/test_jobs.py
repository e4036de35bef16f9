"""Jobs: dispatched only after commit; on a real Redis with a real RQ worker, or in-process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue, SimpleWorker

from portal import jobs
from portal.clock import utcnow
from portal.extensions import db
from portal.jobs.maintenance import purge_expired_tokens
from portal.models import ApiToken
from tests.services_runtime import redis_url
from tests.world import World


@pytest.fixture
def redis_app(app: Flask) -> Iterator[Flask]:
    with redis_url() as url:
        queue_name = f"postern-test-{uuid.uuid4().hex[:8]}"
        old = app.config["REDIS_URL"], app.config["RQ_QUEUE"]
        app.config.update(REDIS_URL=url, RQ_QUEUE=queue_name)
        try:
            yield app
        finally:
            Queue(queue_name, connection=Redis.from_url(url)).delete(delete_jobs=True)
            app.config["REDIS_URL"], app.config["RQ_QUEUE"] = old


def _age_tokens(world: World) -> None:
    for token in db.session.query(ApiToken).filter(ApiToken.admin_id == world.pk["broker"]):
        token.expiration = utcnow() - timedelta(days=40)


def test_job_runs_on_an_rq_worker(redis_app: Flask, world: World) -> None:
    with redis_app.app_context():
        _age_tokens(world)
        jobs.enqueue(purge_expired_tokens, 30)
        queue = jobs.queue()
        assert queue.count == 0  # nothing leaves before the commit
        db.session.commit()
        jobs.dispatch()
        assert queue.count == 1
        worker = SimpleWorker([queue], connection=queue.connection)
        assert worker.work(burst=True)
        job = queue.fetch_job(queue.finished_job_registry.get_job_ids()[0])
        assert job.return_value() == 1
        db.session.expire_all()
        assert db.session.query(ApiToken).filter_by(admin_id=world.pk["broker"]).count() == 0


def test_rolled_back_work_sends_no_job(redis_app: Flask, world: World) -> None:
    with redis_app.app_context():
        jobs.enqueue(purge_expired_tokens, 30)
        db.session.rollback()
        db.session.commit()
        assert jobs.dispatch() == 0
        assert jobs.queue().count == 0


def test_in_process_runner(app: Flask, world: World) -> None:
    with app.app_context():
        _age_tokens(world)
        jobs.enqueue(purge_expired_tokens, 30)
        db.session.commit()
        jobs.dispatch()
        assert db.session.query(ApiToken).filter_by(admin_id=world.pk["broker"]).count() == 0


def test_unreachable_redis_fails_fast(app: Flask, world: World) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    from tests.services_runtime import free_port

    with app.app_context():
        app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
        try:
            jobs.enqueue(purge_expired_tokens, 30)
            db.session.commit()
            with pytest.raises(RedisConnectionError):
                jobs.dispatch()
        finally:
            app.config["REDIS_URL"] = None


def test_scheduled_purge_runs_on_rq(redis_app: Flask, world: World) -> None:
    """The scheduler's cron jobs are real RQ jobs that a worker runs against the database."""
    from rq.cron import CronScheduler

    from portal.jobs.maintenance import schedule
    from portal.models import Domain

    with redis_app.app_context():
        domain = db.session.get(Domain, world.pk["B"])
        domain.status, domain.purge_date = "DELETED", utcnow() - timedelta(hours=1)
        db.session.commit()
        queue = jobs.queue()
        cron = CronScheduler(connection=queue.connection, name="test")
        schedule(cron, queue.name)
        by_name = {job.name: job for job in cron.get_jobs()}
        assert set(by_name) == {"purge-domains", "purge-tokens", "purge-rules", "purge-uploads"}
        by_name["purge-domains"].enqueue(queue.connection)
        assert SimpleWorker([queue], connection=queue.connection).work(burst=True)
        db.session.expire_all()
        assert db.session.get(Domain, world.pk["B"]) is None


def test_export_job_is_debounced_on_rq(redis_app: Flask, world: World) -> None:
    """Many changes ask for one export: one scheduled run while one is pending; the run releases it."""
    from rq.registry import ScheduledJobRegistry

    from portal.jobs.export import export_rules

    with redis_app.app_context():
        queue = jobs.queue()
        queue.connection.delete(jobs.debounce_key(export_rules))
        for _ in range(3):
            jobs.enqueue(export_rules)
            db.session.commit()
            jobs.dispatch()
        registry = ScheduledJobRegistry(queue=queue)
        assert registry.count == 1 and queue.count == 0
        job = queue.fetch_job(registry.get_job_ids()[0])
        queue.enqueue_job(job)  # due now (the scheduler would move it after 5 s)
        registry.remove(job)
        assert SimpleWorker([queue], connection=queue.connection).work(burst=True)
        assert queue.connection.get(jobs.debounce_key(export_rules)) is None
        jobs.enqueue(export_rules)
        db.session.commit()
        jobs.dispatch()
        assert ScheduledJobRegistry(queue=queue).count == 1


def exploding_job(n: int) -> None:
    raise RuntimeError(f"boom {n}")


def test_failed_in_process_jobs_are_shown_and_dismissed(app: Flask, client: FlaskClient, world: World) -> None:
    from portal.models import JobFailure
    from tests.conftest import csrf_token, login
    from tests.world import PASSWORD

    with app.app_context():
        jobs.enqueue(exploding_job, 7)
        db.session.commit()
        assert jobs.dispatch() == 1
        (failure,) = db.session.query(JobFailure).all()
        assert failure.function.endswith("exploding_job") and "boom 7" in failure.error
    login(client, "root", PASSWORD)
    assert 'id="failed-jobs-count"' in client.get("/").text  # the dashboard says so
    page = client.get("/admin/jobs")
    assert page.status_code == 200 and "boom 7" in page.text and "Retry" not in page.text
    client.post(f"/admin/jobs/db-{failure.id}/dismiss", data={"csrf_token": csrf_token(page.text)})
    assert "No job has failed" in client.get("/admin/jobs").text
    client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    login(client, "admin-a", PASSWORD)
    assert client.get("/admin/jobs").status_code == 403


def test_failed_rq_jobs_are_shown_retried_and_dismissed(redis_app: Flask, world: World) -> None:
    from tests.conftest import csrf_token, login
    from tests.world import PASSWORD

    client = redis_app.test_client()
    with redis_app.app_context():
        queue = jobs.queue()
        job = queue.enqueue(exploding_job, 3)
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    login(client, "root", PASSWORD)
    page = client.get("/admin/jobs")
    assert 'id="queue-counts"' in page.text and "boom 3" in page.text and "Retry" in page.text
    token = csrf_token(page.text)
    client.post(f"/admin/jobs/{job.id}/retry", data={"csrf_token": token})
    with redis_app.app_context():
        assert jobs.queue().count == 1  # back on the queue
        SimpleWorker([jobs.queue()], connection=jobs.queue().connection).work(burst=True)  # fails again
    client.post(f"/admin/jobs/{job.id}/dismiss", data={"csrf_token": token})
    assert "boom 3" not in client.get("/admin/jobs").text
    assert client.post("/admin/jobs/nope/retry", data={"csrf_token": token}).status_code == 404
