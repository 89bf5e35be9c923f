"""Alipay (支付宝) as a `PaymentProvider`: the mobile-website payment (`alipay.trade.wap.pay`), query, close, refund.

Everything goes through `python-alipay-sdk`: it builds and RSA2-signs
(RSA-SHA256 with the app's private key) every gateway request, verifies
every synchronous answer with Alipay's public key, and verifies the
notifications' `sign` the documented way (every parameter but `sign` and
`sign_type`, sorted, joined as `k=v&...`).

What the library leaves to its caller is done here: `sign_type` must be
RSA2; `notify_time` (Beijing time) must be within the tolerance; and the
checks Alipay tells merchants to make on every notification: `out_trade_no`
is ours (the service finds the payment), `total_amount` is the payment's
(the service compares, in fen: amounts are parsed as exact decimals, never
floats), and `app_id` and `seller_id` are ours. A notification naming
another app or seller is not about our payment: its merchant reference is
reported qualified by them (`app_id/seller_id/out_trade_no`), which the
service refuses as a reference mismatch and flags the payment.

A WAP payment exists at Alipay only once the buyer opens the pay link, so a
payment is named by our `out_trade_no` here (`trade_no` comes later).
A refund's notification (trade status change with `out_biz_no`, our refund
reference) carries the trade's cumulative `refund_fee`, not this refund's
amount: that is asked of `alipay.trade.fastpay.refund.query` (a signed,
verified answer) before the notification is handed on.
"""

from __future__ import annotations

import binascii
import datetime as dt
import logging
import urllib.error
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from alipay.utils import AliPayConfig

from commerce.payments.keys import CHINA, fen, yuan
from commerce.payments.provider import (
    CreatePayment,
    EventType,
    Notification,
    PaymentState,
    ProviderPayment,
    ProviderRefund,
    ProviderStatus,
    ProviderUnavailable,
    RefundRequest,
    TransferRequest,
    TransferResult,
    WebhookRejected,
    WebhookReply,
)
from core import clock
from core.errors import Conflict

log = logging.getLogger(__name__)

GATEWAY_URL = "https://openapi.alipay.com/gateway.do"
SUCCESS = "10000"
_TIME = "%Y-%m-%d %H:%M:%S"
_TRADE_STATES = {
    "WAIT_BUYER_PAY": ProviderStatus.PENDING,
    "TRADE_SUCCESS": ProviderStatus.SUCCEEDED,
    "TRADE_FINISHED": ProviderStatus.SUCCEEDED,  # paid, and the refund period is over
    "TRADE_CLOSED": ProviderStatus.CLOSED,  # closed unpaid (or paid and fully refunded)
}


def reply(*, accepted: bool, code: str, status: int) -> WebhookReply:
    """Alipay's documented answer: the plain text `success`; anything else makes it send again."""
    return WebhookReply(200 if accepted else status, b"success" if accepted else b"fail", "text/plain; charset=utf-8")


def _beijing(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, _TIME).replace(tzinfo=CHINA).astimezone(dt.UTC)


