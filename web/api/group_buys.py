"""拼团 group buys: a brand offers one; buyers open a group or join one through its share link; the group page reads
its state."""

from __future__ import annotations

import datetime as dt

from pydantic import AwareDatetime, Field

from commerce.marketing import group_buys
from commerce.marketing.models import GroupBuyOffer, GroupBuySeat, GroupStatus, SeatStatus
from core import clock, extensions
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, endpoint
from web.auth import current_user
from web.device import device_hash
from web.ratelimit import rate_limited

TAGS = ["group-buys"]


class GroupBuyOfferIn(ApiModel):
    sku_id: int = Field(ge=1)
    price_fen: int = Field(gt=0, description="the group price, below the SKU's")
    group_size: int = Field(ge=2, le=50, description="members who must pay for the group to complete")
    window_hours: int = Field(default=24, ge=1, le=72, description="hours a group has to fill once opened")
    member_limit: int = Field(default=1, ge=1, le=10, description="units one member buys at the group price")
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class GroupBuyOfferOut(OutModel):
    id: int
    brand_id: int
    product_id: int
    sku_id: int
    price_fen: int
    group_size: int
    window_seconds: int
    member_limit: int
    starts_at: dt.datetime
    ends_at: dt.datetime

    @classmethod
    def of(cls, o: GroupBuyOffer) -> GroupBuyOfferOut:
        return cls.model_validate({**{k: getattr(o, k) for k in cls.model_fields if k != "member_limit"},
                                   "member_limit": o.per_user_limit})  # fmt: skip


class OpenGroupOut(OutModel):
    id: int
    members: int
    size: int
    expires_at: dt.datetime


class ProductGroupBuyOut(GroupBuyOfferOut):
    phase: str = Field(description="upcoming | live | ended (whether a group can be opened)")
    server_time: dt.datetime
    open_groups: list[OpenGroupOut] = Field(description="groups still waiting for members, ending first first")


class SeatOut(OutModel):
    id: int
    group_id: int
    sku_id: int
    price_fen: int
    is_leader: bool
    status: SeatStatus
    order_id: int | None


class GroupOut(OutModel):
    id: int
    offer: GroupBuyOfferOut
    product_name: str
    leader_id: int
    size: int
    members: int
    paid: int
    status: GroupStatus
    phase: str = Field(description="open | completed | failed (an open group past its window reads as failed)")
    expires_at: dt.datetime
    server_time: dt.datetime = Field(description="for the countdown: the client's clock may be off")
    seat: SeatOut | None = Field(description="the caller's own seat in this group, if any")


class ShareLinkOut(OutModel):
    url: str = Field(description="the product's signed share link with g=<group id>: followers land on the group")


def _group(v: group_buys.GroupView) -> GroupOut:
    g = v.group
    return GroupOut(
        id=g.id, offer=GroupBuyOfferOut.of(v.offer), product_name=v.product_name, leader_id=g.leader_id, size=g.size,
        members=g.members, paid=g.paid, status=g.status, phase=v.phase, expires_at=g.expires_at, server_time=v.now,
        seat=None if v.seat is None else SeatOut.model_validate(v.seat),
    )  # fmt: skip


def _offers(offers: list[GroupBuyOffer]) -> list[ProductGroupBuyOut]:
    session = extensions.session()
    now = clock.now()
    return [
        ProductGroupBuyOut.model_validate(
            {**GroupBuyOfferOut.of(o).model_dump(), "phase": group_buys.phase_of(o, now), "server_time": now,
             "open_groups": [OpenGroupOut.model_validate(g) for g in group_buys.open_groups(session, o.id)]}
        )
        for o in offers
    ]  # fmt: skip


@bp.post("/brands/<int:brand_id>/group-buys")
@endpoint(summary="Offer one of the brand's SKUs at a group price (拼团)", tags=TAGS, body=GroupBuyOfferIn,
          response=GroupBuyOfferOut, status=201, auth="required", errors=[403, 404, 422])  # fmt: skip
