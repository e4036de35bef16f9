"""Domain diagnostics (seed 5.11): is the domain's DNS wired to this gateway, and how to fix what is not.

`diagnose(principal, pk)` runs the checks of one domain now and keeps the report (`services.health.record`, the
one home of reports); the `domain_health` job does the same for one domain, `check_all` (the scheduled job) for
every enabled domain with a bounded pool. Each check is one entry `{type, result, output}` in the seed's shape:

- MX: the domain's MX hosts are exactly among POSTERN_GATEWAY_MX_HOSTS (`ERROR_MX_INVALID_ENTRY` names them as
  the seed's "Required: ..."); without configured gateway hosts, any MX passes.
- DKIM: the domain's active key (`dkim_keys`, state active) is published at `<selector>._domainkey.<name>` with
  the stored public key; no stored key is `WARNING_DKIM_NOT_CONFIGURED`.
- SPF: one `v=spf1` record; it authorizes the gateway — `include:<POSTERN_GATEWAY_SPF_INCLUDE>` when that is
  set, else (with gateway MX hosts) the `mx` mechanism or `a:<gateway host>` — and `include:<spf_provider>` of
  each active outgoing provider of the domain; at most 10 mechanisms that cost a DNS lookup (include, a, mx,
  ptr, exists, redirect), counted through includes and redirects down to MAX_SPF_DEPTH.
- DMARC: one `v=DMARC1` record at `_dmarc.<name>` with a valid policy; `p=none` and a missing `rua` are warnings.
- MTA_STS: the `_mta-sts.<name>` TXT record `v=STSv1; id=<1-32 letters or digits>` (the HTTPS policy file is
  not fetched); none is a warning (MTA-STS is optional), a malformed one an error.
- TLSRPT: the `_smtp._tls.<name>` TXT record `v=TLSRPTv1; rua=<mailto: or https: URIs>`; none is a warning.

A DNS timeout or SERVFAIL is `ERROR_DNS_UNAVAILABLE` for the entries it touched, within POSTERN_DNS_TIMEOUT.
The report fails (`status` false) when an entry's result starts with `ERROR`. Output lines are English and
stable for the API; pages build their translated advice from the result codes (`RESULTS`, `fixes`).
The lookups of one domain run at once on threads, so a domain costs about one DNS round trip (SPF includes
are followed after the first answer). Threads get plain values (`Target`), never the database session.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import dns.resolver
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import outbox
from ..errors import NotFound, Unavailable
from ..extensions import db
from ..integrations import dkim_keys
from ..integrations import dns as dnsq
from ..models import DkimKey, Domain
from ..permissions import Permission
from ..schemas.health import CheckType, Result
from ..words import Text, _l
from . import dkim, health
from .principal import Principal

MAX_SPF_LOOKUPS = 10  # RFC 7208 4.6.4
MAX_SPF_DEPTH = 10  # includes followed at most this deep (a loop or a long chain stops here)
LOOKUP_MECHANISMS = ("include", "a", "mx", "ptr", "exists")


def failing(result: str) -> bool:
    return result.startswith("ERROR")


# --- what the checks need, read from the database before the threads start ----------------------------------

@dataclass(frozen=True)
class Target:
    domain_id: int
    name: str
    dkim_selector: str | None = None
    dkim_public_key: str | None = None
    providers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    mx_hosts: tuple[str, ...] = ()
    spf_include: str | None = None


def settings() -> Settings:
    return Settings(tuple(current_app.config.get("GATEWAY_MX_HOSTS") or ()),
                    (current_app.config.get("GATEWAY_SPF_INCLUDE") or "").strip().lower().rstrip(".") or None)


def target_of(domain: Domain, key: DkimKey | None) -> Target:
    return Target(domain.id, domain.name, key.selector if key else None, key.public_key if key else None,
                  tuple(p.spf_provider.lower().rstrip(".") for p in domain.outgoing_providers if p.active))


# --- the checks: plain functions of DNS answers --------------------------------------------------------------

@dataclass
class Entry:
    type: CheckType
    result: Result
    output: list[str] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        return {"type": str(self.type), "result": str(self.result), "output": list(self.output)}


def _lookup_line(kind: str, name: str) -> str:
    return f"Lookup for {kind} entry in DNS for {name}"


def _passed() -> list[str]:
    return ["Passed"]


def _unavailable(kind: CheckType, label: str, name: str, error: Unavailable) -> Entry:
    return Entry(kind, Result.ERROR_DNS_UNAVAILABLE, [_lookup_line(label, name), f"Fail: {error.detail}"])


def check_mx(target: Target, found: list[str], conf: Settings) -> Entry:
    lookup = _lookup_line("MX", target.name)
    if not found:
        return Entry(CheckType.MX, Result.ERROR_MX_MISSING_ENTRY, [lookup, "Fail: No MX entry found"])
    if conf.mx_hosts and not set(found) <= set(conf.mx_hosts):
        return Entry(CheckType.MX, Result.ERROR_MX_INVALID_ENTRY,
                     [lookup, f"Found: {', '.join(found)}", f"Required: {', '.join(conf.mx_hosts)}", "Fail"])
    return Entry(CheckType.MX, Result.OK, _passed())


def _tags(record: str) -> dict[str, str]:
    """`k=v; k=v` tag lists (DKIM, DMARC, MTA-STS, TLSRPT); names lower-case, values stripped."""
    tags: dict[str, str] = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            tags.setdefault(name.strip().lower(), value.strip())
    return tags


def check_dkim(target: Target, records: list[str]) -> Entry:
    """One rule with the DKIM rotation's (`dkim_keys.serves_exactly`): DNS serves this key and no other."""
    lookup = _lookup_line("dkim", target.name)
    served = dkim_keys.served_keys(records)
    if not served:
        return Entry(CheckType.DKIM, Result.ERROR_DKIM_MISSING_ENTRY, [
            lookup, f'Fail: DKIM DNS entry not found for domain "{target.name}" and selector "{target.dkim_selector}"'])
    if not dkim_keys.serves_exactly(served, target.dkim_public_key or ""):
        return Entry(CheckType.DKIM, Result.ERROR_DKIM_INVALID_COUPLE,
                     [lookup, "Fail: DKIM key defined in DNS does not match with private part"])
    return Entry(CheckType.DKIM, Result.OK, _passed())


