"""Password hashes: Argon2id (argon2-cffi's defaults)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("coalwatch: no such account")


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no stored hash the same work is done and False
    returned, so that unknown accounts cannot be told apart by timing."""
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
