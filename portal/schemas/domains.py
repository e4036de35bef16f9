"""Schemas of seed sections 5.3 DomainAliases, 5.4 DomainPolicies, 5.5 Domains (models 6.16-6.21, 6.40-6.51)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, RootModel

from .common import ApiModel, Language, LanguageField, OutModel, SafeStr

DomainNameStr = Annotated[str, Field(min_length=1, max_length=253)]
Duration = Annotated[int, Field(ge=1, le=3650)]


class DomainStatus(StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"
    DELETED = "DELETED"
    PENDING = "PENDING"


class WblistPriority(StrEnum):
    DOMAIN = "DOMAIN"
    USER = "USER"


class TransportType(StrEnum):
    SMTP = "SMTP"
    SMTPS_ENCRYPT = "SMTPS_ENCRYPT"
    SMTPS_MAY = "SMTPS_MAY"


class ApiType(StrEnum):
    IMAP = "IMAP"
    EXCHANGE = "EXCHANGE"
    O365 = "O365"


class AuthType(StrEnum):
    local = "local"
    imap = "imap"
    ldap = "ldap"
    oidc = "oidc"
    entra = "entra"


# --- policies -----------------------------------------------------------------------------------

class RelayProps(ApiModel):
    relay_spam: bool = False
    relay_advert: bool = True
    advert_prefix: Annotated[SafeStr, Field(max_length=64)] | None = ""
    prefix_spam: Annotated[SafeStr, Field(max_length=64)] | None = None
    relay_bad_headers: bool = False
    relay_bad_attachments: bool = False
    spam_score_limit: Annotated[float, Field(ge=-100, le=1000)] = 5.0


class QuarantineProps(ApiModel):
    duration: Annotated[int, Field(ge=1, le=365, description="Days")] = 31
    store_spam: bool = True
    store_virus: bool = False
    store_advert: bool = False
    store_blacklisted: bool = False
    store_sender_verify: bool = False
    store_bad_headers: bool = True
    store_bad_encoding: bool = True
    store_bad_attachments: bool = True


class RetentionProps(ApiModel):
    duration: Annotated[int, Field(ge=1, le=3650, description="Days")] = 5
    store_mail_out: bool = True
    store_clean_mail_in: bool = True


class ArchiveProps(ApiModel):
    duration: Annotated[int, Field(ge=1, le=240, description="MONTHS")] = 48
    archive_by_copy: bool = False
    store_mail_out: bool = True
    store_clean_mail_in: bool = True
    store_spam: bool = True
    store_bad_headers: bool = True
    store_bad_encoding: bool = True
    store_bad_attachments: bool = True
    store_advert: bool = False
    store_blacklisted: bool = False
    store_sender_verify: bool = False


PolicyName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[\w .()\[\]@+'-]+$")]


class PolicyIn(ApiModel):
    """Policy, as a request body (POST creates: name required; PATCH changes only what is given)."""

    id: str | None = Field(default=None, description="Ignored on input")
    name: PolicyName | None = None
    domain_id: str | None = None
    quarantine: bool | None = None
    retention: bool | None = None
    archive: bool | None = None
    mail_size_limit: Annotated[int, Field(ge=1, le=2048, description="MB")] | None = None
    spam_score: Annotated[float, Field(ge=-100, le=1000)] | None = None
    incoming: bool | None = None
    outgoing: bool | None = None
    relay_props: RelayProps | None = None
    quarantine_props: QuarantineProps | None = None
    retention_props: RetentionProps | None = None
    archive_props: ArchiveProps | None = None


class PolicyOut(OutModel):
    id: str
    name: str
    domain_id: str
    quarantine: bool
    retention: bool
    archive: bool
    mail_size_limit: int
    spam_score: float
    incoming: bool
    relay_props: dict[str, Any]
    quarantine_props: dict[str, Any] | None
    retention_props: dict[str, Any] | None
    archive_props: dict[str, Any] | None
    outgoing: bool


# --- platforms ----------------------------------------------------------------------------------

class PlatformIn(ApiModel):
    """PlatformDTO. Secret fields answer "********"; sending that back keeps the stored secret."""

    id: str | None = None
    name: Annotated[SafeStr, Field(min_length=1, max_length=255)]
    transport_dest: Annotated[SafeStr, Field(min_length=1, max_length=253)]
    transport_type: TransportType = TransportType.SMTP
    transport_port: int = 25
    fallback_transport_dest: Annotated[SafeStr, Field(max_length=253)] | None = None
    fallback_transport_type: TransportType | None = None
    fallback_transport_port: int | None = None
    api_type: ApiType | None = None
    api_data: dict[str, Any] | None = None
    auth_type: AuthType = AuthType.local
    auth_data: dict[str, Any] | str | None = None
    default: bool = False


class PlatformOut(OutModel):
    id: str
    name: str
    transport_dest: str
    transport_type: str
    transport_port: int
    fallback_transport_dest: str | None
    fallback_transport_type: str | None
    fallback_transport_port: int | None
    api_type: str | None
    api_data: dict[str, Any] | None
    auth_type: str
    auth_data: dict[str, Any] | None
    default: bool


# --- domains ------------------------------------------------------------------------------------

class AliasOut(OutModel):
    id: str
    name: str


class DomainNames(RootModel[list[DomainNameStr]]):
    """A JSON array of domain names (aliases)."""

    root: list[DomainNameStr] = Field(max_length=1000)


class StringList(RootModel[list[Annotated[str, Field(max_length=64)]]]):
    """A JSON array of names (permissions)."""

    root: list[Annotated[str, Field(max_length=64)]] = Field(max_length=100)


class CustomerOut(OutModel):
    id: str
    broker_id: str
    name: str
    description: str | None
    external_id: str | None
    created_at: int


class OutgoingProviderOut(OutModel):
    id: str
    name: str
    spf_provider: str
    active: bool


class DomainAdd(ApiModel):
    name: DomainNameStr
    description: Annotated[SafeStr, Field(max_length=1024)] | None = None
    status: DomainStatus = DomainStatus.ENABLED
    wblist_priority: WblistPriority = WblistPriority.USER
    incoming: bool = True
    outgoing: bool = False
    quarantine: bool = False
    retention: bool = False
    archive: bool = False
    default_language: LanguageField = Language.EN
    auto_provisioning_on: bool = False
    sender_verify_on: bool = True
    customer_id: str | None = None
    external_id: Annotated[SafeStr, Field(max_length=255)] | None = None
    outgoing_subnets: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=500)
    outgoing_providers_ids: list[str] = Field(default_factory=list, max_length=100)
    platforms: list[PlatformIn] = Field(default_factory=list, max_length=50)


class DomainUpdate(ApiModel):
    name: DomainNameStr | None = None
    description: Annotated[SafeStr, Field(max_length=1024)] | None = None
    status: DomainStatus | None = None
    wblist_priority: WblistPriority | None = None
    quarantine: bool | None = None
    retention: bool | None = None
    archive: bool | None = None
    default_language: LanguageField | None = None
    auto_provisioning_on: bool | None = None
    sender_verify_on: bool | None = None
    customer_id: str | None = None
    policy_id: str | None = None
    external_id: Annotated[SafeStr, Field(max_length=255)] | None = None
    outgoing_subnets: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=500)
    outgoing_providers_ids: list[str] | None = Field(default=None, max_length=100)
    platforms: list[PlatformIn] | None = Field(default=None, max_length=50)


class DomainOut(OutModel):
    id: str
    name: str
    description: str | None
    status: str
    wblist_priority: str
    default_language: str
    auto_provisioning_on: bool
    sender_verify_on: bool
    external_id: str | None
    policy: PolicyOut | None
    domain_aliases: list[AliasOut]
    active_users_count: int
    policies_count: int
    quarantine: bool
    retention: bool
    archive: bool
    incoming: bool
    outgoing_subnets: list[str]
    creation_date: int
    deletion_date: int | None
    purge_date: int | None
    outgoing_providers: list[OutgoingProviderOut]
    customer: CustomerOut
    platforms: list[PlatformOut]


class AclPermissionStatus(OutModel):
    name: str
    enabled: bool


# --- options ------------------------------------------------------------------------------------

class OptionDefOut(OutModel):
    ptf_scope: bool
    url_scope: bool
    customer_scope: bool
    domain_scope: bool
    user_scope: bool
    restricted: bool
    group: str | None
    name: str
    type: str
    values: list[str] | None
    description: str | None


class OptionOut(OutModel):
    value: str | None
    parent_value: str | None
    option: OptionDefOut


class OptionAdd(ApiModel):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    value: Annotated[str, Field(max_length=4000)]
