"""Diagnostics (seed 5.11, models 6.17 DiagnosticEntryDTO, 6.24 EntityHealth, 6.31 HealthRecord, 6.32
HealthResult): `performedAt` in seconds since the epoch, as the seed's examples."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from .common import OutModel


class CheckType(StrEnum):
    MX = "MX"
    DKIM = "DKIM"
    SPF = "SPF"
    DMARC = "DMARC"
    MTA_STS = "MTA_STS"
    TLSRPT = "TLSRPT"


class Result(StrEnum):
    """Every result an entry may have (the seed's, then Postern's); `ERROR*` fails the report."""

    OK = "OK"
    ERROR = "ERROR"
    ERROR_DNS_UNAVAILABLE = "ERROR_DNS_UNAVAILABLE"
    ERROR_MX_MISSING_ENTRY = "ERROR_MX_MISSING_ENTRY"
    ERROR_MX_INVALID_ENTRY = "ERROR_MX_INVALID_ENTRY"
    ERROR_DKIM_MISSING_ENTRY = "ERROR_DKIM_MISSING_ENTRY"
    ERROR_DKIM_INVALID_COUPLE = "ERROR_DKIM_INVALID_COUPLE"
    WARNING_DKIM_NOT_CONFIGURED = "WARNING_DKIM_NOT_CONFIGURED"
    ERROR_SPF_MISSING_ENTRY = "ERROR_SPF_MISSING_ENTRY"
    ERROR_SPF_MULTIPLE_ENTRIES = "ERROR_SPF_MULTIPLE_ENTRIES"
    ERROR_SPF_TOO_MANY_LOOKUPS = "ERROR_SPF_TOO_MANY_LOOKUPS"
    ERROR_SPF_GATEWAY_MISSING = "ERROR_SPF_GATEWAY_MISSING"
    ERROR_SPF_PROVIDER_MISSING = "ERROR_SPF_PROVIDER_MISSING"
    ERROR_DMARC_MISSING_ENTRY = "ERROR_DMARC_MISSING_ENTRY"
    ERROR_DMARC_INVALID_ENTRY = "ERROR_DMARC_INVALID_ENTRY"
    WARNING_DMARC_POLICY_NONE = "WARNING_DMARC_POLICY_NONE"
    WARNING_DMARC_NO_REPORTING = "WARNING_DMARC_NO_REPORTING"
    WARNING_MTA_STS_MISSING_ENTRY = "WARNING_MTA_STS_MISSING_ENTRY"
    ERROR_MTA_STS_INVALID_ENTRY = "ERROR_MTA_STS_INVALID_ENTRY"
    WARNING_TLSRPT_MISSING_ENTRY = "WARNING_TLSRPT_MISSING_ENTRY"
    ERROR_TLSRPT_INVALID_ENTRY = "ERROR_TLSRPT_INVALID_ENTRY"


class EntityType(StrEnum):
    DOMAIN = "DOMAIN"
    PLATFORM = "PLATFORM"


class HealthResult(OutModel):
    OMIT_NONE = True
    type: str = Field(description="The check: MX, DKIM, SPF, DMARC, MTA_STS, TLSRPT for a domain "
                                  f"({', '.join(CheckType)}); a relay's own types for a platform")
    ref: int | None = None
    result: Result | str = Field(description="OK; a result starting with ERROR fails the report, WARNING_ does not")
    output: list[str] = Field(description="What was looked up and found, in English (stable lines)")


class HealthRecord(OutModel):
    status: bool = Field(description="Global health status of the entity: false when an entry's result is an ERROR")
    entries: list[HealthResult]


class EntityHealth(OutModel):
    performed_at: int = Field(description="Timestamp of the last check, in seconds since the epoch")
    report: HealthRecord


class DiagnosticEntry(OutModel):
    id: str
    name: str
    type: EntityType
    health: EntityHealth
