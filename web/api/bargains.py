"""砍价 bargains: a brand makes an offer; a buyer starts a bargain; friends help through its link; anyone with the
link reads its disclosed schedule, the cut so far and what is left."""

from __future__ import annotations

import datetime as dt

from pydantic import AwareDatetime, Field

from commerce.marketing import bargains
from commerce.marketing.models import BargainOffer, BargainStatus
from core import extensions
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, endpoint
from web.auth import current_user

TAGS = ["bargains"]


class BargainOfferIn(ApiModel):
    sku_id: int = Field(ge=1)
    floor_fen: int = Field(gt=0, description="the lowest price friends can cut it to, below the SKU's price")
    max_helpers: int = Field(ge=1, le=bargains.MAX_HELPERS, description="helps it takes to reach the floor")
    window_hours: int = Field(ge=1, le=bargains.MAX_WINDOW_HOURS, description="how long a started bargain lasts")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    per_user_limit: int = Field(default=1, ge=1, le=bargains.MAX_PER_USER, description="bargains one buyer starts")


class BargainOfferOut(OutModel):
    id: int
    brand_id: int
    product_id: int
    sku_id: int
    price_fen: int
    floor_fen: int
    max_helpers: int
    window_hours: int
    per_user_limit: int
    starts_at: dt.datetime
    ends_at: dt.datetime


class BargainOfferStatusOut(BargainOfferOut):
    phase: str = Field(description="upcoming | live | ended")
    schedule: list[int] = Field(description="every help's cut in fen, in order; they sum to price − floor")
    my_bargain_id: int | None = Field(description="the caller's bargain on this offer still running, if any")

    @classmethod
    def of(cls, v: bargains.OfferView) -> BargainOfferStatusOut:
        return cls.model_validate(
            {**BargainOfferOut.model_validate(v.offer).model_dump(), "phase": v.phase, "schedule": v.schedule,
             "my_bargain_id": v.mine.id if v.mine else None}
        )  # fmt: skip


class HelperOut(OutModel):
    name: str
    cut_fen: int
    helped_at: dt.datetime


class BargainOut(OutModel):
    id: int
    offer_id: int
    product_id: int
    product_name: str
    sku_id: int
    price_fen: int = Field(description="the price it started from")
    floor_fen: int
    max_helpers: int
    helps_count: int
    schedule: list[int] = Field(description="every help's cut in fen, disclosed up front")
    cut_fen: int = Field(description="taken off so far")
    price_now_fen: int = Field(description="what the buyer pays checking out now")
    left_fen: int = Field(description="what is left to cut down to the floor")
    helps_left: int
    helpers: list[HelperOut]
    phase: str = Field(description="active | floor_reached | expired | ordered")
    status: BargainStatus
    expires_at: dt.datetime
    server_time: dt.datetime
    is_owner: bool
    helped: bool = Field(description="the caller has helped it")

    @classmethod
    def of(cls, v: bargains.BargainView) -> BargainOut:
        b = v.bargain
        return cls(
            id=b.id, offer_id=b.offer_id, product_id=v.offer.product_id, product_name=v.product_name, sku_id=b.sku_id,
            price_fen=b.price_fen, floor_fen=b.floor_fen, max_helpers=b.max_helpers, helps_count=b.helps_count,
            schedule=v.schedule, cut_fen=v.cut_fen, price_now_fen=v.price_now, left_fen=v.left_fen,
            helps_left=v.helps_left, helpers=[HelperOut(name=h.name, cut_fen=h.cut_fen, helped_at=h.helped_at)
                                              for h in v.helpers],
            phase=v.phase, status=b.status, expires_at=b.expires_at, server_time=v.now, is_owner=v.is_owner,
            helped=v.helped,
        )  # fmt: skip


@bp.post("/brands/<int:brand_id>/bargains")
@endpoint(summary="Offer one of the brand's SKUs for 砍价: floor price, helps, how long a bargain lasts", tags=TAGS,
          body=BargainOfferIn, response=BargainOfferOut, status=201, auth="required",
          errors=[403, 404, 422])  # fmt: skip
def create_bargain_offer(brand_id: int, body: BargainOfferIn) -> tuple[BargainOffer, int]:
    return bargains.create_offer(
        extensions.session(), current_user(), brand_id, sku_id=body.sku_id, floor_fen=body.floor_fen,
        max_helpers=body.max_helpers, window_hours=body.window_hours, starts_at=body.starts_at, ends_at=body.ends_at,
        per_user_limit=body.per_user_limit,
    ), 201  # fmt: skip


@bp.get("/brands/<int:brand_id>/bargains")
@endpoint(summary="The brand's bargain offers (members only)", tags=TAGS, response=list[BargainOfferOut],
          auth="required", errors=[403])  # fmt: skip
def list_bargain_offers(brand_id: int) -> list[BargainOfferOut]:
    return [BargainOfferOut.model_validate(o) for o in bargains.list_offers(extensions.session(), current_user(),
                                                                            brand_id)]  # fmt: skip


@bp.get("/products/<int:product_id>/bargains")
@endpoint(summary="The product's bargain offers that have not ended, with their disclosed schedule", tags=TAGS,
          response=list[BargainOfferStatusOut], auth="optional")  # fmt: skip
def product_bargain_offers(product_id: int) -> list[BargainOfferStatusOut]:
    return [BargainOfferStatusOut.of(v) for v in bargains.for_product(extensions.session(), product_id, current_user())]


@bp.get("/videos/<int:video_id>/bargains")
@endpoint(summary="The bargain offers, not ended, of the products linked to a video", tags=TAGS,
          response=list[BargainOfferStatusOut], auth="optional")  # fmt: skip
def video_bargain_offers(video_id: int) -> list[BargainOfferStatusOut]:
    return [BargainOfferStatusOut.of(v) for v in bargains.for_video(extensions.session(), video_id, current_user())]


@bp.post("/bargain-offers/<int:offer_id>/start")
@endpoint(summary="Start a bargain on an offer (or get your running one); 409 bargain_not_started, "
          "bargain_offer_ended, bargain_user_limit", tags=TAGS, response=BargainOut, status=201, auth="required",
          errors=[404, 409])  # fmt: skip
def start_bargain(offer_id: int) -> tuple[BargainOut, int]:
    session, user = extensions.session(), current_user()
    bargain = bargains.start(session, user, offer_id)
    return BargainOut.of(bargains.view(session, bargain.id, user)), 201


@bp.post("/bargains/<int:bargain_id>/help")
@endpoint(summary="Help a friend's bargain: the next disclosed cut; 409 bargain_self_help, bargain_already_helped, "
          "bargain_complete, bargain_expired, bargain_ordered", tags=TAGS, response=BargainOut, status=201,
          auth="required", errors=[404, 409])  # fmt: skip
def help_bargain(bargain_id: int) -> tuple[BargainOut, int]:
    session, user = extensions.session(), current_user()
    bargains.help_bargain(session, user, bargain_id)
    return BargainOut.of(bargains.view(session, bargain_id, user)), 201


@bp.get("/bargains/<int:bargain_id>")
@endpoint(summary="A bargain's state for anyone with its link: schedule, cut so far, what is left, helpers",
          tags=TAGS, response=BargainOut, auth="optional", errors=[404])  # fmt: skip
def bargain_status(bargain_id: int) -> BargainOut:
    return BargainOut.of(bargains.view(extensions.session(), bargain_id, current_user()))
