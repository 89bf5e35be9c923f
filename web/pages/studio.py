"""The creator studio: uploads, processing, product links and earnings.

Artists and brand members (who upload too) see their videos with status and counters, upload with a
resumable progress bar, watch processing, link products by scrubbing, and chart their funnel and earnings.
Pages render through the same services as the API; the scripts in static/studio call the API for every change.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template, request
from sqlalchemy import select

from commerce import reports
from commerce.orders import commissions
from core import clock, extensions
from core.accounts.models import Brand, User
from media import videos
from search import engagement
from web.api.reports import ReportOut
from web.api.videos import VideoOut
from web.auth import signed_in_page

bp = Blueprint("studio", __name__, template_folder="../templates")

CHART_DAYS = 30


@bp.get("/studio")
@signed_in_page
def home(user: User) -> str:
    session = extensions.session()
    can_upload = user.is_artist or user.is_admin or bool(user.brand_ids())
    page = videos.list_my_videos(session, user, limit=50) if can_upload else None
    items = page.items if page else []
    counts = engagement.counters(session, [v.id for v in items])
    brands = list(session.scalars(select(Brand).where(Brand.id.in_(user.brand_ids())).order_by(Brand.name)))
    return render_template(
        "studio/home.html",
        can_upload=can_upload,
        as_artist=user.is_artist or user.is_admin,
        brands=brands,
        videos=[(VideoOut.of(v, owner=True), counts.get(v.id)) for v in items],
    )


@bp.get("/studio/videos/<int:video_id>")
@signed_in_page
def video(user: User, video_id: int) -> str:
    found = videos.get_managed_video(extensions.session(), user, video_id)
    return render_template("studio/video.html", video=VideoOut.of(found, owner=True))


@bp.get("/studio/earnings")
@signed_in_page
def earnings(user: User) -> str:
    until = clock.now().date()
    period = reports.Period(since=until - dt.timedelta(days=CHART_DAYS - 1), until=until)
    session = extensions.session()
    report = ReportOut.of(reports.creator_report(session, user, period).with_names(session), period)
    earned, more = commissions.list_commissions(session, user, cursor=request.args.get("cursor"), limit=20)
    return render_template("studio/earnings.html", report=report, commissions=earned, next_cursor=more)
