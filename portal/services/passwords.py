"""argon2id password hashing."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

_HASHERS = {
    "default": PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY),
    # Tests hash thousands of passwords; the cheapest profile is still argon2id.
    "fast": PasswordHasher.from_parameters(profiles.CHEAPEST),
}
_DUMMY: dict[str, str] = {}  # per hasher profile, made on first use


def _hasher() -> PasswordHasher:
    return _HASHERS[current_app.config.get("PASSWORD_HASHER", "default")]


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Check a password; with no stored hash a dummy one is checked, so timing tells nothing."""
    hasher = _hasher()
    if stored is None:
        profile = current_app.config.get("PASSWORD_HASHER", "default")
        dummy = _DUMMY.setdefault(profile, hasher.hash("no such account"))
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(dummy, password)
        return False
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
