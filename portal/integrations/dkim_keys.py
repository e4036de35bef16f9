"""DKIM key pairs (RSA, `cryptography`): make one, read a given one, and the p= value of its DNS record.

No I/O and no database: the service (`portal/services/dkim.py`) keeps the keys. Refusals are `Invalid` on the
DTO's field (`privateKey`, `publicKey`), so a bad key is a 400 naming it."""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..errors import Invalid
from ..words import _l

ALLOWED_BITS = (1024, 2048, 3072, 4096)
MIN_BITS, MAX_BITS = 1024, 8192  # a given key: RFC 8301 refuses less than 1024; more is no DNS record's size
MAX_PEM = 16_384  # characters: a PEM of an 8192-bit RSA key is about 6,400
_PEM_PRIVATE = re.compile(r"-----BEGIN (RSA |ENCRYPTED )?PRIVATE KEY-----")


def generate(bits: int = 2048) -> tuple[str, str]:
    """A new pair: (the private key as PKCS#8 PEM, the public key as base64 DER SubjectPublicKeyInfo)."""
    if bits not in ALLOWED_BITS:
        raise ValueError(f"bits must be one of {ALLOWED_BITS}")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return private_pem(key), public_b64(key.public_key())


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_b64(key: rsa.RSAPublicKey) -> str:
    """The p= of the TXT record: base64 of the DER SubjectPublicKeyInfo, on one line."""
    return base64.b64encode(key.public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


def load_private(pem: str, field: str = "privateKey") -> rsa.RSAPrivateKey:
    """A given private key: PEM (PKCS#1 or PKCS#8, unencrypted), RSA only, 1024 to 8192 bits."""
    text = pem.strip().replace("\r\n", "\n")
    if not text or len(text) > MAX_PEM or not _PEM_PRIVATE.search(text):
        raise Invalid.on(field, _l("Give the private key in PEM: the text from its -----BEGIN line to its "
                                   "-----END line."))
    if "ENCRYPTED" in text:
        raise Invalid.on(field, _l("The private key is protected by a passphrase: give it without one."))
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise Invalid.on(field, _l("The private key could not be read: give an RSA key in PEM.")) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise Invalid.on(field, _l("DKIM keys here are RSA keys: this key is of another kind."))
    if not MIN_BITS <= key.key_size <= MAX_BITS:
        raise Invalid.on(field, _l("An RSA key of %(min)d to %(max)d bits is needed (this one has %(bits)d).",
                                   min=MIN_BITS, max=MAX_BITS, bits=key.key_size))
    return key


def load_public(value: str, field: str = "publicKey") -> rsa.RSAPublicKey:
    """A given public key: PEM, or the base64 DER of a DNS record's p= (spaces and line breaks ignored)."""
    text = value.strip()
    if len(text) > MAX_PEM:
        raise Invalid.on(field, _l("The public key could not be read: give it in PEM or as the p= value."))
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.replace("\r\n", "\n").encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(re.sub(r"\s+", "", text), validate=True))
    except (ValueError, TypeError, UnsupportedAlgorithm, binascii.Error):
        raise Invalid.on(field, _l("The public key could not be read: give it in PEM or as the p= value.")) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise Invalid.on(field, _l("DKIM keys here are RSA keys: this key is of another kind."))
    return key


def same_key(private: rsa.RSAPrivateKey, public: rsa.RSAPublicKey) -> bool:
    return private.public_key().public_numbers() == public.public_numbers()


def served_keys(txt_records: list[str]) -> list[str]:
    """The p= values of the DKIM records among a name's TXT records (whitespace removed); other TXT records,
    and DKIM records without p=, count for nothing."""
    found = []
    for record in txt_records:
        tags = {}
        for part in record.split(";"):
            name, sep, tag_value = part.partition("=")
            if sep:
                tags[name.strip().lower()] = re.sub(r"\s+", "", tag_value)
        if tags.get("v", "DKIM1") == "DKIM1" and "p" in tags:
            found.append(tags["p"])
    return found


def _numbers(p_value: str) -> rsa.RSAPublicNumbers | None:
    """The RSA numbers of a p= value: SubjectPublicKeyInfo DER (RFC 6376), or a bare PKCS#1 RSAPublicKey, which
    some tools publish; None when it is neither."""
    try:
        der = base64.b64decode(p_value, validate=True)
    except (ValueError, binascii.Error):
        return None
    pkcs1 = b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END RSA PUBLIC KEY-----\n"
    for load in (lambda: serialization.load_der_public_key(der), lambda: serialization.load_pem_public_key(pkcs1)):
        try:
            key = load()
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
        return key.public_numbers() if isinstance(key, rsa.RSAPublicKey) else None
    return None


def serves_exactly(served: list[str], public_key: str) -> bool:
    """Whether the p= values DNS serves at a name are this key and nothing else (the same key in another DER
    form counts as the same; a second, different key there does not)."""
    if not served:
        return False
    ours = _numbers(public_key)
    return all(p == public_key or (ours is not None and _numbers(p) == ours) for p in served)
