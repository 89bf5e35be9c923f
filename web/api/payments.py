"""Payment notifications from providers, and the payer's view of a payment."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from flask import Response, request

from commerce.payments import PROVIDERS, open_provider, webhook_reply
from commerce.payments import service as payments
from commerce.payments.models import Payment
from commerce.payments.provider import ProviderUnavailable
from core import extensions, metrics
from core.errors import DomainError, NotFound
from web.api.blueprint import bp
from web.api.endpoint import OutModel, endpoint
from web.auth import require_current_user, signed_request
from web.observability import count_outcome
from web.ratelimit import rate_limited

TAGS = ["payments"]


class PaymentRejected(DomainError):
    status = 422
    default_code = "payment_amount_mismatch"


class WebhookOut(OutModel):
    event_id: str
    outcome: str


class PaymentOut(OutModel):
    id: int
    purpose: str
    reference_id: int
    provider: str
    amount: int
    currency: str
    status: str
    pay_url: str
    refunded_amount: int
    created_at: dt.datetime
    succeeded_at: dt.datetime | None


def _webhook_counter(provider: str) -> Callable[[str], Any]:
    known = provider if provider in PROVIDERS else "unknown"  # the path is the caller's: never a label as such
    return functools.partial(metrics.WEBHOOKS.labels, known)


def _in_the_providers_format(view: Callable[..., Any]) -> Callable[..., Any]:
    """WeChat Pay and Alipay read their own acknowledgement (JSON `SUCCESS`/`FAIL`, plain `success`/`fail`) and
    send again until they get it; the status code stays the one the refusal has, so limits and logs see it."""

    @functools.wraps(view)
    def answered(provider: str) -> Any:
        try:
            result = view(provider=provider)
        except DomainError as exc:
            refused = webhook_reply(provider, accepted=False, code=exc.code, status=exc.status)
            if refused is None:
                raise
            return Response(refused.body, status=refused.status, content_type=refused.content_type)
        except ProviderUnavailable:
            refused = webhook_reply(provider, accepted=False, code="provider_unavailable", status=503)
            if refused is None:
                raise
            return Response(refused.body, status=refused.status, content_type=refused.content_type)
        accepted = webhook_reply(provider, accepted=True, code=result.outcome, status=200)
        if accepted is None:
            return result
        return Response(accepted.body, status=accepted.status, content_type=accepted.content_type)

    return answered


@bp.post("/payments/webhooks/<provider>")
@rate_limited("webhook_errors", key="address", failures_only=True)
@signed_request
@endpoint(summary="Asynchronous payment notification (signed by the provider)", tags=TAGS, response=WebhookOut,
          errors=[400, 404, 422])  # fmt: skip
@_in_the_providers_format
@count_outcome(_webhook_counter)
def payment_webhook(provider: str) -> WebhookOut:
    """The body is verified byte for byte against the provider's signature and timestamp, then applied once per
    event id. A replay answers `duplicate`; a stale failure after a success answers `stale`; an amount or currency
    that does not match the payment is refused (422) and the payment is flagged for review.
    `wechatpay` and `alipay` are answered in their own formats instead: `{"code":"SUCCESS"}` or
    `{"code":"FAIL","message":<code>}` (WeChat Pay), plain text `success` or `fail` (Alipay)."""
    session = extensions.session()
    gateway = open_provider(extensions.settings(), session, provider)
    result = payments.handle_notification(session, gateway, dict(request.headers), request.get_data(cache=True))
    if result.rejected:
        raise PaymentRejected(f"payment_{result.reason or 'amount_mismatch'}")
    return WebhookOut(event_id=result.event_id, outcome=result.outcome)


@bp.get("/payments/<int:payment_id>")
@endpoint(summary="A payment (the payer only)", tags=TAGS, response=PaymentOut, auth="required", errors=[404])
def get_payment(payment_id: int) -> Payment:
    user = require_current_user()
    payment = extensions.session().get(Payment, payment_id)
    if payment is None or (payment.payer_id != user.id and not user.is_admin):
        raise NotFound("payment")
    return payment
