"""The platform's money rules as one plain value, built from settings and handed to services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings

MAX_COMMISSION_LEVELS = 2  # a hard ceiling, whatever the settings say: deeper chains are pyramids


@dataclass(frozen=True)
class MoneyPolicy:
    platform_fee_bp: int = 500
    commission_levels: int = 1
    level2_share_bp: int = 2000
    attribution_window: dt.timedelta = dt.timedelta(days=7)
    binding: dt.timedelta = dt.timedelta(days=15)
    binding_after_order: dt.timedelta = dt.timedelta(days=30)
    share_link_ttl: dt.timedelta = dt.timedelta(days=30)
    reservation: dt.timedelta = dt.timedelta(minutes=15)
    auto_confirm: dt.timedelta = dt.timedelta(days=10)
    return_window: dt.timedelta = dt.timedelta(days=7)
    payout_min_fen: int = 1000
    review_click_to_buy: dt.timedelta = dt.timedelta(seconds=10)
    review_device_orders_per_day: int = 5
    review_new_account: dt.timedelta = dt.timedelta(minutes=30)
    settlement_batch_size: int = 200

    def __post_init__(self) -> None:
        if not 1 <= self.commission_levels <= MAX_COMMISSION_LEVELS:
            raise ValueError(f"commission levels must be 1 or 2, not {self.commission_levels}")

    @classmethod
    def from_settings(cls, s: Settings) -> MoneyPolicy:
        return cls(
            platform_fee_bp=s.platform_fee_bp,
            commission_levels=s.commission_levels,
            level2_share_bp=s.level2_share_bp,
            attribution_window=dt.timedelta(days=s.attribution_window_days),
            binding=dt.timedelta(days=s.binding_days),
            binding_after_order=dt.timedelta(days=s.binding_days_after_order),
            share_link_ttl=dt.timedelta(days=s.share_link_ttl_days),
            reservation=dt.timedelta(minutes=s.reservation_minutes),
            auto_confirm=dt.timedelta(days=s.auto_confirm_days),
            return_window=dt.timedelta(days=s.return_window_days),
            payout_min_fen=s.payout_min_fen,
            review_click_to_buy=dt.timedelta(seconds=s.review_click_to_buy_seconds),
            review_device_orders_per_day=s.review_device_orders_per_day,
            review_new_account=dt.timedelta(minutes=s.review_new_account_minutes),
            settlement_batch_size=s.settlement_batch_size,
        )
