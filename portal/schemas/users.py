"""Schemas of seed section 5.14 Users (models 6.39 NewUser, 6.61 UpdateUser, 6.63 User)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from .common import ApiModel, Email, LanguageField, OutModel, Password, SafeStr
from .domains import PlatformOut, PolicyOut

PersonName = Annotated[SafeStr, Field(max_length=255)]


class UserStatus(StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"
    PENDING = "PENDING"


class NewUser(ApiModel):
    email: Email
    firstname: PersonName | None = None
    lastname: PersonName | None = None
    status: UserStatus = UserStatus.ENABLED
    language: LanguageField | None = None
    password: Password | None = None
    domain_id: str | None = None
    policy_id: str | None = None
    platform_id: str | None = None
    auth_id: str | None = Field(default=None, description="Platform that authenticates the user (Postern: "
                                "a platform of the domain); the domain's default when absent")
    sender_verify_on: bool = True
    send_notification: bool = False
    sign: Annotated[str, Field(max_length=20000)] | None = None


class UpdateUser(ApiModel):
    email: Email | None = None
    firstname: PersonName | None = None
    lastname: PersonName | None = None
    status: UserStatus | None = None
    language: LanguageField | None = None
    password: Password | None = None
    domain_id: str | None = None
    policy_id: str | None = None
    platform_id: str | None = None
    auth_id: str | None = None
    sender_verify_on: bool | None = None
    send_notification: bool | None = None
    sign: Annotated[str, Field(max_length=20000)] | None = None
    mfa_type: Literal["NONE"] | None = Field(default=None, description="NONE disables the second factor")


class UserOut(OutModel):
    id: str
    email: str
    firstname: str | None
    lastname: str | None
    status: str
    language: str
    creation_date: int
    domain_id: str
    policy: PolicyOut | None
    sender_verify_on: bool
    domain_policy_id: str | None
    domain_status: str
    domain_platform_id: str | None
    platform: PlatformOut | None
    mfa_type: str | None
    last_connection_date: int | None
