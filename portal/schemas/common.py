"""Shared schema types: camelCase models, safe strings, languages, epoch-millisecond dates."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field
from pydantic.alias_generators import to_camel


def wire_name(field: str) -> str:
    """The camelCase name of a schema field, as errors name it."""
    return to_camel(field)


def _no_control_characters(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters (CR, LF, TAB, ...)")
    return value


SafeStr = Annotated[str, AfterValidator(_no_control_characters)]
Name = Annotated[SafeStr, Field(min_length=1, max_length=255)]
Email = Annotated[EmailStr, Field(max_length=320)]
Password = Annotated[str, Field(min_length=10, max_length=256), AfterValidator(_no_control_characters)]
EpochMillis = Annotated[int, Field(ge=0, le=32503680000000, description="Epoch milliseconds")]


class Language(StrEnum):
    EN = "EN"
    FR = "FR"
    DE = "DE"
    ES = "ES"
    DA = "DA"
    NB = "NB"
    RU = "RU"


def upper(value: Any) -> Any:
    """Enum values are accepted in any case (the seed lists FR and fr alike)."""
    return value.upper() if isinstance(value, str) else value


LanguageField = Annotated[Language, BeforeValidator(upper)]


class ApiModel(BaseModel):
    """Request bodies: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class OutModel(BaseModel):
    """Response bodies: camelCase on the wire; OMIT_NONE drops null fields, as some seed examples do."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    OMIT_NONE: ClassVar[bool] = False

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json", exclude_none=self.OMIT_NONE)
