"""The booking rules as one plain value, built from settings and handed to services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings

MAX_REVISIONS_CEILING = 5


@dataclass(frozen=True)
class BookingPolicy:
    reply_window: dt.timedelta = dt.timedelta(hours=72)  # a party who does not answer within it lets it expire
    max_revisions: int = 2  # default for new campaigns; a campaign may set 0–5
    live_check: dt.timedelta = dt.timedelta(days=3)  # the video must stay live this long before the artist is paid
    platform_fee_bp: int = 500  # taken from the fee when escrow is released to the artist
    kill_fee_bp: int = 5000  # share of the fee the artist keeps when the brand cancels after a draft arrived

    def __post_init__(self) -> None:
        if not 0 <= self.max_revisions <= MAX_REVISIONS_CEILING:
            raise ValueError(f"max revisions must be 0–{MAX_REVISIONS_CEILING}")
        if not (0 <= self.platform_fee_bp <= 10_000 and 0 <= self.kill_fee_bp <= 10_000):
            raise ValueError("fee rates are basis points between 0 and 10000")

    @classmethod
    def from_settings(cls, s: Settings) -> BookingPolicy:
        return cls(
            reply_window=dt.timedelta(hours=s.booking_reply_hours),
            max_revisions=s.booking_max_revisions,
            live_check=dt.timedelta(hours=s.booking_live_check_hours),
            platform_fee_bp=s.booking_platform_fee_bp,
            kill_fee_bp=s.booking_kill_fee_bp,
        )
