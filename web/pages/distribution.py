"""Distribution pages: the brand's distributors (/brand/<id>/distributors: terms, invite + QR, CSV import,
approval, charts, and the compliance page), the invite landing page, the distributor's dashboard
(/me/distribution) and their public micro-shop (/shop/<id>). Changes go through the JSON API from
static/distribution/distribution.js."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from pydantic import ValidationError

from commerce.distribution import reports, service
from commerce.distribution.models import DistributorStatus
from core import extensions
from core.accounts.models import User
from core.errors import DomainError, translate
from web.api.distribution import RangeQuery, compliance_out, shop_out
from web.auth import current_user, signed_in_page
from web.i18n import pick
from web.pages.brand import _render

bp = Blueprint("distribution", __name__, template_folder="../templates")

STATUS_NAMES = {"pending": ("待审核", "Waiting for approval"), "approved": ("已通过", "Approved"),
                "suspended": ("已暂停", "Suspended")}  # fmt: skip


def status_name(status: DistributorStatus | str) -> str:
    return pick(STATUS_NAMES, str(status))


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"pct": lambda bp: f"{bp / 100:g}", "status_name": status_name}


def _period() -> tuple[reports.Period, str | None]:
    """The days the page's filter form asks for (`from`, `to`; default the last 30), and what was wrong with them
    (the page then shows the default range and says so)."""
    asked = {k: v for k in ("from", "to") if (v := request.args.get(k, ""))}
    try:
        return RangeQuery.model_validate(asked).period(), None
    except (ValidationError, DomainError):
        return reports.last_days(), translate("report_range", _locale())


@bp.get("/brand/<int:brand_id>/distributors")
@signed_in_page
def brand_distributors(user: User, brand_id: int) -> str | Response:
    """Terms, invite with its QR code, staff CSV import, the distributors to approve, and sales charts."""
    session = extensions.session()
    terms = service.get_terms(session, user, brand_id)
    rows = service.list_distributors(session, user, brand_id)
    period, range_error = _period()
    sales = reports.brand_sales(session, user, brand_id, period)
    return _render("distribution/brand.html", user, brand_id, "distributors", terms=terms, rows=rows, sales=sales,
                   period=period, range_error=range_error)  # fmt: skip


@bp.get("/brand/<int:brand_id>/distributors/compliance")
@signed_in_page
def brand_compliance(user: User, brand_id: int) -> str | Response:
    """Levels paid, commission per level and rewards for recruiting, read from the ledger, with the statement."""
    report = compliance_out(reports.compliance(extensions.session(), user, brand_id))
    return _render("distribution/compliance.html", user, brand_id, "distributors", report=report)


@bp.get("/distribution/join/<path:token>")
@signed_in_page
def join(user: User, token: str) -> str | Response:
    """What the invite offers (and that joining is free), with a button to accept it."""
    try:
        preview = service.preview_invite(extensions.session(), token, keys=extensions.settings().signing_keys())
    except DomainError as e:  # forged, expired, or the programme closed: say which
        said = translate(e.fields[0].code, _locale(), e.fields[0].params) if e.fields else e.message(_locale())
        return render_template("error.html", status=410, message=said), 410  # type: ignore[return-value]
    return render_template("distribution/join.html", preview=preview, token=token[:400])


def _locale() -> str:
    from web.i18n import get_locale

    return get_locale()


@bp.get("/me/distribution")
@signed_in_page
def my_distribution(user: User) -> str | Response:
    """Each programme the user is in: status, shop link, products to pick, orders, customers and earnings."""
    session = extensions.session()
    period, range_error = _period()
    cards = []
    for d, brand in service.my_distributorships(session, user):
        approved = d.status == DistributorStatus.APPROVED
        cards.append({
            "distributor": d, "brand": brand, "approved": approved,
            "dashboard": reports.dashboard(session, user, d.id, period),
            "catalog": service.catalog_for(session, user, d.id) if approved and _open(d.brand_id) else [],
        })  # fmt: skip
    return render_template("distribution/me.html", cards=cards, period=period, range_error=range_error)


def _open(brand_id: int) -> bool:
    programme = service.programme_of(extensions.session(), brand_id)
    return programme is not None and programme.is_open


@bp.get("/shop/<int:distributor_id>")
def shop(distributor_id: int) -> str | Response:
    """A distributor's public micro-shop; a signed-in visitor is bound to them by the page's script."""
    found = shop_out(distributor_id)
    return render_template("distribution/shop.html", shop=found, signed_in=current_user() is not None)
