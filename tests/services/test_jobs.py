"""Jobs: written to the outbox in the transaction that asks for them, handed over after its commit, never
lost while Redis is down, handed over once; on a real Redis with a real RQ worker, or in-process."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import select, update

from portal import jobs, outbox
from portal.clock import utcnow
from portal.extensions import db
from portal.models import ApiToken, OutboxJob
from tests.conftest import csrf_token, login
from tests.services_runtime import RedisProcess, free_port, redis_url, silent_server
from tests.world import PASSWORD, World


@pytest.fixture
def redis_app(app: Flask) -> Iterator[Flask]:
    with redis_url() as url, _redis_config(app, url) as configured:
        yield configured


class _redis_config:
    """Point the app at a Redis (and a queue of its own) for the time of a test."""

    def __init__(self, app: Flask, url: str) -> None:
        self.app, self.url, self.queue_name = app, url, f"postern-test-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> Flask:
        self.old = self.app.config["REDIS_URL"], self.app.config["RQ_QUEUE"]
        self.app.config.update(REDIS_URL=self.url, RQ_QUEUE=self.queue_name)
        jobs._state.update(redis_paused_until=0.0, next_sweep=0.0)
        return self.app

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):  # the test's Redis may be gone by now
            Queue(self.queue_name, connection=Redis.from_url(self.url, socket_timeout=2,
                                                             socket_connect_timeout=2)).delete(delete_jobs=True)
        self.app.config["REDIS_URL"], self.app.config["RQ_QUEUE"] = self.old
        jobs._state.update(redis_paused_until=0.0, next_sweep=0.0)


def _age_tokens(world: World) -> None:
    for token in db.session.query(ApiToken).filter(ApiToken.admin_id == world.pk["broker"]):
        token.expiration = utcnow() - timedelta(days=40)


def _tokens_of_broker(world: World) -> int:
    db.session.expire_all()
    return db.session.query(ApiToken).filter_by(admin_id=world.pk["broker"]).count()


def _waiting() -> list[OutboxJob]:
    db.session.expire_all()
    rows = list(db.session.scalars(select(OutboxJob)))
    db.session.rollback()
    return rows


def test_job_is_written_with_the_change_and_runs_on_an_rq_worker(redis_app: Flask, world: World) -> None:
    with redis_app.app_context():
        _age_tokens(world)
        outbox.enqueue("purge_expired_tokens", 30)
        queue = jobs.queue()
        db.session.commit()
        assert queue.count == 0 and len(_waiting()) == 1  # committed with the change, not handed over yet
        assert jobs.dispatch() == 1
        assert queue.count == 1 and _waiting() == []  # RQ holds it: the row is gone
        assert SimpleWorker([queue], connection=queue.connection).work(burst=True)
        job = queue.fetch_job(queue.finished_job_registry.get_job_ids()[0])
        assert job.return_value() == 1 and job.id.startswith("postern-")
        assert _tokens_of_broker(world) == 0


def test_rolled_back_work_sends_no_job(redis_app: Flask, world: World) -> None:
    with redis_app.app_context():
        outbox.enqueue("purge_expired_tokens", 30)
        db.session.rollback()
        db.session.commit()
        assert jobs.dispatch() == 0
        assert jobs.queue().count == 0 and _waiting() == []


def test_the_same_job_twice_in_one_unit_of_work_is_written_once(app: Flask, world: World) -> None:
    with app.app_context():
        for _ in range(3):
            outbox.enqueue("purge_expired_tokens", 30)
        outbox.enqueue("purge_expired_tokens", 31)
        db.session.flush()
        assert sorted(r.arguments["args"][0] for r in db.session.scalars(select(OutboxJob))) == [30, 31]
        db.session.rollback()


def test_in_process_runner_removes_the_row_with_the_jobs_work(app: Flask, world: World) -> None:
    with app.app_context():
        _age_tokens(world)
        outbox.enqueue("purge_expired_tokens", 30)
        db.session.commit()
        assert jobs.dispatch() == 1
        assert _tokens_of_broker(world) == 0 and _waiting() == []


def test_arguments_that_json_cannot_carry_are_refused_when_asked(app: Flask) -> None:
    with app.app_context(), pytest.raises(TypeError):
        outbox.enqueue("purge_expired_tokens", object())


def test_unreachable_redis_keeps_the_job_waiting(app: Flask, world: World) -> None:
    with app.app_context(), _redis_config(app, f"redis://127.0.0.1:{free_port()}/0"):
        outbox.enqueue("purge_expired_tokens", 30)
        db.session.commit()
        assert jobs.dispatch() == 0  # no exception: the change is saved, the job waits
        (row,) = _waiting()
        assert row.name == "purge_expired_tokens" and row.claimed_until is None and "Redis" in row.last_error
        outbox.enqueue("purge_expired_tokens", 31)
        db.session.commit()
        assert jobs.dispatch() == 0  # paused: this request does not even try, and leaves the row to the scheduler
        assert sorted((r.attempts, r.claimed_until is None) for r in _waiting()) == [(0, True), (1, True)]


def test_silent_redis_costs_a_bounded_wait_and_loses_nothing(app: Flask, world: World) -> None:
    """A Redis that accepts connections and never answers: the socket deadline ends the hand-over."""
    with silent_server() as port, app.app_context(), _redis_config(app, f"redis://127.0.0.1:{port}/0"):
        outbox.enqueue("purge_expired_tokens", 30)
        db.session.commit()
        assert jobs.dispatch() == 0
        assert [r.attempts for r in _waiting()] == [1]


def test_jobs_wait_while_redis_is_stopped_and_run_once_when_it_is_back(app: Flask, world: World) -> None:
    redis = RedisProcess().start()
    try:
        with app.app_context(), _redis_config(app, redis.url):
            _age_tokens(world)
            db.session.commit()
            redis.stop()
            outbox.enqueue("purge_expired_tokens", 30)
            db.session.commit()
            assert jobs.dispatch() == 0 and len(_waiting()) == 1
            redis.start()
            assert jobs.dispatch() == 0  # a request soon after still leaves Redis alone (paused)
            jobs.scheduler_loop(interval=0.2, rounds=1)  # the scheduler hands the row over
            queue = jobs.queue()
            assert queue.count == 1 and _waiting() == []
            jobs.scheduler_loop(interval=0.2, rounds=1)  # and not twice
            assert queue.count == 1
            assert SimpleWorker([queue], connection=queue.connection).work(burst=True)
            assert _tokens_of_broker(world) == 0
    finally:
        redis.close()


def test_a_retaken_lease_does_not_hand_the_job_over_twice(redis_app: Flask, world: World) -> None:
    """A dispatcher that died after RQ took the job but before deleting the row: the job id is the key."""
    with redis_app.app_context():
        outbox.enqueue("purge_expired_tokens", 30)
        db.session.commit()
        (ready,) = outbox.take_ready()  # this dispatcher hands the job to RQ and "dies" before deleting the row
        queue = jobs.queue()
        jobs._enqueue(queue, ready)
        assert jobs.hand_over_waiting() == 0  # the writer's lease still holds
        _expire_leases()
        assert jobs.hand_over_waiting() == 1
        assert queue.count == 1 and _waiting() == []


def _expire_leases() -> None:
    db.session.execute(update(OutboxJob).values(claimed_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_a_row_is_claimed_by_one_dispatcher_only(redis_app: Flask, world: World) -> None:
    with redis_app.app_context():
        outbox.enqueue("purge_expired_tokens", 30)
        db.session.commit()
        (ready,) = outbox.take_ready()
        assert jobs._claim(ready.id) is None  # its writer holds it
        _expire_leases()
        assert jobs._claim(ready.id) is not None
        assert jobs._claim(ready.id) is None
        assert jobs.hand_over_waiting() == 0 and jobs.queue().count == 0


def test_a_job_asked_in_a_rolled_back_savepoint_is_not_run(app: Flask, world: World) -> None:
    with app.app_context():
        _age_tokens(world)
        db.session.commit()
        outbox.enqueue("purge_expired_tokens", 30)
        savepoint = db.session.begin_nested()
        outbox.enqueue("purge_expired_tokens", 0)
        db.session.flush()
        savepoint.rollback()
        db.session.commit()
        assert [r.arguments["args"] for r in _waiting()] == [[30]]
        assert jobs.dispatch() == 1 and _waiting() == []


def test_a_request_succeeds_and_its_job_waits_while_redis_is_down(app: Flask, client: FlaskClient,
                                                                   world: World) -> None:
    body = {"email": "new@a.example", "status": "ENABLED", "language": "EN", "password": "HearMeRoar!",
            "sendNotification": True}
    with _redis_config(app, f"redis://127.0.0.1:{free_port()}/0"):
        response = client.post("/api/users", json=body, headers=world.headers("domainA"))
        assert response.status_code == 201, response.json
        with app.app_context():
            (row,) = _waiting()
            assert row.name == "send_welcome"
        login(client, "root", PASSWORD)
        dashboard = client.get("/")
        assert 'id="redis-down"' in dashboard.text and 'id="waiting-jobs-count"' in dashboard.text
        page = client.get("/admin/jobs")
        assert page.status_code == 200 and 'id="redis-down"' in page.text and "no REDIS_URL" not in page.text
        assert "send_welcome" in page.text and "No job is waiting" not in page.text


def exploding_job(n: int) -> None:
    raise RuntimeError(f"boom {n}")


jobs.job("test_exploding")(exploding_job)


def test_failed_in_process_jobs_are_shown_and_dismissed(app: Flask, client: FlaskClient, world: World) -> None:
    from portal.models import JobFailure

    with app.app_context():
        outbox.enqueue("test_exploding", 7)
        db.session.commit()
        assert jobs.dispatch() == 1
        (failure,) = db.session.query(JobFailure).all()
        assert failure.function == "test_exploding" and "boom 7" in failure.error
        failure_id = failure.id
        assert _waiting() == []
    login(client, "root", PASSWORD)
    assert 'id="failed-jobs-count"' in client.get("/").text  # the dashboard says so
    page = client.get("/admin/jobs")
    assert page.status_code == 200 and "boom 7" in page.text and "Retry" not in page.text
    client.post(f"/admin/jobs/db-{failure_id}/dismiss", data={"csrf_token": csrf_token(page.text)})
    assert "No job has failed" in client.get("/admin/jobs").text
    client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    login(client, "admin-a", PASSWORD)
    assert client.get("/admin/jobs").status_code == 403


def test_failed_rq_jobs_are_shown_retried_and_dismissed(redis_app: Flask, world: World) -> None:
    client = redis_app.test_client()
    with redis_app.app_context():
        outbox.enqueue("test_exploding", 3)
        db.session.commit()
        jobs.dispatch()
        queue = jobs.queue()
        (job_id,) = queue.job_ids
        job = queue.fetch_job(job_id)
        job.retries_left = 0  # no retries left: the first failure is final
        job.save()
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    login(client, "root", PASSWORD)
    page = client.get("/admin/jobs")
    assert 'id="queue-counts"' in page.text and "boom 3" in page.text and "Retry" in page.text
    assert "test_exploding" in page.text
    token = csrf_token(page.text)
    client.post(f"/admin/jobs/{job_id}/retry", data={"csrf_token": token})
    with redis_app.app_context():
        assert jobs.queue().count == 1  # back on the queue
        SimpleWorker([jobs.queue()], connection=jobs.queue().connection).work(burst=True)  # fails again
    client.post(f"/admin/jobs/{job_id}/dismiss", data={"csrf_token": token})
    assert "boom 3" not in client.get("/admin/jobs").text
    assert client.post("/admin/jobs/nope/retry", data={"csrf_token": token}).status_code == 404


def test_scheduled_purge_runs_on_rq(redis_app: Flask, world: World) -> None:
    """The scheduler's cron jobs are real RQ jobs that a worker runs against the database."""
    from rq.cron import CronScheduler

    from portal.jobs import schedule
    from portal.models import Domain

    with redis_app.app_context():
        domain = db.session.get(Domain, world.pk["B"])
        domain.status, domain.purge_date = "DELETED", utcnow() - timedelta(hours=1)
        db.session.commit()
        queue = jobs.queue()
        cron = CronScheduler(connection=queue.connection, name="test")
        schedule(cron, queue.name)
        by_name = {job.name: job for job in cron.get_jobs()}
        assert set(by_name) == {"purge-domains", "purge-tokens", "purge-rules", "purge-uploads", "digests",
                               "relay-health", "dkim-rotations",
                               "domain-health", "purge-searches", "mail-tracking", "statistics",
                               "purge-statistics"}
        by_name["purge-domains"].enqueue(queue.connection)
        assert SimpleWorker([queue], connection=queue.connection).work(burst=True)
        db.session.expire_all()
        assert db.session.get(Domain, world.pk["B"]) is None
        assert _waiting() == [] and queue.count == 0  # the export it asked for went to RQ (debounced)


