"""Schemas of relay diagnostics (seed 5.11.2, 5.11.5, 5.11.6; models 6.24 EntityHealth, 6.31 HealthRecord,
6.32 HealthResult, 6.50 RelayCheckHealthDTO). The relay models carry their own names so that the result enum
documents the relay results (the domain diagnostics document theirs)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from .common import ApiModel, OutModel, SafeStr
from .domains import TransportType


class RelayResult(StrEnum):
    """Result of one relay entry. OK: the relay took the exchange as the gateway will use it.
    ERROR_RELAY_FORBIDDEN_TARGET: the host resolves to a private or reserved address, or the port is not allowed
    (POSTERN_ALLOW_PRIVATE_TARGETS, POSTERN_MAILSERVER_PORTS). ERROR_RELAY_UNRESOLVED: the host name does not
    resolve. ERROR_RELAY_UNREACHABLE: nothing accepted the connection (closed, refused, filtered, unreachable).
    ERROR_RELAY_TIMEOUT: connected, but the exchange did not finish within the deadline (a relay hanging mid-banner).
    ERROR_RELAY_NOT_SMTP: no 220 greeting. ERROR_RELAY_EHLO_REFUSED: EHLO and HELO refused. ERROR_RELAY_TLS:
    SMTPS_ENCRYPT (implicit TLS, as exported) could not establish TLS. ERROR_RELAY_SENDER_REFUSED: `MAIL FROM:<>`
    refused (bounces could not be delivered). ERROR_RELAY_RCPT_REFUSED: the test address was refused (5xx).
    ERROR_RELAY: the relay closed the connection or answered unexpectedly. WARNING_RELAY_NO_TLS: SMTPS_MAY but
    STARTTLS is not offered (mail goes in clear). WARNING_RELAY_TLS_FAILED: SMTPS_MAY, STARTTLS offered but failed
    (Postfix falls back to clear). WARNING_RELAY_CERTIFICATE: TLS works but the certificate is not verified for the
    host name, or expires within 14 days. WARNING_RELAY_RCPT_DEFERRED: the test address got a temporary refusal
    (4xx). A report's `status` is false when any entry is an ERROR_*; warnings leave it true."""

    OK = "OK"
    ERROR_RELAY_FORBIDDEN_TARGET = "ERROR_RELAY_FORBIDDEN_TARGET"
    ERROR_RELAY_UNRESOLVED = "ERROR_RELAY_UNRESOLVED"
    ERROR_RELAY_UNREACHABLE = "ERROR_RELAY_UNREACHABLE"
    ERROR_RELAY_TIMEOUT = "ERROR_RELAY_TIMEOUT"
    ERROR_RELAY_NOT_SMTP = "ERROR_RELAY_NOT_SMTP"
    ERROR_RELAY_EHLO_REFUSED = "ERROR_RELAY_EHLO_REFUSED"
    ERROR_RELAY_TLS = "ERROR_RELAY_TLS"
    ERROR_RELAY_SENDER_REFUSED = "ERROR_RELAY_SENDER_REFUSED"
    ERROR_RELAY_RCPT_REFUSED = "ERROR_RELAY_RCPT_REFUSED"
    ERROR_RELAY = "ERROR_RELAY"
    WARNING_RELAY_NO_TLS = "WARNING_RELAY_NO_TLS"
    WARNING_RELAY_TLS_FAILED = "WARNING_RELAY_TLS_FAILED"
    WARNING_RELAY_CERTIFICATE = "WARNING_RELAY_CERTIFICATE"
    WARNING_RELAY_RCPT_DEFERRED = "WARNING_RELAY_RCPT_DEFERRED"


class RelayEntryType(StrEnum):
    """RELAY: the platform's main relay (transportDest); RELAY_FALLBACK: its fallback relay."""

    RELAY = "RELAY"
    RELAY_FALLBACK = "RELAY_FALLBACK"


class RelayHealthResult(OutModel):
    """HealthResult of a relay: what was tried, in `output` (English lines, the seed's style)."""

    type: RelayEntryType
    result: RelayResult
    output: list[str]


class RelayHealthRecord(OutModel):
    """HealthRecord: `status` false when any entry is an error."""

    status: bool
    entries: list[RelayHealthResult]


class RelayEntityHealth(OutModel):
    """EntityHealth: `performedAt` in seconds since the epoch (as the seed)."""

    performed_at: int = Field(description="Seconds since the epoch")
    report: RelayHealthRecord

    @classmethod
    def of(cls, data: dict[str, Any]) -> RelayEntityHealth:
        return cls.model_validate({"performedAt": data["performedAt"], "report": data["report"]})


Host = Annotated[SafeStr, Field(min_length=1, max_length=253)]
Port = Annotated[int, Field(ge=1, le=65535)]


class RelayCheckHealthDTO(ApiModel):
    """RelayCheckHealthDTO (6.50): a relay configuration to try, saved or not; nothing is stored.

    Postern extensions: `transportType` / `fallbackTransportType` (default SMTP; the fallback's defaults to the
    main one's, as a platform's), `testAddress` (probe `RCPT TO` with it, without DATA) and `domainId` (the domain
    the check is for, when `id` names no platform; else HEALTH_RUN anywhere suffices). `authType`, `authData`,
    `apiType` and `apiData` are accepted as the seed lists them and not used: the relay check does not log in."""

    id: str | None = None
    transport_dest: Host
    transport_port: Port
    transport_type: TransportType = TransportType.SMTP
    fallback_transport_dest: Annotated[SafeStr, Field(max_length=253)] | None = None
    fallback_transport_port: Port | None = None
    fallback_transport_type: TransportType | None = None
    auth_type: Annotated[SafeStr, Field(max_length=16)] | None = None
    auth_data: dict[str, Any] | str | None = None
    api_type: Annotated[SafeStr, Field(max_length=16)] | None = None
    api_data: dict[str, Any] | None = None
    test_address: Annotated[SafeStr, Field(max_length=254)] | None = None
    domain_id: str | None = None

