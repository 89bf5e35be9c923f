"""Random identifiers for things that leave the system (tokens, upload ids, click ids)."""

from __future__ import annotations

import hashlib
import secrets


def token(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)


def short_id(prefix: str = "", nbytes: int = 12) -> str:
    return f"{prefix}{secrets.token_hex(nbytes)}"


def sha256_hex(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()
