"""Password hashes: Argon2id (argon2-cffi's defaults, about 0.15 s a hash here).

``COALWATCH_PASSWORD_HASH_COST=minimal`` makes hashes that cost almost nothing: for test
suites, which create and sign in hundreds of users, never for a real center. Hashes say
their own parameters, so either kind verifies; a center with the standard cost rehashes
a minimal one at the next sign-in.
"""

from __future__ import annotations

import os
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


def _make_hasher() -> PasswordHasher:
    cost = os.environ.get("COALWATCH_PASSWORD_HASH_COST", "standard")
    if cost == "minimal":
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    if cost != "standard":
        raise ValueError(f"COALWATCH_PASSWORD_HASH_COST must be standard or minimal, not {cost!r}")
    return PasswordHasher()


_hasher = _make_hasher()


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
