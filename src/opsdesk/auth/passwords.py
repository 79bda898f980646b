"""Password hashing with argon2id."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 8


@cache
def _dummy_hash() -> str:
    """A real hash to verify against when the user does not exist, so timing does not tell.

    Made on first use, not at import: hashing takes ~0.1 s that CLI commands need not pay."""
    return _hasher.hash("opsdesk-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False
