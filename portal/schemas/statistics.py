"""Statistics (issue 15), a Postern extension: the dashboard's numbers."""

from __future__ import annotations

from pydantic import Field

from .common import OutModel


class StatisticsDayOut(OutModel):
    day: str = Field(description="The day (UTC), YYYY-MM-DD")
    held: int = Field(description="Messages held that day (counted from the quarantines once a day)")
    held_by_reason: dict[str, int] = Field(description="The held messages by X-Quarantine-Reason (OTHER: none or "
                                                       "an unknown reason)")
    released: int


class SenderCountOut(OutModel):
    sender: str
    count: int


class DomainCountOut(OutModel):
    domain_id: str
    name: str
    held: int


class StatisticsTotalsOut(OutModel):
    held: int
    released: int
    deleted: int
    rules_added: int
    digests_sent: int


class StatisticsOut(OutModel):
    from_: str = Field(alias="from", description="The first day of the range (YYYY-MM-DD)")
    to: str = Field(description="The last day of the range (YYYY-MM-DD)")
    days: list[StatisticsDayOut]
    totals: StatisticsTotalsOut
    top_held_senders: list[SenderCountOut]
    top_released_senders: list[SenderCountOut]
    top_domains: list[DomainCountOut] = Field(description="The domains with the most held mail")
