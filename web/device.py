"""Which device a request comes from: a random id the H5 app keeps in a cookie (or sends as a header), hashed."""

from __future__ import annotations

import re

from flask import Response, request

from core import extensions
from core.ids import sha256_hex, token

DEVICE_COOKIE = "xl_did"
DEVICE_HEADER = "X-Device-Id"
_VALID = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


def raw_device_id() -> str | None:
    raw = request.headers.get(DEVICE_HEADER) or request.cookies.get(DEVICE_COOKIE)
    return raw if raw and _VALID.match(raw) else None


def _hash(raw: str) -> str:
    # Keyed, so stored fingerprints mean nothing outside this deployment.
    return sha256_hex(f"{extensions.settings().secret_key}:device:{raw}")


def device_hash() -> str | None:
    raw = raw_device_id()
    return _hash(raw) if raw else None


def device_for_browser() -> tuple[str, str, bool]:
    """(raw id, hash, newly issued) — a browser seen for the first time gets an id here."""
    raw = raw_device_id()
    if raw is not None:
        return raw, _hash(raw), False
    raw = token(18)
    return raw, _hash(raw), True


def set_device_cookie(response: Response, raw: str) -> None:
    response.set_cookie(DEVICE_COOKIE, raw, max_age=365 * 86400, httponly=True, samesite="Lax",
                        secure=extensions.settings().session_cookie_secure)  # fmt: skip
