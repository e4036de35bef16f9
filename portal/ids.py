"""Opaque public ids: sqids over integer primary keys (like the Cleanmail API's "ByE3n")."""

from __future__ import annotations

from functools import lru_cache

from flask import current_app
from sqids import Sqids

from .errors import NotFound

DEFAULT_ALPHABET = "k3G7QAe51FCsPW92uEOyq4Bg6Sp8YzVTmnU0liwDdHXLajZrfxNhobJIRcMvKt"
MAX_KEY = 2**31 - 1  # keys are INTEGER (32-bit on PostgreSQL): a larger one names nothing, never reaches SQL


@lru_cache(maxsize=4)
def _codec(alphabet: str) -> Sqids:
    return Sqids(alphabet=alphabet, min_length=5)


def _sqids() -> Sqids:
    return _codec(current_app.config.get("ID_ALPHABET") or DEFAULT_ALPHABET)


@lru_cache(maxsize=262144)
def _encode(alphabet: str, pk: int) -> str:
    return _codec(alphabet).encode([pk])


def encode(pk: int | None) -> str | None:
    """The public id of a key (memoised: sqids shuffles its alphabet on every call)."""
    if pk is None:
        return None
    return _encode(current_app.config.get("ID_ALPHABET") or DEFAULT_ALPHABET, pk)


def decode(public_id: str | None) -> int:
    """The primary key behind a public id; anything that is not a canonical id is a 404."""
    if not public_id or len(public_id) > 32:
        raise NotFound("Resource does not exist.")
    codec = _sqids()
    try:
        numbers = codec.decode(public_id)
        # a long id decodes to a number past what sqids encodes (ValueError) or a column holds
        if len(numbers) != 1 or not 0 <= numbers[0] <= MAX_KEY or codec.encode(numbers) != public_id:
            raise NotFound("Resource does not exist.")
    except (ValueError, TypeError, IndexError) as exc:  # sqids raises on characters outside the alphabet
        raise NotFound("Resource does not exist.") from exc
    return numbers[0]


def in_body(public_id: str | None) -> int:
    """The key behind an id given in a request body or a filter: -1 (matches nothing) when it is not one.

    A body naming something that does not exist is a 400 for the caller to raise, not a 404."""
    try:
        return decode(public_id)
    except NotFound:
        return -1
