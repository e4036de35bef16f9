"""`flask --app app portal ...`: accounts, tokens, demo data, the RQ worker, housekeeping."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from rq import SimpleWorker

from . import demo, ids
from .errors import ServiceError
from .extensions import db
from .jobs import redis_connection, run_now, scheduler_loop
from .models import Admin
from .services import admins, tokens
from .services.principal import Principal, principal_for_admin
from .words import english

portal = AppGroup("portal", help="Postern administration commands.")


def _system_principal() -> Principal:
    """Who the command line acts as: the machine's operator, with every permission (never stored)."""
    return principal_for_admin(Admin(login="command line", sys_admin=True, enabled=True))


def _fail(error: ServiceError) -> None:
    db.session.rollback()
    detail = "; ".join(f"{e.field}: {english(e.message)}" for e in error.errors) or english(error.detail)
    click.echo(f"error: {detail}", err=True)
    sys.exit(1)


@portal.command("create-admin")
@click.option("--login", required=True)
@click.option("--email", required=True)
@click.option("--password", required=True, help="At least 10 characters.")
@click.option("--sysadmin", is_flag=True, help="Give the account every permission everywhere.")
def create_admin(login: str, email: str, password: str, sysadmin: bool) -> None:
    """Create an administrator account."""
    from pydantic import ValidationError

    from .schemas.validation import invalid_from_pydantic

    try:
        admin = admins.create_initial(login, email, password, sys_admin=sysadmin)
        db.session.commit()
    except ValidationError as exc:
        _fail(invalid_from_pydantic(exc))
    except ServiceError as error:
        _fail(error)
    click.echo(f"created admin {admin.login}" + (" (sysadmin)" if sysadmin else ""))


@portal.command("create-token")
@click.option("--login", required=True)
@click.option("--name", required=True)
@click.option("--days", type=click.IntRange(1, 3650), default=None, help="Expire after this many days.")
def create_token(login: str, name: str, days: int | None) -> None:
    """Create an API token; its value is printed on the last line, once."""
    from datetime import timedelta

    from .clock import utcnow

    admin = admins.find_by_login(login)
    if admin is None:
        click.echo(f"error: no admin with login {login!r}", err=True)
        sys.exit(1)
    try:
        _, value = tokens.issue(admin, name, utcnow() + timedelta(days=days) if days else None)
        db.session.commit()
    except ServiceError as error:
        _fail(error)
    click.echo(value)


@portal.command("create-customer")
@click.argument("name")
@click.option("--broker", "broker_name", default=None, help="The broker (created when missing); default: NAME")
def create_customer(name: str, broker_name: str | None) -> None:
    """Create a customer (and its broker) so that domains can be created for it."""
    from sqlalchemy import func, select

    from .models import Broker
    from .services import customers

    sysadmin = _system_principal()
    broker_name = broker_name or name
    try:
        broker = db.session.scalar(select(Broker).where(func.lower(Broker.name) == broker_name.strip().lower())) \
            or customers.create_broker(sysadmin, broker_name)
        customer = customers.create_customer(sysadmin, broker.id, name)
        db.session.commit()
    except ServiceError as error:
        _fail(error)
    click.echo(f"customer {customer.name!r} of broker {broker.name!r}: id {ids.encode(customer.id)}")


@portal.command("seed-demo")
def seed_demo() -> None:
    """Create (once) the demo broker, customer, domains, admins and users; print the logins."""
    logins = demo.seed()
    db.session.commit()
    click.echo(f"Demo logins (password for all: {demo.PASSWORD}):")
    for login, role in logins:
        click.echo(f"  {login:<24} {role}")


@portal.command("purge-tokens")
@click.option("--days", type=click.IntRange(0, 3650), default=30)
def purge_tokens(days: int) -> None:
    """Delete API tokens expired for more than DAYS days."""
    click.echo(f"removed {run_now('purge_expired_tokens', days)} expired token(s)")


@portal.command("export-rules")
@click.argument("directory", required=False)
def export_rules_command(directory: str | None) -> None:
    """Write the effective rules for the filtering engine into DIRECTORY (default POSTERN_EXPORT_DIR)."""
    changed = run_now("export_rules", directory)
    click.echo(f"{len(changed)} file(s) changed" + (": " + ", ".join(changed) if changed else ""))


