"""The brand's distributor programme (分销): terms, invites with QR codes, staff import, approval, micro-shops,
the distributor's dashboard and the brand's sales and compliance reports. Nothing is ever paid for joining."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field
from werkzeug.datastructures import FileStorage

from commerce.distribution import reports, service
from commerce.distribution.models import DistributorStatus
from core import extensions
from core.errors import NotFound, ValidationFailed, register_field_labels
from web.api.blueprint import bp
from web.api.catalog import limits, read_upload
from web.api.endpoint import ApiModel, OutModel, QueryModel, endpoint
from web.auth import current_user
from web.i18n import get_locale

TAGS = ["distribution"]

register_field_labels({"from": ("开始日期", "The start date"), "to": ("结束日期", "The end date")})


class RangeQuery(QueryModel):
    """A report's days (UTC, both included); by default the last 30 days."""

    start: dt.date | None = Field(default=None, alias="from", description="first day, default 29 days before `to`")
    end: dt.date | None = Field(default=None, alias="to", description="last day, default today")

    def period(self) -> reports.Period:
        end = self.end or reports.last_days().until
        start = self.start or end - dt.timedelta(days=reports.DEFAULT_DAYS - 1)
        try:
            return reports.Period(start, end)
        except ValidationFailed:  # backwards, or longer than a report covers
            raise ValidationFailed.one("from", "report_range") from None


class RangeOut(OutModel):
    start: dt.date = Field(serialization_alias="from")
    end: dt.date = Field(serialization_alias="to")

    @classmethod
    def of(cls, p: reports.Period) -> RangeOut:
        return cls(start=p.since, end=p.until)


class RateIn(ApiModel):
    product_id: int = Field(ge=1)
    rate_bp: int = Field(ge=0, le=10_000)


class TermsIn(ApiModel):
    binding_days: int = Field(ge=0, le=10_000, description="how long a brought customer stays bound (锁客)")
    default_rate_bp: int = Field(ge=0, le=10_000, description="the distributor's commission, basis points")
    level2_share_bp: int = Field(default=0, ge=0, le=10_000,
                                 description="the inviter's part of that commission; 0: one level only")  # fmt: skip
    product_rates: list[RateIn] | None = Field(default=None, max_length=500,
                                               description="per-product rates; omitted: keep them")  # fmt: skip
    is_open: bool = True
    renew_on_purchase: bool = Field(default=True, description="a paid order starts the customer's binding again")


class RateOut(OutModel):
    product_id: int
    rate_bp: int


class TermsOut(OutModel):
    binding_days: int
    default_rate_bp: int
    level2_share_bp: int
    levels: int = Field(description="commission levels the programme pays: 1 or 2, never more")
    rates: list[RateOut]
    is_open: bool
    renew_on_purchase: bool

    @classmethod
    def of(cls, t: service.Terms) -> TermsOut:
        return cls(binding_days=t.binding_days, default_rate_bp=t.default_rate_bp, level2_share_bp=t.level2_share_bp,
                   levels=2 if t.level2_share_bp else 1,
                   rates=[RateOut(product_id=p, rate_bp=r) for p, r in t.rates.items()],
                   is_open=t.is_open, renew_on_purchase=t.renew_on_purchase)  # fmt: skip


class InviteOut(OutModel):
    token: str
    url: str
    expires_at: dt.datetime
    qr_svg: str = Field(description="the QR code of `url`, an SVG document")


class DistributorOut(OutModel):
    id: int
    brand_id: int
    user_id: int
    name: str
    status: DistributorStatus
    inviter_id: int | None
    store: str
    region: str
    via: str
    joined_at: dt.datetime


def _distributor_out(d: object, name: str) -> DistributorOut:
    fields = ("id", "brand_id", "user_id", "status", "inviter_id", "store", "region", "via", "joined_at")
    return DistributorOut.model_validate({**{k: getattr(d, k) for k in fields}, "name": name})


class DecideIn(ApiModel):
    status: Literal["approved", "suspended", "pending"]
    store: str | None = Field(default=None, max_length=200)
    region: str | None = Field(default=None, max_length=200)


class ImportOut(OutModel):
    created: int
    updated: int


class SalesRowOut(OutModel):
    key: str
    distributor_id: int | None
    store: str
    region: str
    orders: int
    gmv: int
    commission: int


class SalesOut(OutModel):
    period: RangeOut = Field(description="the days of orders paid that this counts")
    gmv: int
    by_distributor: list[SalesRowOut]
    by_store: list[SalesRowOut]


