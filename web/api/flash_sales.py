"""秒杀 flash sales: a brand schedules one; buyers ask for admission; the product page reads its state."""

from __future__ import annotations

import datetime as dt

from pydantic import AwareDatetime, Field

from commerce.marketing import flash_sales
from commerce.marketing.gates import StockGate
from commerce.marketing.models import AdmissionStatus, FlashAdmission, FlashSale
from core import extensions
from web.api.blueprint import bp
from web.api.endpoint import ApiModel, OutModel, endpoint
from web.auth import current_user

TAGS = ["flash-sales"]


class FlashSaleIn(ApiModel):
    sku_id: int = Field(ge=1)
    price_fen: int = Field(gt=0, description="the sale price, below the SKU's")
    quantity: int = Field(ge=1, le=1_000_000, description="units set aside from the SKU's stock")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    per_user_limit: int = Field(default=1, ge=1, le=100, description="units one buyer may take")
    pay_window_seconds: int = Field(default=300, ge=60, le=3600, description="an admitted buyer pays within this")


class FlashSaleOut(OutModel):
    id: int
    brand_id: int
    product_id: int
    sku_id: int
    price_fen: int
    quantity: int
    per_user_limit: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    pay_window_seconds: int


class AdmissionIn(ApiModel):
    quantity: int = Field(default=1, ge=1, le=100)


class AdmissionOut(OutModel):
    admitted: bool = True
    id: int
    sale_id: int
    sku_id: int
    quantity: int
    price_fen: int
    status: AdmissionStatus
    pay_deadline: dt.datetime = Field(description="check out and pay the SKU at the sale price before this")
    order_id: int | None


class FlashSaleStatusOut(FlashSaleOut):
    phase: str = Field(description="upcoming | live | sold_out | ended")
    remaining: int
    server_time: dt.datetime = Field(description="for the countdown: the client's clock may be off")
    admission: AdmissionOut | None = Field(description="the caller's own place in this sale, if any")


def _gate() -> StockGate:
    gate: StockGate = extensions.extension("flash_sale_gate")
    return gate


def _admission(a: FlashAdmission | None) -> AdmissionOut | None:
    return None if a is None else AdmissionOut.model_validate(a)


@bp.post("/brands/<int:brand_id>/flash-sales")
@endpoint(summary="Schedule a flash sale of one of the brand's SKUs", tags=TAGS, body=FlashSaleIn,
          response=FlashSaleOut, status=201, auth="required", errors=[403, 404, 409, 422])  # fmt: skip
def schedule_flash_sale(brand_id: int, body: FlashSaleIn) -> tuple[FlashSale, int]:
    return flash_sales.schedule(
        extensions.session(), current_user(), brand_id, sku_id=body.sku_id, price_fen=body.price_fen,
        quantity=body.quantity, starts_at=body.starts_at, ends_at=body.ends_at, per_user_limit=body.per_user_limit,
        pay_window=dt.timedelta(seconds=body.pay_window_seconds),
    ), 201  # fmt: skip


@bp.get("/brands/<int:brand_id>/flash-sales")
@endpoint(summary="The brand's flash sales (members only)", tags=TAGS, response=list[FlashSaleOut],
          auth="required", errors=[403])  # fmt: skip
def list_flash_sales(brand_id: int) -> list[FlashSaleOut]:
    sales = flash_sales.list_sales(extensions.session(), current_user(), brand_id)
    return [FlashSaleOut.model_validate(s) for s in sales]


@bp.get("/flash-sales/<int:sale_id>")
@endpoint(summary="A flash sale's state for the product page: window, units left, your admission", tags=TAGS,
          response=FlashSaleStatusOut, auth="optional", errors=[404])  # fmt: skip
def flash_sale_status(sale_id: int) -> FlashSaleStatusOut:
    return _status(flash_sales.view(extensions.session(), _gate(), sale_id, current_user()))


def _status(v: flash_sales.SaleView) -> FlashSaleStatusOut:
    return FlashSaleStatusOut.model_validate(
        {**FlashSaleOut.model_validate(v.sale).model_dump(), "phase": v.phase, "remaining": v.remaining,
         "server_time": v.now, "admission": _admission(v.admission)}
    )  # fmt: skip


@bp.get("/products/<int:product_id>/flash-sales")
@endpoint(summary="The product's flash sales that have not ended, soonest first", tags=TAGS,
          response=list[FlashSaleStatusOut], auth="optional")  # fmt: skip
def product_flash_sales(product_id: int) -> list[FlashSaleStatusOut]:
    views = flash_sales.for_product(extensions.session(), _gate(), product_id, current_user())
    return [_status(v) for v in views]


@bp.post("/flash-sales/<int:sale_id>/admission")
@endpoint(summary="Ask for a place in a flash sale: admitted with a pay deadline, or 409 sold_out, "
          "already_admitted, not_started, sale_ended", tags=TAGS, body=AdmissionIn, response=AdmissionOut,
          status=201, auth="required", errors=[404, 409, 422])  # fmt: skip
def admit_to_flash_sale(sale_id: int, body: AdmissionIn) -> tuple[AdmissionOut, int]:
    admission = flash_sales.admit(extensions.session(), _gate(), current_user(), sale_id, quantity=body.quantity)
    return AdmissionOut.model_validate(admission), 201


@bp.get("/videos/<int:video_id>/flash-sales")
@endpoint(summary="The flash sales, not ended, of the products linked to a video, soonest first (the feed's card)",
          tags=TAGS, response=list[FlashSaleStatusOut], auth="optional")  # fmt: skip
def video_flash_sales(video_id: int) -> list[FlashSaleStatusOut]:
    views = flash_sales.for_video(extensions.session(), _gate(), video_id, current_user())
    return [_status(v) for v in views]
