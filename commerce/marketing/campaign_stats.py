"""Campaign figures for the brand dashboard: one small shape for every kind of marketing campaign.

Each campaign module (coupons, 秒杀 flash sales; group buys and bargains when they come) registers a *source* at
import: a function that, for one brand, returns a `CampaignStats` row per campaign of its kind. The dashboard
asks `for_brand` (which checks membership once) and draws its tables and charts from those rows, whatever their
kind; nothing is computed in templates.

The columns mean the same for every kind:

- `taken`: people who took part (coupons claimed, flash-sale places admitted, groups joined, bargains started);
- `paid`: of those, how many ended in a paid order (coupons used, admissions paid for);
- `units_left`: what the campaign can still hand out (coupons not yet claimed, units still in the sale), `None`
  when it has no limit;
- `gmv`: what buyers paid on those orders (fen, net of refunds);
- `cost`: what the campaign took off the price (fen): the coupon's discount, the list price minus the sale price.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from commerce.orders.models import OrderStatus
from core.accounts.models import User
from core.accounts.permissions import require_brand_member

# Orders that count as sold: paid, whatever happened after (a refund is netted out of the GMV).
SOLD = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.REFUNDED)


@dataclass(frozen=True)
class CampaignStats:
    kind: str  # "coupon" | "flash_sale" | ... (the registered source's kind)
    campaign_id: int
    name: tuple[str, str]  # (zh-CN, English), as people read it
    taken: int
    paid: int
    units_left: int | None
    gmv: int
    cost: int


@dataclass(frozen=True)
class Totals:
    taken: int
    paid: int
    gmv: int
    cost: int


Source = Callable[[Session, int], list[CampaignStats]]
_SOURCES: dict[str, Source] = {}
# The modules that register a source, imported on first use (they import this module, so not at its import).
# A new kind of campaign adds its module here and calls `register` at its own import.
MODULES = (
    "commerce.marketing.coupons",
    "commerce.marketing.flash_sales",
    "commerce.marketing.bargains",
    "commerce.marketing.group_buys",
)


def register(kind: str, source: Source) -> None:
    """Make `source(session, brand_id)` answer for the brand's campaigns of `kind` (once per kind)."""
    if _SOURCES.get(kind, source) is not source:
        raise ValueError(f"campaign stats source {kind!r} registered twice")
    _SOURCES[kind] = source


def registered() -> list[str]:
    """The kinds in the order of `MODULES` (whichever module happened to be imported first), any others after."""
    for module in MODULES:
        importlib.import_module(module)
    rank = {module: i for i, module in enumerate(MODULES)}
    return sorted(_SOURCES, key=lambda kind: rank.get(getattr(_SOURCES[kind], "__module__", None), len(MODULES)))


def for_brand(
    session: Session, user: User | None, brand_id: int, kinds: Sequence[str] | None = None
) -> list[CampaignStats]:
    """The brand's campaigns of the given kinds (all registered kinds by default), newest first within a kind.
    Members of the brand (and admins) only."""
    require_brand_member(session, user, brand_id)
    known = registered()
    wanted = known if kinds is None else [k for k in kinds if k in known]
    return [row for kind in wanted for row in _SOURCES[kind](session, brand_id)]


def totals(rows: Sequence[CampaignStats]) -> Totals:
    return Totals(sum(r.taken for r in rows), sum(r.paid for r in rows), sum(r.gmv for r in rows),
                  sum(r.cost for r in rows))  # fmt: skip
