"""The payment provider interface, shaped after WeChat Pay, Alipay and Stripe.

Every real provider offers the same things: create a payment the buyer
completes on the provider's page (or app), tell us the outcome later in a
signed asynchronous notification, answer a status query, refund part or all of
a captured payment, transfer money out (payouts), and tell us of chargebacks,
which we may concede. Notifications can arrive
late, twice, or out of order; the caller (`commerce.payments.service`) copes
with that, the provider only proves they are authentic.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from core.errors import BadRequest, register_messages

register_messages(
    {
        "webhook_bad_signature": ("通知签名无效", "The notification signature is invalid"),
        "webhook_stale": ("通知时间戳过期", "The notification timestamp is outside the allowed window"),
        "webhook_malformed": ("通知内容无法解析", "The notification could not be parsed"),
        "unknown_provider": ("不支持的支付渠道", "Unknown payment provider"),
        "payment_provider_unavailable": (
            "支付渠道暂时无法连接，请稍后再试",
            "The payment provider cannot be reached right now; please try again shortly",
        ),
        "payment_provider_refused": ("支付渠道拒绝了该请求", "The payment provider refused the request"),
        "payment_provider_unsupported": ("该支付渠道不支持此操作", "The provider does not offer this operation"),
    }
)


class WebhookRejected(BadRequest):
    """The notification is not provably from the provider, or not readable; nothing was applied."""


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered with a temporary error: try again later (tasks retry)."""


class EventType(enum.StrEnum):
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    # Chargebacks (拒付): the buyer's bank or wallet claims money back; the provider decides and, when the
    # merchant loses (or concedes), keeps that money for the buyer.
    DISPUTE_OPENED = "dispute.opened"
    DISPUTE_WON = "dispute.won"
    DISPUTE_LOST = "dispute.lost"


DISPUTE_EVENTS = frozenset({EventType.DISPUTE_OPENED, EventType.DISPUTE_WON, EventType.DISPUTE_LOST})


class ProviderStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CLOSED = "closed"


@dataclass(frozen=True)
class CreatePayment:
    merchant_ref: str  # our unique reference; the provider echoes it back
    amount: int  # fen
    currency: str
    description: str
    notify_url: str  # where the signed notifications go
    return_url: str  # where the buyer's browser goes afterwards
    expires_at: dt.datetime
    # Who pays from where, for providers that need it: WeChat Pay's JSAPI (inside WeChat) wants the payer's
    # openid, its H5 payment (any other mobile browser) the buyer's IP address.
    payer_openid: str | None = None
    client_ip: str | None = None


@dataclass(frozen=True)
class ProviderPayment:
    provider_payment_id: str
    pay_url: str  # the hosted page (H5) the buyer is sent to
    # What the page hands to the provider's client instead of a redirect (WeChat's JSAPI `getBrandWCPayRequest`).
    client_params: Mapping[str, str] | None = None


@dataclass(frozen=True)
class PaymentState:
    provider_payment_id: str
    merchant_ref: str
    status: ProviderStatus
    amount: int
    currency: str
    fee: int = 0
    # Why the buyer's last attempt failed while the payment stays open for another (Stripe's `last_payment_error`).
    last_failure: str | None = None


@dataclass(frozen=True)
class RefundRequest:
    provider_payment_id: str
    refund_ref: str  # our unique reference; a repeat with the same ref refunds once
    amount: int
    currency: str
    reason: str
    notify_url: str


@dataclass(frozen=True)
class ProviderRefund:
    provider_refund_id: str
    status: ProviderStatus


@dataclass(frozen=True)
class TransferRequest:
    transfer_ref: str  # our payout reference; a repeat with the same ref pays once
    amount: int
    currency: str
    method: str
    account_no: str
    account_name: str


@dataclass(frozen=True)
class TransferResult:
    provider_transfer_id: str
    status: ProviderStatus
    failure_reason: str | None = None


@dataclass(frozen=True)
class Notification:
    event_id: str  # the provider's id for this event: the idempotency key
    type: EventType
    occurred_at: dt.datetime
    provider_payment_id: str
    merchant_ref: str
    amount: int
    currency: str
    fee: int = 0  # what the provider kept (payments) or gave back (refunds)
    provider_refund_id: str | None = None
    refund_ref: str | None = None
    failure_reason: str | None = None
    dispute_id: str | None = None  # the provider's chargeback case
    reason: str | None = None  # why the buyer's side disputes the payment


@dataclass(frozen=True)
class WebhookReply:
    """The answer a provider expects to its notification, in its own format (a provider without one gets JSON)."""

    status: int
    body: bytes
    content_type: str


class PaymentProvider(Protocol):
    name: str

    def create_payment(self, req: CreatePayment) -> ProviderPayment: ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify signature and timestamp, then parse; raises WebhookRejected."""
        ...

    def query_payment(self, provider_payment_id: str) -> PaymentState: ...

    def close_payment(self, provider_payment_id: str) -> PaymentState:
        """Stop an unpaid payment from being paid; returns the final state (it may have been paid meanwhile)."""
        ...

    def refund(self, req: RefundRequest) -> ProviderRefund: ...

    def transfer(self, req: TransferRequest) -> TransferResult: ...

    def accept_dispute(self, provider_dispute_id: str) -> None:
        """Concede a chargeback: the provider keeps the money for the buyer and notifies `dispute.lost`."""
        ...
