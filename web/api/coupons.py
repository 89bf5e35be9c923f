"""Coupons: brands and admins create and grant them, with their numbers; buyers claim them into their wallet."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, Field

from commerce.marketing import coupons
from commerce.orders.models import Coupon, CouponFunding, CouponKind, UserCoupon, UserCouponStatus
from core import extensions
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, endpoint
from web.auth import current_user
from web.i18n import t

TAGS = ["coupons"]


class CouponIn(ApiModel):
    code: str | None = Field(default=None, min_length=3, max_length=32, description="typed at checkout; none: claim")
    name: str = Field(default="", max_length=60)
    kind: Literal["amount", "percent", "threshold"]
    value: int = Field(gt=0, description="fen off, or basis points off for `percent`")
    max_discount: int | None = Field(default=None, gt=0, description="the cap of a `percent` coupon, fen")
    min_subtotal: int = Field(default=0, ge=0, description="the eligible items must reach this (满减's 满), fen")
    product_ids: list[int] | None = Field(default=None, max_length=100, description="only these products")
    max_uses: int | None = Field(default=None, ge=1, description="how many can be handed out in all")
    per_user_limit: int = Field(default=1, ge=1, le=100)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None


class PlatformCouponIn(CouponIn):
    brand_id: int | None = Field(default=None, ge=1, description="only this brand's products; none: every product")


class CouponOut(OutModel):
    id: int
    brand_id: int | None
    code: str | None
    name: str
    funded_by: CouponFunding
    kind: CouponKind
    value: int
    max_discount: int | None
    min_subtotal: int
    product_ids: list[int] | None
    max_uses: int | None
    per_user_limit: int
    claimed_count: int
    used_count: int
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    is_active: bool


class CouponStatsOut(CouponOut):
    claimed: int = Field(description="handed out (claimed, granted, or typed at checkout)")
    used: int = Field(description="on orders that were paid")
    gmv: int = Field(description="what buyers paid on those orders (less refunds), fen")
    cost: int = Field(description="what the coupon took off those orders, fen")


class OfferedCouponOut(CouponOut):
    held: int = Field(description="how many of it the caller holds already")
    label: str = Field(description="what it gives, in the request's language (满 ¥199 减 ¥30)")


class WalletCouponOut(OutModel):
    id: int
    status: UserCouponStatus
    source: str
    order_id: int | None
    discount: int
    claimed_at: dt.datetime
    coupon: CouponOut


class GrantIn(ApiModel):
    user_ids: list[int] = Field(min_length=1, max_length=coupons.MAX_GRANT)


class GrantOut(OutModel):
    granted: list[int]
    refused: dict[int, str] = Field(description="user id -> why not (an error code)")


def _create(brand_id: int | None, body: CouponIn, funded_by: CouponFunding) -> tuple[Coupon, int]:
    return coupons.create_coupon(
        extensions.session(), current_user(), brand_id, funded_by=funded_by, code=body.code, name=body.name,
        kind=CouponKind(body.kind), value=body.value, max_discount=body.max_discount, min_subtotal=body.min_subtotal,
        product_ids=body.product_ids, max_uses=body.max_uses, per_user_limit=body.per_user_limit,
        starts_at=body.starts_at, ends_at=body.ends_at,
    ), 201  # fmt: skip


def _with_stats(rows: list[Coupon]) -> list[CouponStatsOut]:
    numbers = coupons.stats(extensions.session(), [c.id for c in rows])
    return [
        CouponStatsOut.model_validate({**CouponOut.model_validate(c).model_dump(), **vars(numbers[c.id])}) for c in rows
    ]


@bp.post("/brands/<int:brand_id>/coupons")
@endpoint(summary="Create a brand-funded coupon for the brand's products", tags=["brands"], body=CouponIn,
          response=CouponOut, status=201, auth="required", errors=[403, 409, 422])  # fmt: skip
def create_coupon(brand_id: int, body: CouponIn) -> tuple[Coupon, int]:
    return _create(brand_id, body, CouponFunding.BRAND)


@bp.get("/brands/<int:brand_id>/coupons")
@endpoint(summary="The brand's coupons with claimed, used, GMV and cost (members only)", tags=["brands"],
          response=list[CouponStatsOut], auth="required", errors=[403])  # fmt: skip
def list_coupons(brand_id: int) -> list[CouponStatsOut]:
    return _with_stats(coupons.list_coupons(extensions.session(), current_user(), brand_id))


@bp.delete("/brands/<int:brand_id>/coupons/<int:coupon_id>")
@endpoint(summary="Stop a coupon", tags=["brands"], status=204, auth="required", errors=[403, 404])
def delete_coupon(brand_id: int, coupon_id: int) -> tuple[None, int]:
    coupons.deactivate_coupon(extensions.session(), current_user(), brand_id, coupon_id)
    return None, 204


@bp.post("/brands/<int:brand_id>/coupons/<int:coupon_id>/grants")
@endpoint(summary="Give the brand's coupon to listed users", tags=["brands"], body=GrantIn, response=GrantOut,
          auth="required", idempotent=True, errors=[403, 404, 422])  # fmt: skip
def grant_brand_coupon(brand_id: int, coupon_id: int, body: GrantIn) -> GrantOut:
    result = coupons.grant(extensions.session(), current_user(), brand_id, coupon_id, body.user_ids)
    return GrantOut(granted=result.granted, refused=result.refused)


@bp.post("/admin/coupons")
@endpoint(summary="Create a platform-funded coupon (admin)", tags=["admin"], body=PlatformCouponIn,
          response=CouponOut, status=201, auth="required", errors=[403, 409, 422])  # fmt: skip
def create_platform_coupon(body: PlatformCouponIn) -> tuple[Coupon, int]:
    return _create(body.brand_id, body, CouponFunding.PLATFORM)


@bp.post("/admin/coupons/<int:coupon_id>/grants")
@endpoint(summary="Give a platform coupon to listed users (admin)", tags=["admin"], body=GrantIn,
          response=GrantOut, auth="required", idempotent=True, errors=[403, 404, 422])  # fmt: skip
def grant_platform_coupon(coupon_id: int, body: GrantIn) -> GrantOut:
    result = coupons.grant(extensions.session(), current_user(), None, coupon_id, body.user_ids)
    return GrantOut(granted=result.granted, refused=result.refused)


@bp.get("/products/<int:product_id>/coupons")
@endpoint(summary="The coupons a product page offers to claim", tags=TAGS, response=list[OfferedCouponOut],
          auth="optional", errors=[404])  # fmt: skip
def product_coupons(product_id: int) -> list[OfferedCouponOut]:
    offered = coupons.claimable_for_product(extensions.session(), current_user(), product_id)
    return [
        OfferedCouponOut.model_validate(
            {**CouponOut.model_validate(c).model_dump(), "held": n, "label": t(*coupons.describe(c))}
        )
        for c, n in offered
    ]


@bp.post("/coupons/<int:coupon_id>/claim")
@endpoint(summary="Claim a coupon into the wallet", tags=TAGS, response=WalletCouponOut, status=201,
          auth="required", errors=[404, 409])  # fmt: skip
def claim_coupon(coupon_id: int) -> tuple[UserCoupon, int]:
    return coupons.claim(extensions.session(), current_user(), coupon_id), 201


@bp.get("/me/coupons")
@endpoint(summary="The caller's wallet of coupons", tags=TAGS, response=list[WalletCouponOut], auth="required")
def my_coupons() -> list[WalletCouponOut]:
    return [WalletCouponOut.model_validate(uc) for uc in coupons.wallet(extensions.session(), current_user())]