def _is_spf(record: str) -> bool:
    return record.lower() == "v=spf1" or record.lower().startswith("v=spf1 ")


def _terms(record: str) -> list[str]:
    return [t for t in record.split()[1:] if t]


def _mechanism(term: str) -> tuple[str, str]:
    """(`include`, `spf.example`) for `+include:spf.example`; modifiers as (`redirect`, value)."""
    term = term.lstrip("+-~?").lower()
    if "=" in term and ":" not in term.split("=", 1)[0]:
        name, _, value = term.partition("=")
        return name, value
    name, _, value = term.partition(":")
    return name.split("/", 1)[0], value


def count_spf_lookups(record: str, fetch: Callable[[str], list[str]], depth: int = 0,
                      seen: set[str] | None = None) -> tuple[int, list[str]]:
    """The DNS-lookup mechanisms of an SPF record, through its includes and redirect (at most MAX_SPF_DEPTH deep;
    a name already followed counts without being followed again); and notes on what could not be followed."""
    seen = set() if seen is None else seen
    count, notes = 0, []
    for term in _terms(record):
        name, value = _mechanism(term)
        if name not in (*LOOKUP_MECHANISMS, "redirect"):
            continue
        count += 1
        if name not in ("include", "redirect") or not value:
            continue
        if count > MAX_SPF_LOOKUPS:
            break
        if value in seen or depth >= MAX_SPF_DEPTH:
            continue
        seen.add(value)
        nested = [r for r in fetch(value) if _is_spf(r)]
        if len(nested) != 1:
            notes.append(f"{name}:{value} has {'no' if not nested else 'more than one'} SPF record")
            continue
        more, more_notes = count_spf_lookups(nested[0], fetch, depth + 1, seen)
        count += more
        notes += more_notes
    return count, notes


