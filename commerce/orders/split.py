"""How one order line's paid amount is divided. Pure arithmetic: no database, no clock.

Commissions and the platform fee are basis points of the net paid amount
(after discounts); the brand receives the rest. One largest-remainder split
does it, so the parts always sum to the paid amount and no fen is made or lost
to rounding. A second-level sharer takes a share of the sharer commission (not
a second commission on the sale), so a re-share never costs the brand more.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.money import BP_WHOLE, largest_remainder, split_by_bp


@dataclass(frozen=True)
class LineSplit:
    brand: int
    artist: int
    sharer: int
    sharer_l2: int
    platform: int
    agent: int = 0  # a customer-service agent's fee (commerce.support), from the brand's part like a commission

    @property
    def total(self) -> int:
        return self.brand + self.artist + self.sharer + self.sharer_l2 + self.platform + self.agent


def split_line(
    paid: int, *, artist_bp: int, sharer_bp: int, platform_bp: int, level2_share_bp: int = 0, agent_bp: int = 0
) -> LineSplit:
    """Rates of zero mean "nobody to pay" (no artist, no sharer, no agent, or a blocked one)."""
    (artist, sharer_total, platform, agent), brand = split_by_bp(paid, [artist_bp, sharer_bp, platform_bp, agent_bp])
    sharer, sharer_l2 = sharer_total, 0
    if level2_share_bp and sharer_total:
        sharer, sharer_l2 = largest_remainder(sharer_total, [BP_WHOLE - level2_share_bp, level2_share_bp])
    return LineSplit(brand=brand, artist=artist, sharer=sharer, sharer_l2=sharer_l2, platform=platform, agent=agent)
