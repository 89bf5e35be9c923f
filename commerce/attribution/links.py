"""Signed share-link tokens: `/s/<kid>.<payload>.<signature>`.

The payload names the sharer, the target (a video or a product), when the
link was issued and, for a re-share, the upstream sharer. The signature is an
HMAC-SHA256 under the key named by `kid`, so keys rotate: the first configured
key signs new links, every configured key still verifies old ones, and a
link whose key was retired simply stops counting. `verify` and `check` never
raise: a tampered, truncated, expired or unknown-key token is just "no
attribution" (`check` also tells an expired link from a forged one).
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

FUTURE_SKEW = dt.timedelta(minutes=5)  # clocks of web servers disagree a little
SIGNATURE_BYTES = 16


class TargetKind(enum.StrEnum):
    VIDEO = "video"
    PRODUCT = "product"


_KIND_CODE = {TargetKind.VIDEO: "v", TargetKind.PRODUCT: "p"}
_CODE_KIND = {v: k for k, v in _KIND_CODE.items()}


@dataclass(frozen=True)
class ShareClaim:
    sharer_id: int
    target_kind: TargetKind
    target_id: int
    issued_at: dt.datetime
    key_id: str
    parent_sharer_id: int | None = None  # who shared it to the sharer (level 2), if anyone


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, kid: str, payload: str) -> str:
    return _b64(hmac.new(secret, f"{kid}.{payload}".encode(), hashlib.sha256).digest()[:SIGNATURE_BYTES])


def sign(claim: ShareClaim, keys: Sequence[tuple[str, bytes]]) -> str:
    """A token for `claim`, signed with the first key (its id is written into the token)."""
    kid, secret = keys[0]
    fields = [
        str(claim.sharer_id),
        f"{_KIND_CODE[claim.target_kind]}{claim.target_id}",
        str(int(claim.issued_at.timestamp())),
        str(claim.parent_sharer_id or 0),
    ]
    payload = _b64(".".join(fields).encode())
    return f"{kid}.{payload}.{_mac(secret, kid, payload)}"


@dataclass(frozen=True)
class Checked:
    """What a token turned out to be. `claim` is set for an authentic token, expired or not."""

    claim: ShareClaim | None
    expired: bool = False

    @property
    def valid(self) -> bool:
        return self.claim is not None and not self.expired


def check(token: str, keys: Sequence[tuple[str, bytes]], *, now: dt.datetime, ttl: dt.timedelta) -> Checked:
    """Authentic and current, authentic but expired (the landing page says so and still offers the target), or
    not authentic at all (tampered, truncated, unknown key)."""
    try:
        kid, payload, mac = token.rsplit(".", 2)
        secret = dict(keys).get(kid)
        if secret is None or not hmac.compare_digest(_mac(secret, kid, payload), mac):
            return Checked(None)
        sharer, target, issued, parent = _unb64(payload).decode().split(".")
        issued_at = dt.datetime.fromtimestamp(int(issued), dt.UTC)
        claim = ShareClaim(
            sharer_id=int(sharer),
            target_kind=_CODE_KIND[target[0]],
            target_id=int(target[1:]),
            issued_at=issued_at,
            key_id=kid,
            parent_sharer_id=int(parent) or None,
        )
    except (ValueError, KeyError, IndexError, UnicodeDecodeError):
        return Checked(None)
    if claim.sharer_id <= 0 or claim.target_id <= 0 or issued_at > now + FUTURE_SKEW:
        return Checked(None)
    return Checked(claim, expired=now - issued_at > ttl)


def verify(token: str, keys: Sequence[tuple[str, bytes]], *, now: dt.datetime, ttl: dt.timedelta) -> ShareClaim | None:
    """The claim of an authentic, unexpired token; None for anything else."""
    checked = check(token, keys, now=now, ttl=ttl)
    return checked.claim if checked.valid else None
