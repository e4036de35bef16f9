"""Schemas of seed sections 5.8, 5.9, 5.10 and 5.15 (models 6.22-6.30, 6.38)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, Field, RootModel

from .common import ApiModel, EpochMillis, OutModel, SafeStr, upper


class SenderRuleType(StrEnum):
    ALLOW = "ALLOW"
    BLOCK = "BLOCK"
    PROTECTED = "PROTECTED"


class AttachmentAction(StrEnum):
    ALLOW = "ALLOW"
    DENY = "DENY"


class CheckType(StrEnum):
    FILENAME = "FILENAME"
    CONTENTTYPE = "CONTENTTYPE"
    ARCHIVE_FILENAME = "ARCHIVE-FILENAME"
    ARCHIVE_CONTENTTYPE = "ARCHIVE-CONTENTTYPE"


class UriAction(StrEnum):
    URIDNSBL_SKIP_DOMAIN = "URIDNSBL_SKIP_DOMAIN"
    WHITELIST_URI_HOST = "WHITELIST_URI_HOST"
    BLACKLIST_URI_HOST = "BLACKLIST_URI_HOST"


RuleType = Annotated[SenderRuleType, BeforeValidator(upper)]
Description = Annotated[SafeStr, Field(max_length=1024)]
SenderValue = Annotated[str, Field(min_length=1, max_length=320)]


class FilterSenderAdd(ApiModel):
    value: SenderValue
    type: RuleType
    expire_at: EpochMillis | None = None
    description: Description | None = None
    spf_on: bool | None = None


class FilterSenderItem(FilterSenderAdd):
    owner: Annotated[str, Field(min_length=1, max_length=320)]


class FilterSenderAddList(RootModel[list[FilterSenderAdd]]):
    root: list[FilterSenderAdd] = Field(max_length=20000)


class FilterSenderItemList(RootModel[list[FilterSenderItem]]):
    root: list[FilterSenderItem] = Field(max_length=20000)


class FilterSenderOut(OutModel):
    id: str
    value: str
    owner: str
    type: str
    created_date: int
    expire_at: int | None
    description: str | None
    spf_on: bool | None


class FilterAttachmentAdd(ApiModel):
    action: Annotated[AttachmentAction, BeforeValidator(upper)] | None = None
    check_type: Annotated[CheckType, BeforeValidator(upper)] | None = None
    filter: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    priority: Annotated[int, Field(ge=0, le=1000)] | None = None
    description: Description | None = None


class FilterAttachmentOut(OutModel):
    id: str
    action: str
    check_type: str
    filter: str
    scope: str
    priority: int
    description: str | None
    created_date: int


class FilterUriBlAdd(ApiModel):
    action: Annotated[UriAction, BeforeValidator(upper)] | None = None
    filter: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    priority: Annotated[int, Field(ge=0, le=1000)] | None = None
    description: Description | None = None


class FilterUriBlOut(OutModel):
    id: str
    scope: str
    action: str
    filter: str
    priority: int
    description: str | None
    created_date: int


class NewEmailAlias(ApiModel):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    recipients: list[Annotated[str, Field(min_length=3, max_length=320)]] | None = Field(default=None,
                                                                                          max_length=1000)


class AddressList(RootModel[list[Annotated[str, Field(min_length=3, max_length=320)]]]):
    root: list[Annotated[str, Field(min_length=3, max_length=320)]] = Field(max_length=1000)


class EmailAliasRecipientOut(OutModel):
    id: str
    email: str
    firstname: str | None
    lastname: str | None
    type: str


class EmailAliasOut(OutModel):
    id: str
    email: str
    recipients: list[EmailAliasRecipientOut]


class ConsideredRule(OutModel):
    rule: FilterSenderOut
    reason: str


class DecisionOut(OutModel):
    """Postern extension: which sender rule decides for a sender and a recipient."""

    sender: str
    recipient: str
    verdict: str
    reason: str
    decided_by: ConsideredRule | None
    shadowed: list[ConsideredRule]
    owners: list[str]
