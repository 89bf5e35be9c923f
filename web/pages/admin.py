"""The admin console (`/admin`, admins only): the review queue and each review, and the moderation audit log.

Pages render through the moderation services the API uses; the page script posts decisions to the API.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request
from werkzeug.wrappers import Response

from core import extensions
from core.accounts.models import User
from core.accounts.permissions import require_admin
from moderation import audit, cases, review
from web.api.moderation import ActionOut, DetailOut, ItemOut
from web.api.orders import OrderLineOut
from web.auth import signed_in_page

bp = Blueprint("admin", __name__, template_folder="../templates")


@bp.get("/admin")
@signed_in_page
def home(user: User) -> Response:
    require_admin(user)
    return redirect("/admin/reviews")


@bp.get("/admin/reviews")
@signed_in_page
def queue(user: User) -> str:
    session = extensions.session()
    items, _ = review.queue(session, user, limit=100)
    titles = review.titles(session, items)
    return render_template("admin/queue.html", items=[ItemOut.of(i, titles[i.id]) for i in items])


@bp.get("/admin/reviews/<int:item_id>")
@signed_in_page
def item(user: User, item_id: int) -> str:
    return render_template(
        "admin/review.html", d=DetailOut.of(review.review_detail(extensions.session(), user, item_id))
    )


@bp.get("/admin/holds")
@signed_in_page
def holds(user: User) -> str:
    lines = cases.held_lines(extensions.session(), user)
    return render_template("admin/holds.html", lines=[OrderLineOut.model_validate(ln) for ln in lines])


@bp.get("/admin/disputes")
@signed_in_page
def disputes(user: User) -> str:
    return render_template("admin/disputes.html", open=cases.open_disputes(extensions.session(), user))


@bp.get("/admin/users")
@signed_in_page
def users(user: User) -> str:
    require_admin(user)
    q = request.args.get("q", "")[:254]
    found = cases.find_user(extensions.session(), user, q) if q.strip() else None
    return render_template("admin/users.html", q=q, found=found)


@bp.get("/admin/audit")
@signed_in_page
def audit_log(user: User) -> str:
    entries, _ = audit.history(extensions.session(), user, limit=200)
    return render_template("admin/audit.html", entries=[ActionOut.of(a) for a in entries])