def test_export_job_is_debounced_on_rq(redis_app: Flask, world: World) -> None:
    """Many changes ask for one export: one scheduled run while one is pending; the run releases it."""
    from rq.registry import ScheduledJobRegistry

    with redis_app.app_context():
        queue = jobs.queue()
        queue.connection.delete(jobs.debounce_key("export_rules"))
        for _ in range(3):
            outbox.enqueue("export_rules")
            db.session.commit()
            jobs.dispatch()
        registry = ScheduledJobRegistry(queue=queue)
        assert registry.count == 1 and queue.count == 0 and _waiting() == []
        job = queue.fetch_job(registry.get_job_ids()[0])
        queue.enqueue_job(job)  # due now (the scheduler would move it after 5 s)
        registry.remove(job)
        assert SimpleWorker([queue], connection=queue.connection).work(burst=True)
        assert queue.connection.get(jobs.debounce_key("export_rules")) is None
        outbox.enqueue("export_rules")
        db.session.commit()
        jobs.dispatch()
        assert ScheduledJobRegistry(queue=queue).count == 1


def test_a_debounce_key_without_its_job_does_not_silence_the_export(redis_app: Flask, world: World) -> None:
    """A silent Redis may run a SET whose answer timed out: the key is there, the scheduled run is not. The
    next hand-over must schedule the run, not take the key for a pending one (the rule changes made during
    the outage were never exported until the key expired, ten minutes later)."""
    from rq.registry import ScheduledJobRegistry

    with redis_app.app_context():
        queue = jobs.queue()
        queue.connection.set(jobs.debounce_key("export_rules"), "1", ex=600)  # landed, answer lost
        outbox.enqueue("export_rules")
        db.session.commit()
        jobs.dispatch()
        registry = ScheduledJobRegistry(queue=queue)
        assert registry.count == 1 and _waiting() == []
        outbox.enqueue("export_rules")  # a pending run now holds the key: no second one
        db.session.commit()
        jobs.dispatch()
        assert ScheduledJobRegistry(queue=queue).count == 1
