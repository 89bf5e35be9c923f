"""Payment notifications from providers, and the payer's view of a payment."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from flask import request

from commerce.payments import PROVIDERS, open_provider
from commerce.payments import service as payments
from commerce.payments.models import Payment
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


@bp.post("/payments/webhooks/<provider>")
@rate_limited("webhook_errors", key="address", failures_only=True)
@signed_request
@endpoint(summary="Asynchronous payment notification (signed by the provider)", tags=TAGS, response=WebhookOut,
          errors=[400, 404, 422])  # fmt: skip
@count_outcome(_webhook_counter)
def payment_webhook(provider: str) -> WebhookOut:
    """The body is verified byte for byte against the provider's signature and timestamp, then applied once per
    event id. A replay answers `duplicate`; a stale failure after a success answers `stale`; an amount or currency
    that does not match the payment is refused (422) and the payment is flagged for review."""
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