def check_spf(target: Target, records: list[str], conf: Settings, fetch: Callable[[str], list[str]]) -> Entry:
    lookup = _lookup_line("SPF", target.name)
    spf = [r for r in records if _is_spf(r)]
    if not spf:
        return Entry(CheckType.SPF, Result.ERROR_SPF_MISSING_ENTRY, [lookup, "Fail: No SPF entry found"])
    if len(spf) > 1:
        return Entry(CheckType.SPF, Result.ERROR_SPF_MULTIPLE_ENTRIES,
                     [lookup, f"Fail: {len(spf)} SPF entries found, there must be one", *spf])
    record = spf[0]
    terms = [_mechanism(t) for t in _terms(record)]
    problems: list[tuple[Result, str]] = []
    count, notes = count_spf_lookups(record, fetch)
    if count > MAX_SPF_LOOKUPS:
        problems.append((Result.ERROR_SPF_TOO_MANY_LOOKUPS,
                         f"Fail: {count} DNS lookups, at most {MAX_SPF_LOOKUPS} are allowed"))
    includes = {value for name, value in terms if name == "include"}
    if conf.spf_include and conf.spf_include not in includes:
        problems.append((Result.ERROR_SPF_GATEWAY_MISSING, f"Fail: include:{conf.spf_include} is missing"))
    elif not conf.spf_include and conf.mx_hosts and not any(
            (name == "mx" and not value) or (name == "a" and value in conf.mx_hosts) for name, value in terms):
        problems.append((Result.ERROR_SPF_GATEWAY_MISSING, "Fail: the gateway (mx) is missing"))
    for provider in target.providers:
        if provider not in includes:
            problems.append((Result.ERROR_SPF_PROVIDER_MISSING, f"Fail: include:{provider} is missing"))
    if not problems:
        return Entry(CheckType.SPF, Result.OK, _passed())
    return Entry(CheckType.SPF, problems[0][0], [lookup, f"Found: {record}", *notes, *(p[1] for p in problems)])


def _one(records: list[str], version: str) -> list[str]:
    return [r for r in records if re.match(rf"\s*v\s*=\s*{version}\s*(;|$)", r, re.IGNORECASE)]


def check_dmarc(target: Target, records: list[str]) -> Entry:
    name = f"_dmarc.{target.name}"
    lookup = _lookup_line("DMARC", name)
    found = _one(records, "DMARC1")
    if not found:
        return Entry(CheckType.DMARC, Result.ERROR_DMARC_MISSING_ENTRY, [lookup, "Fail: No DMARC entry found"])
    if len(found) > 1:
        return Entry(CheckType.DMARC, Result.ERROR_DMARC_INVALID_ENTRY,
                     [lookup, f"Fail: {len(found)} DMARC entries found, there must be one"])
    tags = _tags(found[0])
    policy = tags.get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        return Entry(CheckType.DMARC, Result.ERROR_DMARC_INVALID_ENTRY,
                     [lookup, f"Found: {found[0]}", "Fail: the policy (p=) must be none, quarantine or reject"])
    if policy == "none":
        return Entry(CheckType.DMARC, Result.WARNING_DMARC_POLICY_NONE,
                     [lookup, f"Found: {found[0]}", "Warning: p=none only monitors, it protects nothing"])
    if not tags.get("rua"):
        return Entry(CheckType.DMARC, Result.WARNING_DMARC_NO_REPORTING,
                     [lookup, f"Found: {found[0]}", "Warning: no reporting address (rua=)"])
    return Entry(CheckType.DMARC, Result.OK, _passed())


