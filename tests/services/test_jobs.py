"""Jobs: dispatched only after commit; on a real Redis with a real RQ worker, or in-process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
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
