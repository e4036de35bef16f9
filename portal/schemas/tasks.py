"""Seed 5.12 Tasks (model 6.60 Task) and 5.13 TemporaryAuthTokens.

A task is `{"command": ..., "params": {...}}`; each command has its own params, checked strictly (an unknown
param, a CR/LF anywhere, a validity out of bounds: 400, each error named `params.<name>`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError

from ..errors import FieldError, Invalid
from .common import ApiModel, Email, SafeStr
from .validation import invalid_from_pydantic

MAX_VALIDITY_HOURS = 168  # a week: a login or reset link that lives longer is a password by mail
LOGIN_VALIDITY_HOURS = 4  # the seed's default for GET /token
RESET_VALIDITY_HOURS = 2


class Command(StrEnum):
    SEND_WELCOME_MAIL = "send_welcome_mail"
    SEND_TOKEN_MAIL = "send_token_mail"
    SEND_PASSWORD_RESET_MAIL = "send_password_reset_mail"
    SEND_SPAM_REPORT = "send_spam_report"
    SEND_HAM_REPORT = "send_ham_report"


# The seed's enum names the reports after its "spamfight" service: the same commands under those names.
ALIASES = {"send_spamfight_spam_mail": Command.SEND_SPAM_REPORT,
           "send_spamfight_clean_mail": Command.SEND_HAM_REPORT}


def _command(value: Any) -> Any:
    return ALIASES.get(value, value) if isinstance(value, str) else value


class Task(ApiModel):
    command: Annotated[Command, BeforeValidator(_command)] = Field(
        description="send_welcome_mail, send_token_mail, send_password_reset_mail, send_spam_report "
                    "(alias send_spamfight_spam_mail), send_ham_report (alias send_spamfight_clean_mail)")
    params: dict[str, Any] = Field(description="The command's data: recipient (all), validity in hours "
                                               "(send_token_mail, send_password_reset_mail), folder and id "
                                               "(the reports)")


Validity = Annotated[int, Field(strict=True, ge=1, le=MAX_VALIDITY_HOURS)]


class RecipientParams(ApiModel):
    recipient: Email


class LinkParams(RecipientParams):
    validity: Validity | None = None


class ReportParams(RecipientParams):
    folder: Annotated[SafeStr, Field(min_length=1, max_length=500)]
    id: Annotated[SafeStr, Field(min_length=1, max_length=500)]


PARAMS: dict[Command, type[RecipientParams]] = {
    Command.SEND_WELCOME_MAIL: RecipientParams,
    Command.SEND_TOKEN_MAIL: LinkParams,
    Command.SEND_PASSWORD_RESET_MAIL: LinkParams,
    Command.SEND_SPAM_REPORT: ReportParams,
    Command.SEND_HAM_REPORT: ReportParams,
}


def params_of(command: Command, params: dict[str, Any]) -> RecipientParams:
    """The command's params, validated; `Invalid` naming each bad one as `params.<name>`."""
    try:
        return PARAMS[command].model_validate(params)
    except ValidationError as exc:
        error = invalid_from_pydantic(exc)
        raise Invalid(error.detail, [FieldError(f"params.{e.field}", e.message) for e in error.errors]) from exc


def validity_hours(raw: str | None) -> int:
    """GET /token's `validity` query parameter: whole hours, 1..MAX_VALIDITY_HOURS (default 4)."""
    if raw is None or raw == "":
        return LOGIN_VALIDITY_HOURS
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_VALIDITY_HOURS:
        raise Invalid.on("validity", f"Give a whole number of hours from 1 to {MAX_VALIDITY_HOURS}.")
    return int(raw)