def check_mta_sts(target: Target, records: list[str]) -> Entry:
    name = f"_mta-sts.{target.name}"
    lookup = _lookup_line("MTA-STS", name)
    found = _one(records, "STSv1")
    if not found:
        return Entry(CheckType.MTA_STS, Result.WARNING_MTA_STS_MISSING_ENTRY,
                     [lookup, "Warning: No MTA-STS entry found"])
    if len(found) > 1 or not re.fullmatch(r"[A-Za-z0-9]{1,32}", _tags(found[0]).get("id", "")):
        return Entry(CheckType.MTA_STS, Result.ERROR_MTA_STS_INVALID_ENTRY,
                     [lookup, *(f"Found: {r}" for r in found),
                      "Fail: there must be one entry v=STSv1; id=<1 to 32 letters or digits>"])
    return Entry(CheckType.MTA_STS, Result.OK, _passed())


def check_tlsrpt(target: Target, records: list[str]) -> Entry:
    name = f"_smtp._tls.{target.name}"
    lookup = _lookup_line("TLSRPT", name)
    found = _one(records, "TLSRPTv1")
    if not found:
        return Entry(CheckType.TLSRPT, Result.WARNING_TLSRPT_MISSING_ENTRY, [lookup, "Warning: No TLSRPT entry found"])
    uris = [u.strip() for u in _tags(found[0]).get("rua", "").split(",") if u.strip()]
    if len(found) > 1 or not uris or not all(u.lower().startswith(("mailto:", "https:")) for u in uris):
        return Entry(CheckType.TLSRPT, Result.ERROR_TLSRPT_INVALID_ENTRY,
                     [lookup, *(f"Found: {r}" for r in found),
                      "Fail: there must be one entry v=TLSRPTv1; rua=<mailto: or https: addresses>"])
    return Entry(CheckType.TLSRPT, Result.OK, _passed())


# --- running them -------------------------------------------------------------------------------------------

LABELS = {CheckType.MX: "MX", CheckType.DKIM: "dkim", CheckType.SPF: "SPF", CheckType.DMARC: "DMARC",
          CheckType.MTA_STS: "MTA-STS", CheckType.TLSRPT: "TLSRPT"}


def _names(target: Target) -> dict[CheckType, str]:
    return {CheckType.MX: target.name, CheckType.DKIM: f"{target.dkim_selector}._domainkey.{target.name}",
            CheckType.SPF: target.name, CheckType.DMARC: f"_dmarc.{target.name}",
            CheckType.MTA_STS: f"_mta-sts.{target.name}", CheckType.TLSRPT: f"_smtp._tls.{target.name}"}