def create_group_buy(brand_id: int, body: GroupBuyOfferIn) -> tuple[GroupBuyOfferOut, int]:
    offer = group_buys.create_offer(
        extensions.session(), current_user(), brand_id, sku_id=body.sku_id, price_fen=body.price_fen,
        group_size=body.group_size, window_hours=body.window_hours, starts_at=body.starts_at, ends_at=body.ends_at,
        per_user_limit=body.member_limit,
    )  # fmt: skip
    return GroupBuyOfferOut.of(offer), 201


@bp.get("/brands/<int:brand_id>/group-buys")
@endpoint(summary="The brand's group-buy offers (members only)", tags=TAGS, response=list[GroupBuyOfferOut],
          auth="required", errors=[403])  # fmt: skip
def list_group_buys(brand_id: int) -> list[GroupBuyOfferOut]:
    return [GroupBuyOfferOut.of(o) for o in group_buys.list_offers(extensions.session(), current_user(), brand_id)]


@bp.get("/products/<int:product_id>/group-buys")
@endpoint(summary="The product's group-buy offers that have not ended, with their open groups", tags=TAGS,
          response=list[ProductGroupBuyOut], auth="optional")  # fmt: skip
def product_group_buys(product_id: int) -> list[ProductGroupBuyOut]:
    return _offers(group_buys.for_product(extensions.session(), product_id))


@bp.get("/videos/<int:video_id>/group-buys")
@endpoint(summary="The group-buy offers, not ended, of the products linked to a video", tags=TAGS,
          response=list[ProductGroupBuyOut], auth="optional")  # fmt: skip
def video_group_buys(video_id: int) -> list[ProductGroupBuyOut]:
    return _offers(group_buys.for_video(extensions.session(), video_id))


@bp.post("/group-buys/<int:offer_id>/groups")
@endpoint(summary="Open a group at the group price (you are its leader); then check out the SKU to pay", tags=TAGS,
          response=SeatOut, status=201, auth="required", errors=[404, 409])  # fmt: skip
def open_group_buy(offer_id: int) -> tuple[SeatOut, int]:
    seat: GroupBuySeat = group_buys.open_group(extensions.session(), current_user(), offer_id)
    return SeatOut.model_validate(seat), 201


@bp.post("/group-buys/groups/<int:group_id>/join")
@endpoint(summary="Join an open group: a seat at the group price, or 409 group_full, group_closed, "
          "group_already_joined", tags=TAGS, response=SeatOut, status=201, auth="required",
          errors=[404, 409])  # fmt: skip
def join_group_buy(group_id: int) -> tuple[SeatOut, int]:
    return SeatOut.model_validate(group_buys.join(extensions.session(), current_user(), group_id)), 201


@bp.get("/group-buys/groups/<int:group_id>")
@endpoint(summary="A group's state: members of N, paid, time left, your seat", tags=TAGS, response=GroupOut,
          auth="optional", errors=[404])  # fmt: skip
def group_buy_status(group_id: int) -> GroupOut:
    return _group(group_buys.view(extensions.session(), group_id, current_user()))


@bp.post("/group-buys/groups/<int:group_id>/share-link")
@rate_limited("share_links")
@endpoint(summary="Your share link to a group: the product's signed link (you as sharer) with g=<group id>",
          tags=TAGS, response=ShareLinkOut, status=201, auth="required", errors=[404])  # fmt: skip
def group_buy_share_link(group_id: int) -> tuple[ShareLinkOut, int]:
    settings = extensions.settings()
    url = group_buys.share_link(
        extensions.session(), current_user(), group_id, keys=settings.signing_keys(),
        policy=extensions.extension("money_policy"), base_url=settings.public_base_url, device_hash=device_hash(),
    )  # fmt: skip
    return ShareLinkOut(url=url), 201
