"""Statistics (issue 15), a Postern extension: the dashboard's numbers over the caller's scope (QUARANTINE_READ),
or one domain of it (`domainId`). Days are UTC dates, YYYY-MM-DD (a day is not an instant)."""

from __future__ import annotations

from flask import Response, request

from .. import ids
from ..permissions import Permission
from ..schemas.statistics import (
    DomainCountOut,
    SenderCountOut,
    StatisticsDayOut,
    StatisticsOut,
    StatisticsTotalsOut,
)
from ..services import statistics
from .framework import QueryParam, endpoint, json_response, principal


@endpoint("/statistics", "GET", access=Permission.QUARANTINE_READ, tag="Statistics", response=StatisticsOut,
          summary="Daily statistics: held mail by reason, releases, top senders and domains",
          query=(QueryParam("from", "First day (YYYY-MM-DD; default 29 days before `to`)",
                            schema={"type": "string", "format": "date"}),
                 QueryParam("to", "Last day (YYYY-MM-DD; default today, UTC)",
                            schema={"type": "string", "format": "date"}),
                 QueryParam("domainId", "Only this domain (default: every domain of the caller's scope)")),
          errors={400: f"A day that is not a date, from after to, a day in the future, or more than "
                       f"{statistics.MAX_DAYS} days", 404: "Unknown domain"}, extension=True)
def get_statistics() -> Response:
    span = statistics.date_range(request.args.get("from"), request.args.get("to"))
    raw_domain = request.args.get("domainId")
    domain_id = ids.decode(raw_domain) if raw_domain is not None else None
    numbers = statistics.read(principal(), span, domain_id)
    t = numbers.totals
    return json_response(StatisticsOut(
        from_=span.start.isoformat(), to=span.end.isoformat(),
        days=[StatisticsDayOut(day=d.isoformat(), held=numbers.held_on(d), held_by_reason=numbers.held.get(d, {}),
                               released=numbers.released.get(d, 0)) for d in span.days],
        totals=StatisticsTotalsOut(held=t[statistics.HELD], released=t[statistics.RELEASED],
                                   deleted=t[statistics.DELETED], rules_added=t[statistics.RULE_ADDED],
                                   digests_sent=t[statistics.DIGEST_SENT]),
        top_held_senders=[SenderCountOut(sender=s, count=n) for s, n in numbers.top_held],
        top_released_senders=[SenderCountOut(sender=s, count=n) for s, n in numbers.top_released],
        top_domains=[DomainCountOut(domain_id=ids.encode(i), name=name, held=n) for i, name, n in numbers.top_domains],
    ))