def evaluate(target: Target, conf: Settings, resolver: dns.resolver.Resolver, pool: Executor,
             includes: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The report of one domain: its lookups submitted to `pool` at once, the checks run on the answers.
    `includes`: answers of SPF includes shared by a run over many domains (the gateway's and the providers'
    includes are the same for all: asked once per run, not once per domain); failures are not kept."""
    names = _names(target)

    def fetch(name: str) -> list[str]:
        return dnsq.txt(name, resolver)

    def fetch_include(name: str) -> list[str]:
        if includes is None:
            return fetch(name)
        if name not in includes:
            includes[name] = fetch(name)  # two threads may both ask: the same answer, kept once
        return includes[name]

    def run(kind: CheckType) -> Entry:
        name = names[kind]
        try:
            if kind == CheckType.MX:
                return check_mx(target, dnsq.mx_hosts(name, resolver), conf)
            if kind == CheckType.DKIM:
                return check_dkim(target, fetch(name))
            if kind == CheckType.SPF:
                return check_spf(target, fetch(name), conf, fetch_include)
            if kind == CheckType.DMARC:
                return check_dmarc(target, fetch(name))
            if kind == CheckType.MTA_STS:
                return check_mta_sts(target, fetch(name))
            return check_tlsrpt(target, fetch(name))
        except Unavailable as error:
            return _unavailable(kind, LABELS[kind], target.name if kind in (CheckType.MX, CheckType.DKIM,
                                                                            CheckType.SPF) else name, error)

    kinds = [k for k in CheckType if k != CheckType.DKIM or target.dkim_selector]
    futures: dict[CheckType, Future[Entry]] = {kind: pool.submit(run, kind) for kind in kinds}
    entries = []
    for kind in CheckType:
        if kind in futures:
            entries.append(futures[kind].result())
        else:
            entries.append(Entry(CheckType.DKIM, Result.WARNING_DKIM_NOT_CONFIGURED,
                                 [_lookup_line("dkim", target.name), "Warning: no DKIM key is stored for the domain"]))
    return report_of(entries)


def report_of(entries: Iterable[Entry]) -> dict[str, Any]:
    wired = [e.wire() for e in entries]
    return {"status": not any(failing(e["result"]) for e in wired), "entries": wired}


def _load(domain_ids: list[int] | None = None, *, enabled_only: bool = False) -> list[Target]:
    stmt = select(Domain).options(selectinload(Domain.outgoing_providers)).order_by(Domain.id)
    if domain_ids is not None:
        stmt = stmt.where(Domain.id.in_(domain_ids))
    if enabled_only:
        stmt = stmt.where(Domain.status == "ENABLED")
    domains = list(db.session.scalars(stmt))
    keys = {k.domain_id: k for k in db.session.scalars(select(DkimKey).where(
        DkimKey.state == "active", DkimKey.domain_id.in_([d.id for d in domains])))} if domains else {}
    return [target_of(d, keys.get(d.id)) for d in domains]


def _keep(target: Target, report: dict[str, Any]) -> bool:
    """Record the report; a domain that has just started failing gets its notice asked for (once: claimed)."""
    started = health.record(health.DOMAIN, target.domain_id, report)
    if started:
        outbox.enqueue("notify_domain_health", target.domain_id)
    return started


def check_one(domain_id: int) -> dict[str, Any] | None:
    """Diagnose one domain and keep the report (the job's work); None when the domain is gone."""
    targets = _load([domain_id])
    if not targets:
        return None
    with ThreadPoolExecutor(max_workers=len(CheckType)) as pool:
        report = evaluate(targets[0], settings(), dnsq.resolver(), pool)
    _keep(targets[0], report)
    return report


def enabled_ids() -> list[int]:
    """The enabled domains, by id (the scheduled job splits them into batches)."""
    return list(db.session.scalars(select(Domain.id).where(Domain.status == "ENABLED").order_by(Domain.id)))


def check_all(concurrency: int | None = None, domain_ids: list[int] | None = None) -> dict[str, int]:
    """Diagnose the enabled domains (all, or those of `domain_ids`: a batch of the scheduled job): lookups on a
    pool of POSTERN_HEALTH_CONCURRENCY threads, reports recorded here (one session); returns how many were
    checked, failing and newly failing."""
    workers = max(1, int(concurrency or current_app.config.get("HEALTH_CONCURRENCY", 16)))
    targets = _load(domain_ids, enabled_only=True)
    conf, resolver, includes = settings(), dnsq.resolver(), {}
    # Two pools: one evaluation per domain at a time in `outer` (bounded), its lookups in `inner`.
    with ThreadPoolExecutor(max_workers=workers) as outer, \
            ThreadPoolExecutor(max_workers=workers * len(CheckType)) as inner:
        reports = list(outer.map(lambda t: evaluate(t, conf, resolver, inner, includes), targets))
    started = health.record_many(health.DOMAIN, {t.domain_id: r for t, r in zip(targets, reports, strict=True)})
    for domain_id in started:
        outbox.enqueue("notify_domain_health", domain_id)
    return {"checked": len(targets), "failing": sum(not r["status"] for r in reports), "startedFailing": len(started)}


def diagnose(principal: Principal, domain_pk: int) -> dict[str, Any]:
    """Run the domain's checks now (API POST, rate-limited per domain) and keep the report; the EntityHealth."""
    principal.reach(domain_pk, Permission.HEALTH_RUN,
                    missing=_l("Domain does not exist."), refused=_l("You may not run diagnostics on this domain."))
    health.claim_run(health.DOMAIN, domain_pk, float(current_app.config.get("HEALTH_RUN_INTERVAL", 10)))
    if check_one(domain_pk) is None:
        raise NotFound(_l("Domain does not exist."))
    return health.entity_health(health.last(health.DOMAIN, domain_pk)) or {}


def request_run(principal: Principal, domain_pk: int) -> None:
    """The page's *Run now*: rate-limited like the API, marked running, the `domain_health` job asked for."""
    principal.reach(domain_pk, Permission.HEALTH_RUN,
                    missing=_l("Domain does not exist."), refused=_l("You may not run diagnostics on this domain."))
    health.claim_run(health.DOMAIN, domain_pk, float(current_app.config.get("HEALTH_RUN_INTERVAL", 10)))
    health.mark_running(health.DOMAIN, domain_pk)
    outbox.enqueue("domain_health", domain_pk)


def last(principal: Principal, domain_pk: int) -> dict[str, Any] | None:
    """The last EntityHealth of a domain the principal may see (None: never diagnosed)."""
    principal.reach(domain_pk, Permission.DOMAIN_READ, seen_with=Permission.DOMAIN_READ,
                    missing=_l("Domain does not exist."))
    return health.entity_health(health.last(health.DOMAIN, domain_pk))


# --- advice for pages: from the result codes, in the reader's language ------------------------------------------

@dataclass(frozen=True)
class Record:
    """A DNS record to publish: type, owner name, value."""

    kind: str
    type: str
    name: str
    value: str
    note: Text | None = None


def contact_of(domain: Domain) -> str | None:
    """The domain's DOMAIN_ADMIN option (its contact), if set."""
    from . import options

    return options.effective(options.domain_chain(domain), "DOMAIN_ADMIN")


def records_to_publish(domain: Domain) -> list[Record]:
    """What the domain's DNS should hold for this gateway: MX, SPF, DKIM (stored keys), DMARC, MTA-STS, TLSRPT."""
    conf = settings()
    target = target_of(domain, None)
    contact = contact_of(domain) or f"postmaster@{domain.name}"
    records = [Record("MX", "MX", f"{domain.name}.", f"{10 * (n + 1)} {host}.") for n, host in enumerate(conf.mx_hosts)]
    if not conf.mx_hosts:
        records.append(Record("MX", "MX", f"{domain.name}.", "10 <gateway>.",
                              _l("The gateway's MX hosts are not configured (POSTERN_GATEWAY_MX_HOSTS).")))
    gateway = f"include:{conf.spf_include}" if conf.spf_include else "mx"
    spf = " ".join(["v=spf1", gateway, *(f"include:{p}" for p in target.providers), "-all"])
    records.append(Record("SPF", "TXT", f"{domain.name}.", spf))
    for key in dkim.public_keys(domain):
        records.append(Record("DKIM", "TXT", f"{dkim.record_name(key.selector, domain.name)}.", dkim.record_value(key),
                              _l("Rotation: publish it now, it signs once DNS serves it.")
                              if key.state == "pending" else None))
    records.append(Record("DMARC", "TXT", f"_dmarc.{domain.name}.", f"v=DMARC1; p=quarantine; rua=mailto:{contact}"))
    records.append(Record("MTA_STS", "TXT", f"_mta-sts.{domain.name}.", f"v=STSv1; id={_sts_id()}",
                          _l("Also serve the policy at https://mta-sts.%(name)s/.well-known/mta-sts.txt, and change "
                             "the id whenever the policy changes.", name=domain.name)))
    records.append(Record("TLSRPT", "TXT", f"_smtp._tls.{domain.name}.", f"v=TLSRPTv1; rua=mailto:{contact}"))
    return records


def mta_sts_policy(domain: Domain) -> str:
    hosts = settings().mx_hosts or ("<gateway>",)
    return "version: STSv1\nmode: enforce\n" + "".join(f"mx: {h}\n" for h in hosts) + "max_age: 604800\n"


def _sts_id() -> str:
    from ..clock import utcnow

    return utcnow().strftime("%Y%m%d01")


ADVICE: dict[str, Text] = {
    Result.OK: _l("Nothing to do."),
    Result.ERROR: _l("The check failed: run it again; if it keeps failing, ask your provider."),
    Result.ERROR_DNS_UNAVAILABLE: _l("DNS did not answer in time: run the check again in a few minutes. If it keeps "
                                     "failing, the domain's name servers may be down."),
    Result.ERROR_MX_MISSING_ENTRY: _l("The domain receives no mail through this gateway: publish these MX records."),
    Result.ERROR_MX_INVALID_ENTRY: _l("Some mail bypasses this gateway: keep only these MX records and remove the "
                                      "others."),
    Result.ERROR_DKIM_MISSING_ENTRY: _l("Publish this TXT record so that receivers can check the domain's "
                                        "signatures."),
    Result.ERROR_DKIM_INVALID_COUPLE: _l("The key in DNS is not the domain's key: replace the TXT record with this "
                                         "one."),
    Result.WARNING_DKIM_NOT_CONFIGURED: _l("The domain has no DKIM key: create one on the DKIM tab, then publish "
                                           "its record."),
    Result.ERROR_SPF_MISSING_ENTRY: _l("Publish this TXT record so that receivers know who may send for the "
                                       "domain."),
    Result.ERROR_SPF_MULTIPLE_ENTRIES: _l("A domain may have only one SPF record: merge them into this one and "
                                          "remove the others."),
    Result.ERROR_SPF_TOO_MANY_LOOKUPS: _l("The SPF record needs more than 10 DNS lookups, so receivers reject it: "
                                          "remove includes you no longer use, or replace some with ip4:/ip6: "
                                          "ranges."),
    Result.ERROR_SPF_GATEWAY_MISSING: _l("Mail sent through this gateway fails SPF: replace the SPF record with "
                                         "this one."),
    Result.ERROR_SPF_PROVIDER_MISSING: _l("Mail sent through the domain's outgoing providers fails SPF: replace the "
                                          "SPF record with this one."),
    Result.ERROR_DMARC_MISSING_ENTRY: _l("Publish this TXT record so that receivers know what to do with forged "
                                         "mail."),
    Result.ERROR_DMARC_INVALID_ENTRY: _l("The DMARC record is not valid: replace it with this one."),
    Result.WARNING_DMARC_POLICY_NONE: _l("The DMARC policy only monitors: once the reports look right, change p=none "
                                         "to p=quarantine or p=reject."),
    Result.WARNING_DMARC_NO_REPORTING: _l("Add a reporting address (rua=) to the DMARC record to receive reports."),
    Result.WARNING_MTA_STS_MISSING_ENTRY: _l("Optional: publish this TXT record and the policy file so that senders "
                                             "deliver to the domain over TLS only."),
    Result.ERROR_MTA_STS_INVALID_ENTRY: _l("The MTA-STS record is not valid: replace it with this one."),
    Result.WARNING_TLSRPT_MISSING_ENTRY: _l("Optional: publish this TXT record to receive reports about TLS "
                                            "failures."),
    Result.ERROR_TLSRPT_INVALID_ENTRY: _l("The TLSRPT record is not valid: replace it with this one."),
}

CHECK_LABELS: dict[str, Text] = {
    CheckType.MX: _l("Mail exchangers (MX)"), CheckType.DKIM: _l("DKIM signature key"),
    CheckType.SPF: _l("Allowed senders (SPF)"), CheckType.DMARC: _l("DMARC policy"),
    CheckType.MTA_STS: _l("Enforced TLS (MTA-STS)"), CheckType.TLSRPT: _l("TLS reports (TLSRPT)"),
}


@dataclass(frozen=True)
class Fix:
    type: str
    label: Text
    result: str
    level: str  # ok | warning | error
    advice: Text
    records: list[Record]


def fixes(domain: Domain, report: dict[str, Any] | None) -> list[Fix]:
    """Each entry of a report with its plain-language advice and the records it asks for."""
    if not report:
        return []
    suggested = records_to_publish(domain)
    out = []
    for entry in report.get("entries", []):
        result = str(entry.get("result", "ERROR"))
        kind = str(entry.get("type", ""))
        level = "ok" if result == Result.OK else "error" if failing(result) else "warning"
        wanted = [] if level == "ok" or result in (Result.ERROR_DNS_UNAVAILABLE, Result.WARNING_DKIM_NOT_CONFIGURED,
                                                   Result.ERROR_SPF_TOO_MANY_LOOKUPS) \
            else [r for r in suggested if r.kind == kind]
        out.append(Fix(kind, CHECK_LABELS.get(kind, kind), result, level, ADVICE.get(result, ADVICE[Result.ERROR]),
                       wanted))
    return out


# --- the notice to the domain's administrators, once per failing spell -----------------------------------------

def recipients(domain: Domain) -> list[tuple[str, str]]:
    """(address, language) of who hears that the domain started failing: its DOMAIN_ADMIN contact (the option of
    that name, in the domain's language); without one, the enabled administrators with an address who hold
    DOMAIN_EDIT on the domain itself, its customer or its broker (system administrators are not written to)."""
    from ..models import Admin, Authority, Customer
    from ..permissions import ObjectType

    contact = contact_of(domain)
    if contact:
        return [(contact, domain.default_language or "EN")]
    broker_id = db.session.scalar(select(Customer.broker_id).where(Customer.id == domain.customer_id))
    rows = db.session.execute(select(Admin.email, Admin.language, Authority.permissions_text).join(
        Authority, Authority.admin_id == Admin.id).where(
        Admin.enabled.is_(True), Admin.email.is_not(None), Admin.sys_admin.is_(False),
        ((Authority.object_type == ObjectType.DOMAIN) & (Authority.object_id == domain.id))
        | ((Authority.object_type == ObjectType.CUSTOMER) & (Authority.object_id == domain.customer_id))
        | ((Authority.object_type == ObjectType.BROKER) & (Authority.object_id == broker_id)))).all()
    found: dict[str, str] = {}
    for email, language, perms in rows:
        if Permission.DOMAIN_EDIT in str(perms).split() and email:
            found.setdefault(email.lower(), language or "EN")
    return sorted(found.items())


def notice(domain: Domain, report: dict[str, Any], to: str, language: str) -> Any:
    """The mail saying the domain started failing: its failing checks and their advice, text + HTML, in
    `language` (templates/mail/health.html)."""
    from flask_babel import force_locale, gettext

    from . import own_mail

    locale = language.lower() if language else "en"
    base = current_app.config["BASE_URL"]
    from .. import ids

    url = f"{base}/admin/domains/{ids.encode(domain.id)}/tab/health"
    with force_locale(locale):
        subject = gettext("Domain %(name)s: diagnostics found problems", name=domain.name)
        intro = gettext("The diagnostics of %(name)s found problems that may stop or weaken its mail. "
                        "What to fix:", name=domain.name)
        items = [(str(CHECK_LABELS.get(e["type"], e["type"])), str(ADVICE.get(e["result"], ADVICE[Result.ERROR])))
                 for e in report.get("entries", []) if failing(str(e.get("result", "")))]
        see = gettext("See the details and the records to publish:")
        once = gettext("You are told once; the next notice comes if the domain fails again after it is fixed.")
        footer = gettext("This message was sent automatically by Postern.")
        text = "\n".join([intro, "", *(f"* {label}: {advice}" for label, advice in items), "", see, url, "", once])
        html = current_app.jinja_env.get_template("mail/health.html").render(
            language=locale, subject=subject, intro=intro, items=items, see=see, url=url, once=once, footer=footer)
    return own_mail.compose(to, subject, text, html, language=language or "EN",
                            headers={"X-Auto-Response-Suppress": "All"})


def notify(domain_id: int) -> list[str]:
    """Tell the domain's contact that it started failing, once per failing spell: the report row is claimed
    (`health.claim_notification`) in this unit of work, so a second job finds it taken and sends nothing; a
    failed send raises, the claim rolls back with the job and the retry sends. Returns the Message-IDs sent."""
    from . import own_mail

    row = health.last(health.DOMAIN, domain_id)
    domain = db.session.get(Domain, domain_id)
    if row is None or domain is None or row.report is None or not health.claim_notification(row):
        return []
    return [own_mail.send(notice(domain, row.report, to, language)) for to, language in recipients(domain)]
