"""A brand's marketing campaigns in one list (coupons, 秒杀 flash sales, and kinds registered later), with the
figures its dashboard charts: `commerce.marketing.campaign_stats`."""

from __future__ import annotations

from pydantic import Field

from commerce.marketing import campaign_stats
from core import extensions
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, endpoint
from web.auth import current_user
from web.i18n import t

TAGS = ["marketing"]


class CampaignStatsQuery(ApiModel):
    kind: str | None = Field(default=None, max_length=32, description="only this kind: coupon, flash_sale, ...")


class CampaignStatsOut(OutModel):
    kind: str
    campaign_id: int
    name: str
    taken: int = Field(description="people who took part: coupons claimed, flash-sale places admitted, ...")
    paid: int = Field(description="of those, how many ended in a paid order")
    units_left: int | None = Field(description="what the campaign can still hand out; null when unlimited")
    gmv: int = Field(description="what buyers paid on those orders, fen, net of refunds")
    cost: int = Field(description="what the campaign took off the price, fen")


@bp.get("/brands/<int:brand_id>/campaign-stats")
@endpoint(summary="The brand's campaigns of every kind with their figures (members only)", tags=TAGS,
          query=CampaignStatsQuery, response=list[CampaignStatsOut], auth="required", errors=[403])  # fmt: skip
def brand_campaign_stats(brand_id: int, query: CampaignStatsQuery) -> list[CampaignStatsOut]:
    kinds = None if query.kind is None else [query.kind]
    rows = campaign_stats.for_brand(extensions.session(), current_user(), brand_id, kinds)
    return [CampaignStatsOut.model_validate({**vars(r), "name": t(*r.name)}) for r in rows]
