"""Secrets at rest (TOTP seeds, later relay passwords): Fernet with a key derived from SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"postern secrets").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(plain: str) -> str:
    return _fernet(current_app.config["SECRET_KEY"]).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet(current_app.config["SECRET_KEY"]).decrypt(token.encode()).decode()


def token_digest(value: str) -> str:
    """Digest under which bearer and link tokens are stored (they carry >=128 random bits)."""
    return hashlib.sha256(value.encode()).hexdigest()
