"""DKIM (seed 5.6, model DkimDTO) and the rotation extension: private keys go in, never out."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, RootModel

from .common import ApiModel, EpochMillis, OutModel, SafeStr

Selector = Annotated[SafeStr, Field(min_length=1, max_length=63, description="One DNS label: letters, digits, "
                                                                             "hyphens; no dot, no space")]


class DkimRecords(RootModel[list[str]]):
    """The TXT records to publish, in the seed's form `<selector>._domainkey.<name> TXT v=DKIM1; p=<base64>`: the
    domain's first, then each alias's."""

    root: list[str]


class DkimIn(ApiModel):
    """The seed's DkimDTO: `privateKey` (PEM, RSA, at least 1024 bits; write-only), `publicKey` (PEM or the
    p= value; checked against the private key), `selector`. Give a pair, a selector, or both."""

    private_key: Annotated[str, Field(max_length=16384, description="PEM, RSA; write-only")] | None = None
    public_key: Annotated[str, Field(max_length=16384, description="PEM or base64 DER (the p= value)")] | None = None
    selector: Selector | None = None


class RotationIn(ApiModel):
    selector: Selector = Field(description="The new key's selector (must differ from the active one)")


class DkimKeyOut(OutModel):
    selector: str
    state: str = Field(description="active (signs), pending (a rotation's new key), retired (signed before)")
    bits: int
    created_at: EpochMillis
    activated_at: EpochMillis | None = None
    retired_at: EpochMillis | None = None
    record: str = Field(description="The domain's TXT record of this key, in the seed's string form")
    safe_to_remove: bool = Field(description="A retired key whose record may be removed from DNS")


class NameCheckOut(OutModel):
    name: str
    served: bool = Field(description="DNS serves exactly the new key at this name")
    found: int = Field(description="DKIM keys DNS serves at this name")


class RotationCheckOut(OutModel):
    selector: str
    state: str = Field(description="pending (DNS does not serve the new key everywhere yet) or active")
    names: list[NameCheckOut]
    retired_selector: str | None = None
    safe_to_remove: list[str] = Field(description="Records of the retired key that may now be removed")
    message: str
