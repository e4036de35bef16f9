"""Relay diagnostics of platforms (seed 5.11.2, 5.11.5, 5.11.6): is each platform's relay, and its fallback,
reachable and speaking SMTP the way the gateway will use it?

- `diagnose(platform)` probes the main relay and the fallback at once (`integrations/relay_probe`) and answers
  the seed's report `{status, entries[{type, result, output[]}]}` with one entry per relay (`RELAY`,
  `RELAY_FALLBACK`); results are `schemas.relay_health.RelayResult`; `status` is false when an entry is an error
  (warnings leave it true). A saved relay the connection rules refuse is a finding (ERROR_RELAY_FORBIDDEN_TARGET);
  a configuration being tried that they refuse is bad input (400, naming the field).
- `run(principal, id)` runs now and keeps the report (`health.record(PLATFORM, …)`); `ask()` marks the platform
  running and asks for the `platform_health` job (pages); `last()` reads; `try_relay()` probes a configuration
  that is not saved and keeps nothing. `recheck_all()` (the scheduled job) probes the platforms of enabled
  domains, at most POSTERN_HEALTH_CONCURRENCY relays at once.
- Access: platforms belong to domains; HEALTH_RUN on the domain runs or tries, DOMAIN_READ reads (404 unless
  the domain is visible, 403 unless allowed: `Principal.reach`).
- Rate: a platform is checked at most once per RELAY_CHECK_INTERVAL seconds across processes (a claim on its
  report row, committed apart: 429 + Retry-After); an administrator tries at most RELAY_TRY_RATE_LIMIT
  configurations (the limiter's storage: Redis when configured).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, g
from limits import parse
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from .. import ids, outbox
from ..clock import utcnow
from ..errors import FieldError, Forbidden, Invalid, NotFound, TooManyRequests
from ..extensions import db, limiter
from ..integrations import mailserver, relay_probe
from ..integrations.relay_probe import Probe, Relay, TargetRefused
from ..models import Domain, HealthReport, Platform
from ..permissions import Permission
from ..schemas.relay_health import RelayCheckHealthDTO, RelayResult
from ..unit_of_work import apart
from ..words import Text, _l
from . import health, names
from .principal import Principal

RELAY, RELAY_FALLBACK = "RELAY", "RELAY_FALLBACK"
EXPIRY_WARNING = timedelta(days=14)
JOB = "platform_health"

_OUTCOMES: dict[str, RelayResult] = {
    "OK": RelayResult.OK, "UNRESOLVED": RelayResult.ERROR_RELAY_UNRESOLVED,
    "UNREACHABLE": RelayResult.ERROR_RELAY_UNREACHABLE, "TIMEOUT": RelayResult.ERROR_RELAY_TIMEOUT,
    "NOT_SMTP": RelayResult.ERROR_RELAY_NOT_SMTP, "EHLO_REFUSED": RelayResult.ERROR_RELAY_EHLO_REFUSED,
    "TLS_FAILED": RelayResult.ERROR_RELAY_TLS, "SENDER_REFUSED": RelayResult.ERROR_RELAY_SENDER_REFUSED,
    "RCPT_REFUSED": RelayResult.ERROR_RELAY_RCPT_REFUSED, "RCPT_DEFERRED": RelayResult.WARNING_RELAY_RCPT_DEFERRED,
    "ERROR": RelayResult.ERROR_RELAY,
}

# What to do about each result, in plain words (pages show it under a failing entry).
FIXES: dict[str, Text] = {
    RelayResult.ERROR_RELAY_FORBIDDEN_TARGET: _l(
        "Postern may not connect to this host or port: it is a local, private or reserved address, or a port "
        "outside the allowed ones. Use the relay's public name, or ask the system administrator to allow it."),
    RelayResult.ERROR_RELAY_UNRESOLVED: _l(
        "The host name does not exist in DNS. Check its spelling, or publish an A or AAAA record for it."),
    RelayResult.ERROR_RELAY_UNREACHABLE: _l(
        "Nothing answers on this host and port. Check that the mail server runs, that the port is right, and that "
        "its firewall lets the gateway in."),
    RelayResult.ERROR_RELAY_TIMEOUT: _l(
        "The server accepted the connection but did not finish the conversation in time. It may be overloaded, or a "
        "firewall or proxy may be holding the connection."),
    RelayResult.ERROR_RELAY_NOT_SMTP: _l(
        "The server did not greet as a mail server, or refused the gateway. Check the port, and allow the "
        "gateway's addresses to relay on the mail server."),
    RelayResult.ERROR_RELAY_EHLO_REFUSED: _l(
        "The server refused the gateway's greeting. Allow the gateway's addresses on the mail server."),
    RelayResult.ERROR_RELAY_TLS: _l(
        "The encrypted connection could not be made. “Always encrypted” uses TLS from the first byte (usually port "
        "465); for a server that offers STARTTLS choose “Encrypted when offered”, or fix the server's TLS setup."),
    RelayResult.ERROR_RELAY_SENDER_REFUSED: _l(
        "The server refuses mail with an empty sender: bounces and notices would be lost. Allow the empty sender "
        "from the gateway's addresses."),
    RelayResult.ERROR_RELAY_RCPT_REFUSED: _l(
        "The server refused the test address. Check that this mailbox exists on the server and that the server "
        "accepts mail for the domain from the gateway."),
    RelayResult.ERROR_RELAY: _l(
        "The server closed the connection or answered unexpectedly. Look at its logs for the gateway's address."),
    RelayResult.WARNING_RELAY_NO_TLS: _l(
        "The server does not offer STARTTLS: mail reaches it unencrypted. Enable TLS on the server."),
    RelayResult.WARNING_RELAY_TLS_FAILED: _l(
        "The server offers STARTTLS but the encrypted connection failed, so mail goes unencrypted. Fix the server's "
        "TLS setup (certificate, protocol versions)."),
    RelayResult.WARNING_RELAY_CERTIFICATE: _l(
        "The server's certificate is not valid for its name, not issued by a trusted authority, or about to expire. "
        "Mail still flows encrypted; renew or replace the certificate."),
    RelayResult.WARNING_RELAY_RCPT_DEFERRED: _l(
        "The server answered the test address with a temporary refusal. Try again later; if it lasts, check the "
        "server's queue and limits."),
}


# Pages' words for the results and entry types.
LABELS: dict[str, Text] = {
    RelayResult.OK: _l("Works"),
    RelayResult.ERROR_RELAY_FORBIDDEN_TARGET: _l("Address not allowed"),
    RelayResult.ERROR_RELAY_UNRESOLVED: _l("Host name not found"),
    RelayResult.ERROR_RELAY_UNREACHABLE: _l("Unreachable"),
    RelayResult.ERROR_RELAY_TIMEOUT: _l("No answer in time"),
    RelayResult.ERROR_RELAY_NOT_SMTP: _l("Not a mail server, or refused"),
    RelayResult.ERROR_RELAY_EHLO_REFUSED: _l("Greeting refused"),
    RelayResult.ERROR_RELAY_TLS: _l("Encryption failed"),
    RelayResult.ERROR_RELAY_SENDER_REFUSED: _l("Empty sender refused"),
    RelayResult.ERROR_RELAY_RCPT_REFUSED: _l("Test address refused"),
    RelayResult.ERROR_RELAY: _l("Unexpected answer"),
    RelayResult.WARNING_RELAY_NO_TLS: _l("Works, unencrypted"),
    RelayResult.WARNING_RELAY_TLS_FAILED: _l("Works, encryption failed"),
    RelayResult.WARNING_RELAY_CERTIFICATE: _l("Works, certificate problem"),
    RelayResult.WARNING_RELAY_RCPT_DEFERRED: _l("Test address deferred"),
    RELAY: _l("Relay"),
    RELAY_FALLBACK: _l("Fallback relay"),
}


@dataclass(frozen=True)
class Options:
    timeout: float
    allow_private: bool
    extra_ports: frozenset[int]
    ca_pem: str | None
    helo: str


def options() -> Options:
    config = current_app.config
    ca_pem = config.get("RELAY_CA_PEM")
    if not ca_pem and config.get("RELAY_CA_FILE"):
        with open(config["RELAY_CA_FILE"], encoding="utf-8") as fh:
            ca_pem = fh.read()
    helo = config.get("RELAY_HELO") or (config.get("GATEWAY_MX_HOSTS") or ["postern.localdomain"])[0]
    return Options(timeout=float(config.get("RELAY_TIMEOUT", 15)),
                   allow_private=bool(config["ALLOW_PRIVATE_TARGETS"]),
                   extra_ports=frozenset(config.get("MAILSERVER_PORTS") or ()), ca_pem=ca_pem or None, helo=helo)


def concurrency() -> int:
    """POSTERN_HEALTH_CONCURRENCY (config HEALTH_CONCURRENCY, shared with the domain diagnostics), default 16."""
    value = current_app.config.get("HEALTH_CONCURRENCY") or os.environ.get("POSTERN_HEALTH_CONCURRENCY") or 16
    return max(1, int(value))


# --- the report ---------------------------------------------------------------------------------------------

def relays_of(platform: Platform) -> list[tuple[str, Relay]]:
    found = [(RELAY, Relay(platform.transport_dest, platform.transport_port, platform.transport_type or "SMTP"))]
    if platform.fallback_transport_dest:
        found.append((RELAY_FALLBACK, Relay(
            platform.fallback_transport_dest, platform.fallback_transport_port or 25,
            platform.fallback_transport_type or platform.transport_type or "SMTP")))
    return found


def _date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def entry(kind: str, relay: Relay, found: Probe | TargetRefused, *, now: datetime | None = None) -> dict[str, Any]:
    """One HealthResult: the worst result seen, and what was tried, line by line (English, the seed's style)."""
    output = [f"Connection to {relay.host} port {relay.port} ({relay.transport})"]
    if isinstance(found, TargetRefused):
        output.append(f"Fail: {found.message.english()}")
        return {"type": kind, "result": RelayResult.ERROR_RELAY_FORBIDDEN_TARGET.value, "output": output}
    now = now or datetime.now(UTC)
    warnings: list[RelayResult] = []
    if found.address:
        output.append(f"Connected to {found.address}")
    if found.banner:
        output.append(f"Banner: {found.banner}")
    if found.starttls_offered is not None and relay.transport != "SMTPS_ENCRYPT":
        output.append("STARTTLS offered" if found.starttls_offered else "STARTTLS not offered")
        if relay.transport == "SMTPS_MAY" and not found.starttls_offered:
            warnings.append(RelayResult.WARNING_RELAY_NO_TLS)
    if found.tls_problem and found.outcome != "TLS_FAILED":
        output.append(f"TLS failed: {found.tls_problem}")
        warnings.append(RelayResult.WARNING_RELAY_TLS_FAILED)
    if found.tls_version:
        output.append(f"TLS: {found.tls_version}")
    cert = found.certificate
    if cert is not None:
        output.append(f"Certificate: subject {cert.subject}; issuer {cert.issuer}; valid until {_date(cert.not_after)}")
        output.append("Certificate names: " + (", ".join(cert.names) if cert.names else "(none)"))
        if cert.verified:
            output.append(f"Certificate verified for {relay.host}")
        else:
            output.append(f"Certificate not verified: {cert.problem or 'unknown reason'}")
        expiring = cert.not_after - now < EXPIRY_WARNING
        if expiring:
            output.append(f"Certificate expires on {_date(cert.not_after)}")
        if not cert.verified or expiring:
            warnings.append(RelayResult.WARNING_RELAY_CERTIFICATE)
    if found.rcpt is not None:
        output.append(f"Test address answer: {found.rcpt[0]} {found.rcpt[1]}")
    result = _OUTCOMES.get(found.outcome, RelayResult.ERROR_RELAY)
    if result == RelayResult.WARNING_RELAY_RCPT_DEFERRED:
        warnings.append(result)
    if not result.startswith("ERROR"):
        result = warnings[0] if warnings else RelayResult.OK
    output.append(f"Fail: {found.detail}" if result.startswith("ERROR") else
                  ("Warning: " + ", ".join(w.value for w in warnings) if warnings else "Success"))
    return {"type": kind, "result": result.value, "output": output}


def report_of(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"status": not any(e["result"].startswith("ERROR") for e in entries), "entries": entries}


def _probe_one(relay: Relay, opts: Options, test_address: str | None) -> Probe | TargetRefused:
    try:
        return relay_probe.probe(relay, timeout=opts.timeout, allow_private=opts.allow_private,
                                 extra_ports=opts.extra_ports, ca_pem=opts.ca_pem, helo=opts.helo,
                                 test_address=test_address)
    except TargetRefused as refused:
        return refused


def _probe_many(jobs: list[tuple[Relay, str | None]], opts: Options, workers: int) -> list[Probe | TargetRefused]:
    """Probe the relays at once, at most `workers` at a time (pure network: no database, no app context)."""
    if len(jobs) == 1:
        return [_probe_one(jobs[0][0], opts, jobs[0][1])]
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs))), thread_name_prefix="postern-relay") as pool:
        return list(pool.map(lambda job: _probe_one(job[0], opts, job[1]), jobs))