class ComplianceOut(OutModel):
    levels_in_use: list[int]
    paid_by_level: dict[str, int] = Field(description="level -> fen paid net of refunds, read from the ledger")
    recruitment_rewards: int = Field(description="fen paid for joining or recruiting: always 0")
    own_purchase_rebates: int = Field(description="fen paid on a distributor's own purchase: always 0")
    distributors: int
    postings_checked: int
    statement: str


class JoinIn(ApiModel):
    invite: str = Field(min_length=1, max_length=400)
    store: str = Field(default="", max_length=200)
    region: str = Field(default="", max_length=200)


class InvitePreviewOut(OutModel):
    brand_id: int
    brand_name: str
    inviter_name: str | None
    terms: TermsOut


class InviteQuery(ApiModel):
    invite: str = Field(min_length=1, max_length=400)


class MembershipOut(OutModel):
    distributor: DistributorOut
    brand_name: str


class MyOrderOut(OutModel):
    order_id: int
    created_at: dt.datetime
    total: int
    status: str
    level: int
    commission: int


class DashboardOut(OutModel):
    period: RangeOut = Field(description="the days of orders paid that `orders` and `earned` count")
    distributor: DistributorOut
    orders: list[MyOrderOut]
    customers: int
    earned: int
    by_level: dict[str, int]


class PickOut(OutModel):
    product_id: int
    name: str
    price_min_fen: int | None
    picked: bool
    rate_bp: int


class ShopItemOut(OutModel):
    product_id: int
    name: str
    price_min_fen: int | None
    share_url: str


class ShopOut(OutModel):
    distributor_id: int
    owner_name: str
    brand_id: int
    brand_name: str
    store: str
    items: list[ShopItemOut]


class VisitOut(OutModel):
    bound: bool = Field(description="whether this visit bound you to the shop's distributor just now")


def statement(c: reports.Compliance, locale: str) -> str:
    """The compliance statement, in the reader's language."""
    if locale.startswith("en"):
        return (f"Levels paid: {', '.join(map(str, c.levels_in_use)) or 'none'} (at most 2). Paid for recruiting or "
                f"joining: {c.recruitment_rewards} fen; on a distributor's own purchase: {c.own_purchase_rebates} fen. "
                f"Commissions come only from customers' purchases; read from {c.postings_checked} ledger "
                "postings.")  # fmt: skip
    return (f"实际支付的层级：{'、'.join(map(str, c.levels_in_use)) or '无'}（最多两级）。因招募或加入支付的奖励："
            f"{c.recruitment_rewards} 分；分销商自购返利：{c.own_purchase_rebates} 分。佣金只来自顾客的购买；"
            f"依据 {c.postings_checked} 条账本记录计算。")  # fmt: skip


def _keys() -> list[tuple[str, bytes]]:
    return extensions.settings().signing_keys()


def _locale() -> str:
    return get_locale()


# -- the brand --------------------------------------------------------------------------------------------------


@bp.get("/brands/<int:brand_id>/distribution")
@endpoint(summary="The brand's distributor programme terms (members)", tags=TAGS, response=TermsOut,
          auth="required", errors=[403, 404])  # fmt: skip
def get_terms(brand_id: int) -> TermsOut:
    """404 until the brand opens its programme."""
    terms = service.get_terms(extensions.session(), current_user(), brand_id)
    if terms is None:
        raise NotFound("distribution_programme", code="distribution_not_open")
    return TermsOut.of(terms)


def _rates(body: TermsIn) -> list[tuple[int, int]] | None:
    return None if body.product_rates is None else [(r.product_id, r.rate_bp) for r in body.product_rates]


@bp.put("/brands/<int:brand_id>/distribution")
@endpoint(summary="Open the programme or change its terms (members)", tags=TAGS, body=TermsIn, response=TermsOut,
          auth="required", errors=[403, 422])  # fmt: skip
def put_terms(brand_id: int, body: TermsIn) -> TermsOut:
    """No fee to join and no reward for joining or recruiting can be set: the programme pays only on sales."""
    return TermsOut.of(service.set_terms(
        extensions.session(), current_user(), brand_id, binding_days=body.binding_days,
        default_rate_bp=body.default_rate_bp, level2_share_bp=body.level2_share_bp,
        rates=_rates(body), is_open=body.is_open, limits=limits(),
        renew_on_purchase=body.renew_on_purchase,
    ))  # fmt: skip


@bp.post("/brands/<int:brand_id>/distribution/invites")
@endpoint(summary="A signed invite link (7 days) and its QR code", tags=TAGS, response=InviteOut, status=201,
          auth="required", errors=[403, 404])  # fmt: skip
