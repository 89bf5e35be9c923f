"""Password hashing with Argon2id (memory-hard)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class _Hashing:
    # OWASP's second Argon2id profile (19 MiB, t=2); `configure` follows the settings.
    hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
    dummy_hash: str | None = None


def configure(*, memory_kib: int, time_cost: int) -> None:
    _Hashing.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
    _Hashing.dummy_hash = None


def hash_password(password: str) -> str:
    return _Hashing.hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _Hashing.hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _Hashing.hasher.check_needs_rehash(stored)


def burn_time(password: str) -> None:
    """Spend one verification's worth of time, so a wrong e-mail answers as slowly as a wrong password."""
    if _Hashing.dummy_hash is None:
        _Hashing.dummy_hash = _Hashing.hasher.hash("not-a-real-password")
    verify_password(_Hashing.dummy_hash, password)
