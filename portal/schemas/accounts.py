"""Schemas of seed sections 5.1 AccessControls and 5.2 AuthenticationTokens (models 6.3-6.5, 6.44-6.46)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..permissions import ObjectType
from .common import ApiModel, Email, EpochMillis, Language, LanguageField, Name, OutModel, Password, SafeStr


class AuthorityOut(OutModel):
    object_type: str
    object_id: str
    object_name: str | None
    permissions: list[str]


class AdminOut(OutModel):
    id: str
    login: str
    display_name: str | None
    email: str | None
    enabled: bool
    language: str
    totp: bool
    sys_admin: bool
    authorities: list[AuthorityOut]
    authorities_count: int
    last_connection_date: int | None
    created_at: int


class AdminUpdate(ApiModel):
    """PATCH body. Privileges (sysAdmin, authorities) are not fields: they cannot be set here."""

    email: Email | None = None
    display_name: Annotated[SafeStr, Field(max_length=255)] | None = None
    password: Password | None = None
    enabled: bool | None = None
    totp: Literal[False] | None = Field(
        default=None, description="Can only disable TOTP; enrolment is a dedicated flow (QR code)."
    )
    language: LanguageField | None = None


class AuthorityIn(ApiModel):
    object_type: ObjectType
    object_id: Annotated[str, Field(min_length=1, max_length=32)]
    permissions: list[str] = Field(default_factory=list, max_length=64)


class AdminCreate(ApiModel):
    """A new admin account (pages, CLI and, with the domains issue, POST /domains/{id}/admins)."""

    login: Annotated[SafeStr, Field(min_length=1, max_length=255, pattern=r"^[^\s]+$")]
    display_name: Annotated[SafeStr, Field(max_length=255)] | None = None
    email: Email
    password: Password
    enabled: bool = True
    language: LanguageField = Language.EN
    sys_admin: bool = False
    authorities: list[AuthorityIn] = Field(default_factory=list, max_length=1000)


class AdminAdd(ApiModel):
    """Seed 6.4: an existing account (`id`) or a new one, given `permissions` on the domain."""

    id: str | None = None
    login: Annotated[SafeStr, Field(min_length=1, max_length=255, pattern=r"^[^\s]+$")] | None = None
    display_name: Annotated[SafeStr, Field(max_length=255)] | None = None
    email: Email | None = None
    password: Password | None = None
    enabled: bool = True
    language: LanguageField = Language.EN
    permissions: list[str] = Field(max_length=64)


class PermissionOut(OutModel):
    name: str
    editable: bool


class TokenAdd(ApiModel):
    """PersonalTokenAdd."""

    name: Name
    expiration: EpochMillis | None = None


class TokenOut(OutModel):
    """PersonalToken: `value` only in the answer to its creation."""

    OMIT_NONE = True

    id: str
    name: str
    value: str | None = None
    expiration: int | None = None
    created_at: int
    last_use: int | None = None
