"""Money-path pages: share links `/s/<token>`, the sandbox provider's hosted pay page, the payment return page."""

from __future__ import annotations

import hashlib
import hmac
import logging

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for

from commerce.attribution import links
from commerce.attribution import service as attribution
from commerce.attribution.links import TargetKind
from commerce.marketing import group_buys
from commerce.orders import lifecycle
from commerce.payments import open_provider
from commerce.payments import service as payments
from commerce.payments.provider import ProviderStatus
from commerce.payments.sandbox import SandboxProvider
from core import clock, extensions
from core.errors import DomainError
from core.money import format_yuan
from web.auth import client_ip_hash, current_user
from web.device import device_for_browser, set_device_cookie
from web.edge import int64

log = logging.getLogger(__name__)

bp = Blueprint("money", __name__, template_folder="templates")

CLICK_COOKIE = "xl_click"


def target_url(kind: TargetKind, target_id: int) -> str:
    """The page a share link lands on: the feed opened at the video, or the product page."""
    if kind == TargetKind.VIDEO:
        return url_for("feed.video", video_id=target_id)
    return url_for("feed.product", product_id=target_id)


@bp.get("/s/<path:token>")
def share_link(token: str) -> Response:
    """Log the click and send the visitor on. A tampered or expired link records nothing and says so, with a way
    on to what was shared (when the link is authentic) and to the feed."""
    settings = extensions.settings()
    policy = extensions.extension("money_policy")
    raw_device, device, new_device = device_for_browser()
    token = token[:400]
    checked = links.check(token, settings.signing_keys(), now=clock.now(), ttl=policy.share_link_ttl)
    if not checked.valid:
        shared = checked.claim if checked.expired else None  # only an authentic claim is worth following
        html = render_template(
            "feed/share_expired.html", expired=checked.expired, target_kind=shared.target_kind if shared else None,
            target_url=target_url(shared.target_kind, shared.target_id) if shared else None,
        )  # fmt: skip
        response = Response(html, status=410 if checked.expired else 404, mimetype="text/html")
    else:
        assert checked.claim is not None
        response = _follow(token, checked.claim, device)
    if new_device:
        set_device_cookie(response, raw_device)
    return response


def _follow(token: str, claim: links.ShareClaim, device: str | None) -> Response:
    settings = extensions.settings()
    policy = extensions.extension("money_policy")
    try:
        user = current_user()
        click = attribution.record_click(
            extensions.session(),
            token,
            keys=settings.signing_keys(),
            policy=policy,
            ip_hash=client_ip_hash(),
            user_agent=request.headers.get("User-Agent", ""),
            referrer=request.headers.get("Referer", ""),
            viewer_id=user.id if user else None,
            device_hash=device,
        )
    except Exception:  # never an error page for an authentic link: the visitor still gets there
        log.exception("share link click not recorded")
        click = None
    if click is None:  # e.g. the sharer's account is gone: no attribution, but the target is still worth seeing
        return redirect(_landing(claim.target_kind, claim.target_id))
    url = _landing(click.target_kind, click.target_id)
    response = redirect(f"{url}{'&' if '?' in url else '?'}click={click.click_id}")
    response.set_cookie(CLICK_COOKIE, click.click_id, max_age=int(policy.attribution_window.total_seconds()),
                        httponly=True, samesite="Lax", secure=settings.session_cookie_secure)  # fmt: skip
    return response


def _landing(kind: TargetKind, target_id: int) -> str:
    """Where a followed link goes: a 拼团 group's page when the product link carries `g=<group id>` of its product
    (the link's signed claim credits the sharer either way), else what was shared."""
    g = request.args.get("g", type=int64)
    group_id = group_buys.landing(extensions.session(), g, kind, target_id) if g else None
    return url_for("feed.group", group_id=group_id) if group_id else target_url(kind, target_id)


def _sandbox() -> SandboxProvider:
    provider = open_provider(extensions.settings(), extensions.session(), "sandbox")
    assert isinstance(provider, SandboxProvider)
    return provider


def _form_token(payment_id: str) -> str:
    secret = extensions.settings().sandbox_secrets()[0]
    return hmac.new(secret, f"pay-page:{payment_id}".encode(), hashlib.sha256).hexdigest()


@bp.get("/sandbox/pay/<payment_id>")
def sandbox_pay_page(payment_id: str) -> str:
    try:
        payment = _sandbox().get_payment(payment_id)
    except DomainError:
        abort(404)
    return render_template(
        "sandbox_pay.html",
        payment=payment,
        amount=format_yuan(payment.amount),
        open=payment.status == ProviderStatus.PENDING,
        form_token=_form_token(payment.id),
    )


@bp.post("/sandbox/pay/<payment_id>")
def sandbox_pay(payment_id: str) -> Response:
    """The buyer pays (or, to test failures, declines). The outcome reaches the merchant by signed webhook."""
    if not hmac.compare_digest(request.form.get("form_token", ""), _form_token(payment_id)):
        abort(400)
    provider = _sandbox()
    session = extensions.session()
    try:
        payment = provider.complete(payment_id, succeed=request.form.get("action") == "pay")
    except DomainError:
        session.rollback()
        return redirect(url_for("money.sandbox_pay_page", payment_id=payment_id))
    session.commit()
    return redirect(payment.return_url)


@bp.get("/pay/return/<int:checkout_id>")
def payment_return(checkout_id: str) -> str:
    """Where the provider sends the buyer back: ask the provider now rather than wait for the webhook."""
    session = extensions.session()
    try:
        checkout = lifecycle.get_checkout(session, current_user(), int(checkout_id))
    except DomainError:
        return render_template("payment_return.html", checkout=None, payment=None)
    payment = None
    if checkout.payment is not None:
        provider = open_provider(extensions.settings(), session)
        payment = payments.sync_payment(session, provider, checkout.payment.id)
    group_id = group_buys.group_of_checkout(session, checkout.id)  # a 拼团 order: back to its group's page
    return render_template("payment_return.html", checkout=checkout, payment=payment, group_id=group_id)
