"""The DKIM key helpers: generated pairs, given keys read strictly, and what counts as DNS serving a key."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization

from portal.errors import Invalid
from portal.integrations import dkim_keys
from tests import dkim_keys as keys


def test_generated_pair_is_rsa_of_the_size_asked() -> None:
    private_pem, public = dkim_keys.generate(1024)
    private = dkim_keys.load_private(private_pem)
    assert private.key_size == 1024 and dkim_keys.public_b64(private.public_key()) == public
    with pytest.raises(ValueError):
        dkim_keys.generate(512)


@pytest.mark.parametrize("pem", [keys.EC_PRIVATE, keys.SMALL_PRIVATE, "", "-----BEGIN PRIVATE KEY-----\nAA==\n",
                                 "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----"])
def test_given_private_keys_refused(pem: str) -> None:
    with pytest.raises(Invalid) as refused:
        dkim_keys.load_private(pem)
    assert refused.value.errors[0].field == "privateKey"


def test_public_key_forms() -> None:
    private = dkim_keys.load_private(keys.WORLD_PRIVATE)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    for given in (keys.WORLD_PUBLIC, pem, " ".join([keys.WORLD_PUBLIC[:100], keys.WORLD_PUBLIC[100:]])):
        assert dkim_keys.same_key(private, dkim_keys.load_public(given))
    assert not dkim_keys.same_key(private, dkim_keys.load_public(keys.OTHER_PUBLIC))


def test_what_dns_serves() -> None:
    private = dkim_keys.load_private(keys.WORLD_PRIVATE)
    pkcs1 = base64.b64encode(private.public_key().public_bytes(serialization.Encoding.DER,
                                                               serialization.PublicFormat.PKCS1)).decode()
    served = dkim_keys.served_keys([f"v=DKIM1; k=rsa; p={keys.WORLD_PUBLIC[:80]} {keys.WORLD_PUBLIC[80:]}",
                                    "v=spf1 -all", "v=DKIM1; t=y"])
    assert served == [keys.WORLD_PUBLIC]  # spaces of split strings removed; other records count for nothing
    assert dkim_keys.serves_exactly(served, keys.WORLD_PUBLIC)
    assert dkim_keys.serves_exactly([pkcs1], keys.WORLD_PUBLIC)  # the same key in PKCS#1 form
    assert not dkim_keys.serves_exactly([], keys.WORLD_PUBLIC)
    assert not dkim_keys.serves_exactly([keys.OTHER_PUBLIC], keys.WORLD_PUBLIC)
    assert not dkim_keys.serves_exactly([keys.WORLD_PUBLIC, keys.OTHER_PUBLIC], keys.WORLD_PUBLIC)  # not exactly
    assert not dkim_keys.serves_exactly(["not base64!"], keys.WORLD_PUBLIC)
    assert not dkim_keys.serves_exactly([""], keys.WORLD_PUBLIC)  # p= empty: a revoked key