@portal.command("purge-domains")
def purge_domains() -> None:
    """Remove for good the deleted domains whose purge date has passed (also an RQ job)."""
    removed = run_now("purge_due_domains")
    click.echo(f"purged {len(removed)} domain(s)" + (": " + ", ".join(removed) if removed else ""))


@portal.command("check-dkim-rotations")
def check_dkim_rotations() -> None:
    """Activate the pending DKIM keys that DNS now serves (also the hourly job dkim_rotations)."""
    outcomes = run_now("dkim_rotations")
    for name, outcome in sorted(outcomes.items()):
        click.echo(f"{name}: {outcome}")
    click.echo(f"{len(outcomes)} pending rotation(s) checked")


@portal.command("statistics")
@click.option("--day", help="The day to count (YYYY-MM-DD; default yesterday). Counting a day again replaces it.")
def collect_statistics(day: str | None) -> None:
    """Count the held mail of a day from every enabled domain's stores, here and now (also the daily job)."""
    from datetime import date, timedelta

    from .clock import utcnow
    from .services import statistics

    try:
        when = date.fromisoformat(day) if day else utcnow().date() - timedelta(days=1)
    except ValueError:
        click.echo("--day: give a date as YYYY-MM-DD", err=True)
        sys.exit(2)
    domain_ids = statistics.domain_ids()
    db.session.rollback()
    result = run_now("collect_statistics_batch", domain_ids, when.isoformat())
    click.echo(f"{when.isoformat()}: {result['held']} held message(s) in {len(domain_ids)} domain(s)")
    for mailbox, why in sorted(result["failed"].items()):
        click.echo(f"skipped {mailbox}: {why}", err=True)


@portal.command("purge-statistics")
def purge_statistics() -> None:
    """Delete the statistics older than POSTERN_STATS_RETENTION_DAYS (also a daily job)."""
    click.echo(f"removed {run_now('purge_statistics')} row(s)")


@portal.command("send-digests")
@click.option("--user", "email", help="Only this user's digest (sent now for the current period, even before its "
                                      "time of day).")
def send_digests(email: str | None) -> None:
    """Send the quarantine digests that are due, here and now (never twice for the same period)."""
    from .clock import utcnow
    from .services import digest, mailboxes

    now = utcnow()
    if email:
        try:
            user = mailboxes.find_user(email.strip())
        except ServiceError as error:
            _fail(error)
            return
        settings = digest.settings_of(user)
        if settings.frequency == "NEVER":
            click.echo(f"{user.email}: the digest is off (DIGEST_FREQUENCY=NEVER); nothing sent")
            return
        todo = [(user.id, digest.period(settings, now) or digest.current_period(settings, now))]
    else:
        todo = digest.due(now)
        db.session.rollback()
    sent = 0
    for user_id, period in todo:
        result = run_now("send_digest", user_id, period)
        sent += result["state"] == "sent"
        click.echo(f"user {ids.encode(user_id)} {period}: {result['state']}"
                   + (f", {result['listed']} message(s), {result['messageId']}" if result["state"] == "sent" else ""))
    click.echo(f"{sent} digest(s) sent")


def _need_redis(what: str) -> None:
    if not current_app.config.get("REDIS_URL"):
        click.echo(f"error: set REDIS_URL to run {what} (without it jobs run in-process)", err=True)
        sys.exit(1)


@portal.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker with the application context (needs REDIS_URL).

    A SimpleWorker runs jobs in this process, so they share its app context and database pool
    (a forking worker would hand pooled connections to its children); run several for parallelism.
    It starts no child process: delayed and periodic jobs are the scheduler's (`portal scheduler`)."""
    _need_redis("a worker")
    SimpleWorker([current_app.config["RQ_QUEUE"]], connection=redis_connection()).work(
        burst=burst, with_scheduler=False)


@portal.command("scheduler")
@click.option("--interval", type=click.FloatRange(0.2, 60), default=1.0, show_default=True,
              help="Seconds between two rounds.")
def scheduler(interval: float) -> None:
    """Hand waiting outbox jobs to RQ, move delayed jobs to the queue when due, enqueue the periodic
    housekeeping. One process, no children; several may run (they share RQ's locks)."""
    _need_redis("the scheduler")
    scheduler_loop(interval)


def init_app(app: Flask) -> None:
    app.cli.add_command(portal)
