"""Share-link tokens: signed with a key id, rotated keys still verify, anything else is ignored."""

from __future__ import annotations

import datetime as dt

import pytest

from commerce.attribution.links import ShareClaim, TargetKind, sign, verify

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(days=30)
OLD = [("k1", b"first-secret")]
ROTATED = [("k2", b"second-secret"), ("k1", b"first-secret")]


def claim(**kw: object) -> ShareClaim:
    values: dict[str, object] = {
        "sharer_id": 12,
        "target_kind": TargetKind.VIDEO,
        "target_id": 34,
        "issued_at": NOW,
        "key_id": "k1",
    }
    values.update(kw)
    return ShareClaim(**values)  # type: ignore[arg-type]


def test_a_signed_token_round_trips() -> None:
    token = sign(claim(parent_sharer_id=5), OLD)
    assert token.startswith("k1.")
    assert verify(token, OLD, now=NOW, ttl=TTL) == claim(parent_sharer_id=5)
    product = sign(claim(target_kind=TargetKind.PRODUCT, target_id=9), OLD)
    assert verify(product, OLD, now=NOW, ttl=TTL) == claim(target_kind=TargetKind.PRODUCT, target_id=9)


def test_key_rotation_keeps_old_links_working_and_signs_with_the_new_key() -> None:
    old_token = sign(claim(), OLD)
    assert verify(old_token, ROTATED, now=NOW, ttl=TTL) == claim()
    new_token = sign(claim(key_id="k2"), ROTATED)
    assert new_token.startswith("k2.")
    assert verify(new_token, ROTATED, now=NOW, ttl=TTL) == claim(key_id="k2")
    # Once k1 is retired its links stop counting; a link signed with k2 never verified under k1 alone.
    assert verify(old_token, [("k2", b"second-secret")], now=NOW, ttl=TTL) is None
    assert verify(new_token, OLD, now=NOW, ttl=TTL) is None


def _flip(token: str, index: int) -> str:
    ch = token[index]
    return token[:index] + ("A" if ch != "A" else "B") + token[index + 1 :]


@pytest.mark.parametrize("where", ["kid", "payload", "signature", "truncated", "garbage", "empty"])
def test_tampered_tokens_are_ignored(where: str) -> None:
    token = sign(claim(), OLD)
    kid, payload, mac = token.split(".")
    bad = {
        "kid": f"k9.{payload}.{mac}",
        "payload": f"{kid}.{_flip(payload, 3)}.{mac}",
        "signature": f"{kid}.{payload}.{_flip(mac, 5)}",
        "truncated": token[:-4],
        "garbage": "../../etc/passwd",
        "empty": "",
    }[where]
    assert verify(bad, OLD, now=NOW, ttl=TTL) is None


def test_a_forged_sharer_cannot_be_signed_without_the_key() -> None:
    forged = sign(claim(sharer_id=99), [("k1", b"guessed-secret")])
    assert verify(forged, OLD, now=NOW, ttl=TTL) is None


def test_expiry_edges() -> None:
    token = sign(claim(), OLD)
    assert verify(token, OLD, now=NOW + TTL, ttl=TTL) is not None  # the last second still counts
    assert verify(token, OLD, now=NOW + TTL + dt.timedelta(seconds=1), ttl=TTL) is None
    # A link "issued" in the future (a forged clock) is refused beyond a small skew.
    assert verify(token, OLD, now=NOW - dt.timedelta(minutes=4), ttl=TTL) is not None
    assert verify(token, OLD, now=NOW - dt.timedelta(minutes=6), ttl=TTL) is None