def diagnose(platform: Platform, *, test_address: str | None = None) -> dict[str, Any]:
    """The platform's report: its relay and fallback probed at once (the RCPT probe on each, when asked)."""
    relays = relays_of(platform)
    found = _probe_many([(relay, test_address) for _, relay in relays], options(), 2)
    return report_of([entry(kind, relay, result) for (kind, relay), result in zip(relays, found, strict=True)])


# --- access, rate ---------------------------------------------------------------------------------------------

def get(principal: Principal, pk: int, need: Permission) -> Platform:
    """A platform the principal may act on: 404 unless its domain is visible, 403 unless `need` is held there."""
    platform = db.session.get(Platform, pk)
    if platform is None:
        raise NotFound(_l("Platform does not exist."))
    principal.reach(platform.domain_id, need, missing=_l("Platform does not exist."))
    return platform


def _interval() -> float:
    return float(current_app.config.get("RELAY_CHECK_INTERVAL", 5))


def claim(platform_id: int) -> None:
    """One check of a platform per RELAY_CHECK_INTERVAL seconds, across processes: its report row's
    `requested_at`, moved forward by a conditional UPDATE committed apart; refused with a 429."""
    interval, now = _interval(), utcnow()
    table = HealthReport.__table__
    mine = and_(table.c.entity_type == health.PLATFORM, table.c.entity_id == platform_id)
    with apart() as conn:
        if conn.execute(select(table.c.id).where(mine)).first() is None:
            try:
                with conn.begin_nested():
                    conn.execute(insert(table).values(entity_type=health.PLATFORM, entity_id=platform_id,
                                                      state="done", requested_at=now))
                return
            except IntegrityError:
                pass  # made at the same moment by another request: its claim decides below
        claimed = conn.execute(update(table).where(mine, or_(
            table.c.requested_at.is_(None), table.c.requested_at <= now - timedelta(seconds=interval)))
            .values(requested_at=now)).rowcount
    if not claimed:
        error = TooManyRequests(_l("This relay was checked a moment ago: try again in a few seconds."))
        error.retry_after = max(1, round(interval))
        raise error