def create_invite(brand_id: int) -> tuple[InviteOut, int]:
    """A brand member invites for the brand; an approved distributor invites their own downline."""
    link = service.create_invite(extensions.session(), current_user(), brand_id, keys=_keys(),
                                 base_url=extensions.settings().public_base_url)  # fmt: skip
    return InviteOut(token=link.token, url=link.url, expires_at=link.expires_at, qr_svg=link.qr_svg), 201


@bp.post("/brands/<int:brand_id>/distributors/import")
@endpoint(summary="Import stores' staff from a CSV (members)", tags=TAGS, upload="file", response=ImportOut,
          auth="required", errors=[403, 404, 413])  # fmt: skip
def import_staff(brand_id: int, file: FileStorage) -> ImportOut:
    """Columns phone (手机号) or email (邮箱), store (门店), region (区域); each row an existing account. All or
    nothing; every bad row is reported. Imported staff are approved."""
    lim = limits()
    data = read_upload(file, lim.import_max_bytes, "csv_too_large")
    s = service.import_staff(extensions.session(), current_user(), brand_id, data, limits=lim)
    return ImportOut(created=s.created, updated=s.updated)


@bp.get("/brands/<int:brand_id>/distributors")
@endpoint(summary="The brand's distributors by region and store (members)", tags=TAGS,
          response=list[DistributorOut], auth="required", errors=[403])  # fmt: skip
def list_distributors(brand_id: int) -> list[DistributorOut]:
    rows = service.list_distributors(extensions.session(), current_user(), brand_id)
    return [_distributor_out(r.distributor, r.user.display_name) for r in rows]


@bp.patch("/brands/<int:brand_id>/distributors/<int:distributor_id>")
@endpoint(summary="Approve or suspend a distributor, or file them under a store (members)", tags=TAGS,
          body=DecideIn, response=DistributorOut, auth="required", errors=[403, 404, 422])  # fmt: skip
def decide(brand_id: int, distributor_id: int, body: DecideIn) -> DistributorOut:
    d = service.decide(extensions.session(), current_user(), brand_id, distributor_id,
                       status=DistributorStatus(body.status), store=body.store, region=body.region)  # fmt: skip
    return _distributor_out(d, "")


@bp.get("/brands/<int:brand_id>/distribution/sales")
@endpoint(summary="Sales per distributor and store, of orders paid in a date range (members)", tags=TAGS,
          query=RangeQuery, response=SalesOut, auth="required", errors=[403, 422])  # fmt: skip
def sales(brand_id: int, query: RangeQuery) -> SalesOut:
    s = reports.brand_sales(extensions.session(), current_user(), brand_id, query.period())
    return SalesOut(period=RangeOut.of(s.period), gmv=s.gmv,
                    by_distributor=[SalesRowOut.model_validate(vars(r)) for r in s.by_distributor],
                    by_store=[SalesRowOut.model_validate(vars(r)) for r in s.by_store])  # fmt: skip


def compliance_out(c: reports.Compliance) -> ComplianceOut:
    return ComplianceOut(levels_in_use=c.levels_in_use, paid_by_level={str(k): v for k, v in c.paid_by_level.items()},
                         recruitment_rewards=c.recruitment_rewards, own_purchase_rebates=c.own_purchase_rebates,
                         distributors=c.distributors, postings_checked=c.postings_checked,
                         statement=statement(c, _locale()))  # fmt: skip


@bp.get("/brands/<int:brand_id>/distribution/compliance")
@endpoint(summary="Compliance: levels paid, commission per level, recruitment rewards (from the ledger)", tags=TAGS,
          response=ComplianceOut, auth="required", errors=[403])  # fmt: skip
def compliance(brand_id: int) -> ComplianceOut:
    return compliance_out(reports.compliance(extensions.session(), current_user(), brand_id))


# -- joining ----------------------------------------------------------------------------------------------------


@bp.get("/distribution/invite")
@endpoint(summary="What an invite link offers", tags=TAGS, query=InviteQuery, response=InvitePreviewOut,
          errors=[404, 422])  # fmt: skip
def preview_invite(query: InviteQuery) -> InvitePreviewOut:
    p = service.preview_invite(extensions.session(), query.invite, keys=_keys())
    return InvitePreviewOut(brand_id=p.brand.id, brand_name=p.brand.name,
                            inviter_name=p.inviter.display_name if p.inviter else None,
                            terms=TermsOut.of(p.terms))  # fmt: skip


