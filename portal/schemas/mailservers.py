"""Mail servers (seeds 000, 002, 003), a Postern extension: secrets are write-only."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from .common import ApiModel, Email, EpochMillis, OutModel, SafeStr, upper

Port = Annotated[int, Field(ge=1, le=65535)]
Secret = Annotated[str, Field(min_length=1, max_length=1024)]


def _printable(value: str) -> str:
    """A secret may hold any character a person types, never a line break or NUL (it goes on one protocol line)."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters (CR, LF, TAB, ...)")
    return value


SecretStr = Annotated[Secret, AfterValidator(_printable)]


class Protocol(StrEnum):
    SMTP = "SMTP"
    POP3 = "POP3"
    IMAP = "IMAP"


class Security(StrEnum):
    NONE = "NONE"
    SSL_TLS = "SSL_TLS"
    STARTTLS = "STARTTLS"


class Certificate(StrEnum):
    DEFAULT = "DEFAULT"
    CUSTOM = "CUSTOM"


class AuthMethod(StrEnum):
    NO_AUTH = "NO_AUTH"
    USERNAME_PASSWORD = "USERNAME_PASSWORD"
    OAUTH2 = "OAUTH2"


ProtocolField = Annotated[Protocol, BeforeValidator(upper)]
SecurityField = Annotated[Security, BeforeValidator(upper)]
CertificateField = Annotated[Certificate, BeforeValidator(upper)]
AuthField = Annotated[AuthMethod, BeforeValidator(upper)]


class OAuthIn(ApiModel):
    """Client credentials (Microsoft Entra ID by default); `clientSecret` is kept when omitted."""

    tenant_id: Annotated[SafeStr, Field(max_length=255)] | None = None
    client_id: Annotated[SafeStr, Field(min_length=1, max_length=255)] | None = None
    client_secret: SecretStr | None = Field(default=None, description="Write-only; kept when omitted")
    token_url: Annotated[SafeStr, Field(max_length=2048)] | None = Field(
        default=None, description="Defaults to https://login.microsoftonline.com/{tenantId}/oauth2/v2.0/token")
    scope: Annotated[SafeStr, Field(max_length=1024)] | None = Field(
        default=None, description="Defaults to the protocol's Microsoft 365 scope")


class MailServerIn(ApiModel):
    """POST and PUT. `port` defaults to the protocol's port for the security; secrets are write-only and kept
    when omitted on PUT while the host, the security and the authentication stay the same."""

    name: Annotated[SafeStr, Field(min_length=1, max_length=255)]
    remark: Annotated[SafeStr, Field(max_length=1024)] | None = None
    protocol: ProtocolField = Protocol.SMTP
    host: Annotated[SafeStr, Field(min_length=1, max_length=253)]
    port: Port | None = None
    security: SecurityField = Security.STARTTLS
    certificate: CertificateField = Certificate.DEFAULT
    certificate_pem: Annotated[str, Field(max_length=65536)] | None = Field(
        default=None, description="PEM certificate(s) trusted instead of the system's CAs when certificate is CUSTOM")
    auth: AuthField = AuthMethod.NO_AUTH
    username: Annotated[SafeStr, Field(max_length=320)] | None = None
    password: SecretStr | None = Field(default=None, description="Write-only; kept when omitted")
    oauth: OAuthIn | None = None
    sender_name: Annotated[SafeStr, Field(max_length=255)] | None = None
    sender_address: Email | None = None
    subject_prefix: Annotated[SafeStr, Field(max_length=64)] | None = None
    enabled: bool = False


class MailServerPatch(ApiModel):
    """PATCH: only the fields given change."""

    name: Annotated[SafeStr, Field(min_length=1, max_length=255)] | None = None
    remark: Annotated[SafeStr, Field(max_length=1024)] | None = None
    protocol: ProtocolField | None = None
    host: Annotated[SafeStr, Field(min_length=1, max_length=253)] | None = None
    port: Port | None = None
    security: SecurityField | None = None
    certificate: CertificateField | None = None
    certificate_pem: Annotated[str, Field(max_length=65536)] | None = None
    auth: AuthField | None = None
    username: Annotated[SafeStr, Field(max_length=320)] | None = None
    password: SecretStr | None = None
    oauth: OAuthIn | None = None
    sender_name: Annotated[SafeStr, Field(max_length=255)] | None = None
    sender_address: Email | None = None
    subject_prefix: Annotated[SafeStr, Field(max_length=64)] | None = None
    enabled: bool | None = None


class OAuthOut(OutModel):
    tenant_id: str | None
    client_id: str | None
    token_url: str
    scope: str
    client_secret_set: bool = Field(description="Whether a client secret is stored (it is never answered)")


class CheckOut(OutModel):
    ok: bool
    stage: str = Field(description="target, connect, tls, greeting, capabilities, auth, send or done")
    message: str
    transcript: list[str] = Field(description="The exchange, secrets left out")
    checked_at: EpochMillis


class MailServerOut(OutModel):
    id: str
    name: str
    remark: str | None
    protocol: Protocol
    host: str
    port: int
    security: Security
    certificate: Certificate
    certificate_pem: str | None
    auth: AuthMethod
    username: str | None
    password_set: bool = Field(description="Whether a password is stored (it is never answered)")
    oauth: OAuthOut | None
    sender_name: str | None
    sender_address: str | None
    subject_prefix: str | None
    enabled: bool
    in_use: bool = Field(description="The SMTP server Postern's own mail leaves through")
    last_check: CheckOut | None
    created_date: EpochMillis
    updated_date: EpochMillis


class TestMailIn(ApiModel):
    to: Email


class TestMailOut(OutModel):
    ok: bool
    stage: str
    message: str
    message_id: str | None = None
    transcript: list[str] = Field(default_factory=list)


class InUseOut(OutModel):
    route: str = Field(description="MAIL_SERVER: the enabled SMTP server; else POSTERN_DELIVERY's: LOCAL (the "
                                   "embedded default) or PLATFORM_RELAY (each user's platform relay)")
    server: MailServerOut | None