def _try_limit() -> None:
    """At most RELAY_TRY_RATE_LIMIT tries per administrator (default 10 per minute), Redis-backed when set."""
    principal: Principal | None = getattr(g, "principal", None)
    who = str(principal.admin.id) if principal is not None and principal.admin is not None else "anonymous"
    item = parse(str(current_app.config.get("RELAY_TRY_RATE_LIMIT") or "10 per minute"))
    if not limiter.enabled:
        return
    strategy = limiter.limiter
    if not strategy.hit(item, "postern-try-relay", who):
        reset = strategy.get_window_stats(item, "postern-try-relay", who).reset_time
        error = TooManyRequests(_l("Too many relay tries: try again in a minute."))
        error.retry_after = max(1, round(reset - time.time()))
        raise error


# --- running -----------------------------------------------------------------------------------------------

def _test_address(value: str | None, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    return names.address(value, field)


def run_platform(platform: Platform, *, test_address: str | None = None) -> bool:
    """Diagnose and keep the report as the platform's last; True when it has just started failing."""
    return health.record(health.PLATFORM, platform.id, diagnose(platform, test_address=test_address))


def run(principal: Principal, pk: int, *, test_address: str | None = None) -> dict[str, Any]:
    """POST /platforms/{id}/health: run now, keep, answer the EntityHealth."""
    platform = get(principal, pk, Permission.HEALTH_RUN)
    address = _test_address(test_address, "testAddress")
    claim(platform.id)
    run_platform(platform, test_address=address)
    answer = health.entity_health(health.last(health.PLATFORM, platform.id))
    assert answer is not None
    return answer


def ask(principal: Principal, pk: int, *, test_address: str | None = None) -> Platform:
    """A page's *Check relay*: mark the platform running and ask for the job (the page polls `status()`)."""
    platform = get(principal, pk, Permission.HEALTH_RUN)
    address = _test_address(test_address, "test_address")
    claim(platform.id)
    health.mark_running(health.PLATFORM, platform.id)
    outbox.enqueue(JOB, platform.id, address)
    return platform


def last(principal: Principal, pk: int) -> dict[str, Any] | None:
    """GET /platforms/{id}/health: the last EntityHealth, None when never run."""
    platform = get(principal, pk, Permission.DOMAIN_READ)
    return health.entity_health(health.last(health.PLATFORM, platform.id))


def running(row: HealthReport | None) -> bool:
    """Whether a page should show progress: a check was asked for and its job has not kept a report yet (a job
    that died is given up on after twice the relay deadline and a minute: the last report shows again)."""
    if row is None or row.state != "running" or row.requested_at is None:
        return False
    return utcnow() - row.requested_at < timedelta(seconds=2 * float(current_app.config.get("RELAY_TIMEOUT", 15)) + 60)


def status(principal: Principal, pk: int) -> tuple[Platform, HealthReport | None]:
    """What a page shows: the platform and its report row (state `running` while a job is on it)."""
    platform = get(principal, pk, Permission.DOMAIN_READ)
    return platform, health.last(health.PLATFORM, platform.id)


def reports_of_domain(principal: Principal, domain_id: int) -> dict[int, HealthReport]:
    """The last report row of each platform of a domain (by platform id), for the domain's page."""
    principal.reach(domain_id, Permission.DOMAIN_READ)
    rows = db.session.scalars(select(HealthReport).join(Platform, Platform.id == HealthReport.entity_id).where(
        HealthReport.entity_type == health.PLATFORM, Platform.domain_id == domain_id))
    return {row.entity_id: row for row in rows}


def _try_domain(principal: Principal, dto: RelayCheckHealthDTO) -> None:
    if dto.id:
        platform = db.session.get(Platform, ids.in_body(dto.id))
        if platform is None:
            raise Invalid.on("id", _l("No platform has this id."))
        try:
            principal.reach(platform.domain_id, Permission.HEALTH_RUN)
        except NotFound:
            raise Invalid.on("id", _l("No platform has this id.")) from None
    elif dto.domain_id:
        domain_id = ids.in_body(dto.domain_id)
        if db.session.get(Domain, domain_id) is None:
            raise Invalid.on("domainId", _l("No domain has this id."))
        try:
            principal.reach(domain_id, Permission.HEALTH_RUN)
        except NotFound:
            raise Invalid.on("domainId", _l("No domain has this id.")) from None
    elif not principal.holds_anywhere(Permission.HEALTH_RUN):
        principal.require_admin()
        raise Forbidden(_l("You need the %(permission)s permission.", permission=Permission.HEALTH_RUN))


def _refused(error: TargetRefused, host_field: str, port_field: str) -> Invalid:
    """A refused target of a tried configuration, naming the body's field."""
    fields = [FieldError(host_field if e.field == "host" else port_field, e.message) for e in error.errors]
    return Invalid(error.message, fields or [FieldError(host_field, error.message)])


def try_relay(principal: Principal, dto: RelayCheckHealthDTO) -> dict[str, Any]:
    """POST /health/try-relay: probe a configuration (saved or not) and answer an EntityHealth; nothing is kept.

    Bad input (a host that is no host, a forbidden address or port, a bad test address) is a 400 naming the
    field; what the relay does is in the report."""
    _try_domain(principal, dto)
    relays = [(RELAY, "transportDest", "transportPort",
               Relay(names.host(dto.transport_dest, "transportDest"), dto.transport_port, dto.transport_type.value))]
    if dto.fallback_transport_dest and dto.fallback_transport_dest.strip():
        relays.append((RELAY_FALLBACK, "fallbackTransportDest", "fallbackTransportPort", Relay(
            names.host(dto.fallback_transport_dest, "fallbackTransportDest"), dto.fallback_transport_port or 25,
            (dto.fallback_transport_type or dto.transport_type).value)))
    address = _test_address(dto.test_address, "testAddress")
    opts = options()
    for _, host_field, port_field, relay in relays:  # the rules first: a refused target costs no probe, no try
        try:
            mailserver.check_target(relay.host, relay.port, opts.allow_private, protocol="SMTP",
                                    extra_ports=opts.extra_ports)
        except TargetRefused as error:
            raise _refused(error, host_field, port_field) from None
    _try_limit()
    found = _probe_many([(relay, address) for *_, relay in relays], opts, 2)
    entries = [entry(kind, relay, result) for (kind, _, _, relay), result in zip(relays, found, strict=True)]
    for (_, host_field, port_field, _), result in zip(relays, found, strict=True):
        if isinstance(result, TargetRefused):  # the name resolved elsewhere between the two looks
            raise _refused(result, host_field, port_field)
    return {"performedAt": int(time.time()), "report": report_of(entries)}


# --- the scheduled re-check ---------------------------------------------------------------------------------

def enabled_ids() -> list[int]:
    """The platforms of the enabled domains, by id (the scheduled job splits them into batches)."""
    return list(db.session.scalars(select(Platform.id).join(Domain, Domain.id == Platform.domain_id)
                                   .where(Domain.status == "ENABLED").order_by(Platform.id)))


def recheck_all(*, on_failing: Callable[[Platform], None] | None = None,
                platform_ids: list[int] | None = None) -> dict[str, int]:
    """Probe every platform of the enabled domains (or those of `platform_ids`: a batch of the scheduled job; at
    most `concurrency()` relays at once) and keep each report; `on_failing` is called for a platform that has
    just started failing. Answers counts."""
    stmt = select(Platform).join(Domain, Domain.id == Platform.domain_id).where(Domain.status == "ENABLED")
    if platform_ids is not None:
        stmt = stmt.where(Platform.id.in_(platform_ids))
    platforms = list(db.session.scalars(stmt.order_by(Platform.id)))
    jobs = [(platform, kind, relay) for platform in platforms for kind, relay in relays_of(platform)]
    found = _probe_many([(relay, None) for _, _, relay in jobs], options(), concurrency())
    entries: dict[int, list[dict[str, Any]]] = {}
    for (platform, kind, relay), result in zip(jobs, found, strict=True):
        entries.setdefault(platform.id, []).append(entry(kind, relay, result))
    failing = 0
    for platform in platforms:
        report = report_of(entries.get(platform.id, []))
        failing += not report["status"]
        if health.record(health.PLATFORM, platform.id, report) and on_failing is not None:
            on_failing(platform)
    return {"platforms": len(platforms), "relays": len(jobs), "failing": failing}