@bp.post("/distribution/join")
@endpoint(summary="Accept an invite: join the brand's programme (free; the brand approves)", tags=TAGS, body=JoinIn,
          response=DistributorOut, status=201, auth="required", errors=[404, 409, 422])  # fmt: skip
def join(body: JoinIn) -> tuple[DistributorOut, int]:
    user = current_user()
    d = service.accept_invite(extensions.session(), user, body.invite, keys=_keys(), store=body.store,
                              region=body.region)  # fmt: skip
    return _distributor_out(d, user.display_name if user else ""), 201


# -- the distributor --------------------------------------------------------------------------------------------


@bp.get("/me/distribution")
@endpoint(summary="The programmes you are in", tags=TAGS, response=list[MembershipOut], auth="required")
def memberships() -> list[MembershipOut]:
    user = current_user()
    return [MembershipOut(distributor=_distributor_out(d, user.display_name if user else ""), brand_name=b.name)
            for d, b in service.my_distributorships(extensions.session(), user)]  # fmt: skip


@bp.get("/me/distribution/<int:distributor_id>")
@endpoint(summary="Your orders, customers and earnings as a distributor, over a date range", tags=TAGS,
          query=RangeQuery, response=DashboardOut, auth="required", errors=[404, 422])  # fmt: skip
def dashboard(distributor_id: int, query: RangeQuery) -> DashboardOut:
    """Orders paid in the range and what you earned on them; customers bound now. Earnings are paid out through
    your wallet, like every other commission."""
    user = current_user()
    dash = reports.dashboard(extensions.session(), user, distributor_id, query.period())
    return DashboardOut(
        period=RangeOut.of(dash.period),
        distributor=_distributor_out(dash.distributor, user.display_name if user else ""),
        orders=[MyOrderOut.model_validate(vars(o)) for o in dash.orders], customers=dash.customers,
        earned=dash.earned, by_level={str(k): v for k, v in dash.by_level.items()},
    )  # fmt: skip


@bp.get("/me/distribution/<int:distributor_id>/catalog")
@endpoint(summary="The brand's products to pick for your shop, with their rates", tags=TAGS,
          response=list[PickOut], auth="required", errors=[403, 404])  # fmt: skip
def catalog(distributor_id: int) -> list[PickOut]:
    return [PickOut(product_id=p.id, name=p.name, price_min_fen=p.price_min_fen, picked=picked, rate_bp=rate)
            for p, picked, rate in service.catalog_for(extensions.session(), current_user(),
                                                       distributor_id)]  # fmt: skip


@bp.put("/me/distribution/<int:distributor_id>/picks/<int:product_id>")
@endpoint(summary="Show a product in your shop", tags=TAGS, status=204, auth="required", errors=[403, 404, 422])
def add_pick(distributor_id: int, product_id: int) -> tuple[None, int]:
    service.pick(extensions.session(), current_user(), distributor_id, product_id)
    return None, 204


@bp.delete("/me/distribution/<int:distributor_id>/picks/<int:product_id>")
@endpoint(summary="Take a product out of your shop", tags=TAGS, status=204, auth="required", errors=[403, 404, 422])
def remove_pick(distributor_id: int, product_id: int) -> tuple[None, int]:
    service.pick(extensions.session(), current_user(), distributor_id, product_id, on=False)
    return None, 204


# -- the shop ---------------------------------------------------------------------------------------------------


def shop_out(distributor_id: int) -> ShopOut:
    s = service.shop(extensions.session(), distributor_id, keys=_keys(), base_url=extensions.settings().public_base_url)
    return ShopOut(distributor_id=s.distributor.id, owner_name=s.owner.display_name, brand_id=s.brand.id,
                   brand_name=s.brand.name, store=s.distributor.store,
                   items=[ShopItemOut(product_id=i.product.id, name=i.product.name,
                                      price_min_fen=i.product.price_min_fen, share_url=i.share_url)
                          for i in s.items])  # fmt: skip


@bp.get("/shops/<int:distributor_id>")
@endpoint(summary="A distributor's micro-shop: their picks, each with their share link", tags=TAGS,
          response=ShopOut, errors=[404])  # fmt: skip
def get_shop(distributor_id: int) -> ShopOut:
    return shop_out(distributor_id)


@bp.post("/shops/<int:distributor_id>/visits")
@endpoint(summary="A signed-in customer came through this shop (binds them if nobody holds them)", tags=TAGS,
          response=VisitOut, auth="required", errors=[404])  # fmt: skip
def visit(distributor_id: int) -> VisitOut:
    return VisitOut(bound=service.visit_shop(extensions.session(), current_user(), distributor_id))
