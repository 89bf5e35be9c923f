"""Sales and earnings reports, always about the caller's own money (or their brand's)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from commerce import reports
from core import clock, extensions
from web.api.blueprint import bp
from web.api.endpoint import OutModel, QueryModel, endpoint
from web.auth import current_user

TAGS = ["reports"]


class PeriodQuery(QueryModel):
    since: dt.date | None = Field(default=None, description="first day (UTC), default 29 days before `until`")
    until: dt.date | None = Field(default=None, description="last day (UTC), default today")

    def period(self) -> reports.Period:
        until = self.until or clock.now().date()
        return reports.Period(since=self.since or until - dt.timedelta(days=29), until=until)


class SalesOut(OutModel):
    gmv: int = Field(description="fen paid by buyers, net of refunds")
    orders: int
    units: int
    refunded: int
    commission: int = Field(
        description="what the report's holder earned (brand report: per artist/sharer, paid to them)"
    )


class FunnelOut(OutModel):
    views: int
    product_clicks: int
    orders: int
    conversion_bp: int = Field(description="orders per view, basis points")


class EarningsOut(OutModel):
    pending: int
    available: int
    clawback_owed: int
    paid_out: int


class EarnedOut(OutModel):
    pending: int = Field(description="fen earned on the day's sales still held or in the return window")
    settled: int = Field(description="fen earned on the day's sales that reached the available balance")


class DayOut(SalesOut):
    day: dt.date
    funnel: FunnelOut = Field(description="views and product clicks that day; orders paid that day")
    earned: EarnedOut = Field(description="what the report's holder earned on the day's sales, by where it stands")


class VideoOut(SalesOut):
    video_id: int
    title: str
    funnel: FunnelOut


class PartyOut(SalesOut):
    user_id: int
    name: str


class ReportOut(OutModel):
    since: dt.date
    until: dt.date
    sales: SalesOut
    earnings: EarningsOut
    funnel: FunnelOut
    by_day: list[DayOut]
    by_video: list[VideoOut]
    by_artist: list[PartyOut]
    by_sharer: list[PartyOut]

    @classmethod
    def of(cls, r: reports.Report, period: reports.Period) -> ReportOut:
        def sales(s: reports.Sales) -> dict[str, int]:
            return {
                "gmv": s.gmv,
                "orders": s.orders,
                "units": s.units,
                "refunded": s.refunded,
                "commission": s.commission,
            }

        def funnel(f: reports.Funnel) -> FunnelOut:
            return FunnelOut(views=f.views, product_clicks=f.product_clicks, orders=f.orders,
                             conversion_bp=f.conversion_bp)  # fmt: skip

        return cls(
            since=period.since,
            until=period.until,
            sales=SalesOut(**sales(r.sales)),
            earnings=EarningsOut(**vars(r.earnings)),
            funnel=funnel(r.funnel),
            by_day=[
                DayOut(
                    day=d, funnel=funnel(r.funnel_by_day[d]), earned=EarnedOut(**vars(r.earned_by_day[d])), **sales(s)
                )
                for d, s in r.by_day.items()
            ],
            by_video=[
                VideoOut(video_id=v, title=r.video_titles.get(v, ""), funnel=funnel(f), **sales(s))
                for v, (s, f) in r.by_video.items()
            ],
            by_artist=[PartyOut(user_id=u, name=r.user_names.get(u, ""), **sales(s)) for u, s in r.by_artist.items()],
            by_sharer=[PartyOut(user_id=u, name=r.user_names.get(u, ""), **sales(s)) for u, s in r.by_sharer.items()],
        )


@bp.get("/reports/me")
@endpoint(summary="Your sales as artist and sharer, funnel and earnings", tags=TAGS, query=PeriodQuery,
          response=ReportOut, auth="required", errors=[422])  # fmt: skip
def my_report(query: PeriodQuery) -> ReportOut:
    period = query.period()
    session = extensions.session()
    return ReportOut.of(reports.creator_report(session, current_user(), period).with_names(session), period)


@bp.get("/reports/brands/<int:brand_id>")
@endpoint(summary="A brand's sales by day, video, artist and sharer (members only)", tags=TAGS, query=PeriodQuery,
          response=ReportOut, auth="required", errors=[403, 422])  # fmt: skip
def brand_report(brand_id: int, query: PeriodQuery) -> ReportOut:
    period = query.period()
    session = extensions.session()
    return ReportOut.of(reports.brand_report(session, current_user(), brand_id, period).with_names(session), period)