class AlipayProvider:
    name = "alipay"

    def __init__(
        self,
        *,
        app_id: str,
        private_key: str,
        alipay_public_key: str,
        seller_id: str = "",
        gateway_url: str = GATEWAY_URL,
        tolerance_seconds: int = 300,
        timeout_seconds: int = 15,
    ) -> None:
        self.app_id, self.seller_id = app_id, seller_id
        self.tolerance = tolerance_seconds
        self.gateway_url = gateway_url
        self.client = AliPay(
            appid=app_id,
            app_private_key_string=private_key,
            alipay_public_key_string=alipay_public_key,
            sign_type="RSA2",
            config=AliPayConfig(timeout=timeout_seconds),
        )
        # The library knows two gateways (production, Alipay's sandbox) and no setting for a third; the
        # attribute is read on every call (pinned version).
        self.client._gateway = gateway_url

    def _call(self, fn: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        try:
            return fn(**kwargs)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ProviderUnavailable(f"alipay: {exc}") from exc
        except AliPayValidationError as exc:
            log.error("alipay: the answer to %s does not carry Alipay's signature", fn.__name__)
            raise ProviderUnavailable("alipay: unverified answer") from exc
        except (AliPayException, ValueError, KeyError) as exc:
            log.error("alipay: %s failed: %s", fn.__name__, exc)
            raise Conflict("payment_provider_refused") from exc

    def create_payment(self, req: CreatePayment) -> ProviderPayment:
        # A WAP payment is a signed link: nothing is sent to Alipay until the buyer opens it. Each Chinese
        # character of the subject takes 8 characters of the link (\uXXXX, URL-encoded): 60 keep it under 2,000.
        signed = self.client.api_alipay_trade_wap_pay(
            subject=req.description[:60] or req.merchant_ref,
            out_trade_no=req.merchant_ref,
            total_amount=yuan(req.amount),
            return_url=req.return_url,
            notify_url=req.notify_url,
            time_expire=req.expires_at.astimezone(CHINA).strftime(_TIME),
            quit_url=req.return_url,
        )
        return ProviderPayment(req.merchant_ref, f"{self.gateway_url}?{signed}")

    def query_payment(self, provider_payment_id: str) -> PaymentState:
        doc = self._call(self.client.api_alipay_trade_query, out_trade_no=provider_payment_id)
        if doc.get("code") != SUCCESS:
            if doc.get("sub_code") == "ACQ.TRADE_NOT_EXIST":  # the buyer has not opened the pay link yet
                return PaymentState(provider_payment_id, provider_payment_id, ProviderStatus.PENDING, 0, "CNY")
            log.error("alipay: query %s: %s %s", provider_payment_id, doc.get("sub_code"), doc.get("sub_msg"))
            raise Conflict("payment_provider_refused")
        try:
            return PaymentState(
                provider_payment_id=provider_payment_id,
                merchant_ref=str(doc["out_trade_no"]),
                status=_TRADE_STATES[doc["trade_status"]],
                amount=fen(doc["total_amount"]),
                currency="CNY",
            )
        except (KeyError, ValueError) as exc:
            raise ProviderUnavailable(f"alipay: unreadable trade {provider_payment_id}") from exc

    def close_payment(self, provider_payment_id: str) -> PaymentState:
        doc = self._call(self.client.api_alipay_trade_close, out_trade_no=provider_payment_id)
        if doc.get("code") != SUCCESS and doc.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            # Never opened: no trade to close, and the link expires at its `time_expire` (the payment's expiry).
            return PaymentState(provider_payment_id, provider_payment_id, ProviderStatus.CLOSED, 0, "CNY")
        return self.query_payment(provider_payment_id)  # closed now, or paid meanwhile (ACQ.TRADE_STATUS_ERROR)

    def refund(self, req: RefundRequest) -> ProviderRefund:
        doc = self._call(
            self.client.api_alipay_trade_refund,
            refund_amount=yuan(req.amount),
            out_trade_no=req.provider_payment_id,
            out_request_no=req.refund_ref,  # a repeat with the same number refunds once
            refund_reason=req.reason[:256],
        )
        if doc.get("code") != SUCCESS:
            log.error("alipay: refund %s: %s %s", req.refund_ref, doc.get("sub_code"), doc.get("sub_msg"))
            raise Conflict("payment_provider_refused")
        status = ProviderStatus.SUCCEEDED if doc.get("fund_change") == "Y" else ProviderStatus.PENDING
        return ProviderRefund(f"{doc.get('trade_no', '')}/{req.refund_ref}", status)

    def transfer(self, req: TransferRequest) -> TransferResult:
        raise Conflict("payment_provider_unsupported")  # payouts go through the sandbox or a bank (not Alipay yet)

    def accept_dispute(self, provider_dispute_id: str) -> None:
        raise Conflict("payment_provider_unsupported")

    # -- notifications --------------------------------------------------------------------------------------

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise WebhookRejected("webhook_malformed") from None
        data = dict(pairs)
        if len(data) != len(pairs):
            raise WebhookRejected("webhook_malformed")  # a parameter twice: which one was signed?
        signature = data.pop("sign", "")
        if data.pop("sign_type", "RSA2") != "RSA2" or not signature:
            raise WebhookRejected("webhook_bad_signature")
        try:
            verified = self.client.verify(data, signature)
        except (ValueError, binascii.Error):
            verified = False
        if not verified:
            raise WebhookRejected("webhook_bad_signature")
        try:
            sent = _beijing(data["notify_time"])
        except (KeyError, ValueError):
            raise WebhookRejected("webhook_malformed") from None
        if abs((clock.now() - sent).total_seconds()) > self.tolerance:
            raise WebhookRejected("webhook_stale")
        try:
            return self._notification(data, sent)
        except (KeyError, ValueError) as exc:
            raise WebhookRejected("webhook_malformed") from exc

    def _notification(self, data: dict[str, str], sent: dt.datetime) -> Notification:
        out_trade_no = data["out_trade_no"]
        seller = data.get("seller_id", "")
        ours = data["app_id"] == self.app_id and (not self.seller_id or seller == self.seller_id)
        merchant_ref = out_trade_no if ours else f"{data['app_id']}/{seller}/{out_trade_no}"
        status = data["trade_status"]
        common: dict[str, Any] = {
            "event_id": data["notify_id"],
            "provider_payment_id": out_trade_no,
            "merchant_ref": merchant_ref,
            "currency": "CNY",
        }
        if data.get("out_biz_no") and data.get("refund_fee"):  # a refund changed the trade
            refund_ref = data["out_biz_no"]
            return Notification(
                type=EventType.REFUND_SUCCEEDED,
                occurred_at=_beijing(data["gmt_refund"][:19]) if data.get("gmt_refund") else sent,
                amount=self._refunded(out_trade_no, refund_ref),
                provider_refund_id=f"{data.get('trade_no', '')}/{refund_ref}",
                refund_ref=refund_ref,
                **common,
            )
        if status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
            return Notification(
                type=EventType.PAYMENT_SUCCEEDED,
                occurred_at=_beijing(data["gmt_payment"]) if data.get("gmt_payment") else sent,
                amount=fen(data["total_amount"]),
                **common,
            )
        if status == "TRADE_CLOSED":  # closed unpaid: the service asks for the state before giving up
            return Notification(
                type=EventType.PAYMENT_FAILED,
                occurred_at=sent,
                amount=fen(data["total_amount"]),
                failure_reason="closed",
                **common,
            )
        raise ValueError(f"unknown trade status {status!r}")

    def _refunded(self, out_trade_no: str, refund_ref: str) -> int:
        """This refund's own amount, from Alipay's signed answer about it (0 when it did not go through)."""
        doc = self._call(
            self.client.api_alipay_trade_fastpay_refund_query, out_request_no=refund_ref, out_trade_no=out_trade_no
        )
        # Alipay answers an unknown refund with success and no refund fields.
        if doc.get("code") != SUCCESS or "refund_amount" not in doc or doc.get("refund_status") != "REFUND_SUCCESS":
            return 0
        return fen(doc["refund_amount"])
