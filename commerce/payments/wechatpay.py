"""WeChat Pay API v3 (微信支付 APIv3) as a `PaymentProvider`: JSAPI inside WeChat, H5 in other mobile browsers.

Outgoing calls go through `wechatpayv3`: it signs each request (the
`Authorization: WECHATPAY2-SHA256-RSA2048 ...` header, RSA-SHA256 with the
merchant's API key) and verifies the signature on every answer with the
platform key; it also signs the JSAPI parameters (`paySign`).

Incoming notifications are verified here, with `cryptography`, rather than
with the library's `callback()`: that one checks no timestamp window, answers
`None` for a bad signature, an undecryptable resource and a foreign body
alike, and on a serial it does not know (which the caller chooses) goes and
downloads certificates in the middle of the webhook request. The steps are
WeChat's documented ones: the signature over `timestamp\\nnonce\\nbody\\n`
with the platform certificate (or platform public key) that
`Wechatpay-Serial` names, the timestamp within the tolerance, then the
resource decrypted with AEAD_AES_256_GCM under the APIv3 key.

WeChat names an unpaid trade by our `out_trade_no` only (its
`transaction_id` exists once the buyer pays), so the provider's id of a
payment is the `out_trade_no` here. A notification for the same number under
another merchant or app id (`mchid`, `appid`) is not about our payment: its
merchant reference is reported qualified by that merchant (`mchid/appid/no`),
which the service refuses as a reference mismatch, as it refuses the
sandbox's, and flags the payment.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import requests
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpayv3 import WeChatPay, WeChatPayType

from commerce.payments.keys import CHINA, VerifyingKey, strict_int
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
from core.errors import Conflict, NotFound

log = logging.getLogger(__name__)

BASE_URL = "https://api.mch.weixin.qq.com"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"

_TRADE_STATES = {
    "SUCCESS": ProviderStatus.SUCCEEDED,
    "REFUND": ProviderStatus.SUCCEEDED,  # paid, then (partly) refunded
    "NOTPAY": ProviderStatus.PENDING,
    "USERPAYING": ProviderStatus.PENDING,
    "CLOSED": ProviderStatus.CLOSED,
    "REVOKED": ProviderStatus.CLOSED,
    "PAYERROR": ProviderStatus.FAILED,
}
_REFUND_EVENTS = {
    "REFUND.SUCCESS": EventType.REFUND_SUCCEEDED,
    "REFUND.ABNORMAL": EventType.REFUND_FAILED,
    "REFUND.CLOSED": EventType.REFUND_FAILED,
}


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), "")


def _time(value: str) -> dt.datetime:
    """WeChat's RFC 3339 times (`2026-05-01T16:00:00+08:00`), as aware UTC."""
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time without offset: {value!r}")
    return parsed.astimezone(dt.UTC)


def reply(*, accepted: bool, code: str, status: int) -> WebhookReply:
    """WeChat's documented answer: 200 (a body is optional), or 4xx/5xx with `{"code":"FAIL","message":...}`."""
    doc = {"code": "SUCCESS", "message": "OK"} if accepted else {"code": "FAIL", "message": code}
    return WebhookReply(200 if accepted else status, json.dumps(doc).encode(), "application/json")


class WeChatPayProvider:
    name = "wechatpay"

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        merchant_serial_no: str,
        private_key: str,
        apiv3_key: str,
        platform_key: VerifyingKey,
        base_url: str = BASE_URL,
        tolerance_seconds: int = 300,
        timeout_seconds: float = 15.0,
    ) -> None:
        if len(apiv3_key.encode()) != 32:
            raise ValueError("the APIv3 key is 32 bytes")
        self.mchid, self.appid = mchid, appid
        self.platform_key = platform_key
        self.tolerance = tolerance_seconds
        self._aead = AESGCM(apiv3_key.encode())
        # The platform key (or a platform certificate's key, named by its serial) is handed over as a public key,
        # so the library never fetches certificates by itself; responses are verified against it.
        self.client = WeChatPay(
            wechatpay_type=WeChatPayType.H5,
            mchid=mchid,
            private_key=private_key,
            cert_serial_no=merchant_serial_no,
            appid=appid,
            apiv3_key=apiv3_key,
            public_key=platform_key.public_pem(),
            public_key_id=platform_key.key_id,
            timeout=(5, timeout_seconds),
        )
        # The library has no setting for its base URL; the attribute is read on every request (pinned version).
        self.client._core._gate_way = base_url.rstrip("/")

    # -- calls ----------------------------------------------------------------------------------------------

    def _call(self, fn: Callable[..., tuple[int, Any]], **kwargs: Any) -> tuple[int, dict[str, Any]]:
        try:
            status, text = fn(**kwargs)
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"wechatpay: {exc}") from exc
        except Exception as exc:  # the library raises a bare Exception when an answer's signature does not verify
            log.error("wechatpay: %s failed: %s", getattr(fn, "__name__", "call"), exc)
            raise ProviderUnavailable(f"wechatpay: {exc}") from exc
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        try:
            doc = json.loads(text) if text else {}
        except ValueError:
            doc = {}
        if status >= 500 or status == 429:
            raise ProviderUnavailable(f"wechatpay: HTTP {status} {doc.get('code', '')}")
        if status == 404 or doc.get("code") in ("ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS"):
            raise NotFound("payment")
        if status >= 400:
            log.error("wechatpay: HTTP %s %s %s", status, doc.get("code"), doc.get("message"))
            raise Conflict("payment_provider_refused")
        return status, doc

    def create_payment(self, req: CreatePayment) -> ProviderPayment:
        common: dict[str, Any] = {
            "description": req.description[:127] or req.merchant_ref,
            "out_trade_no": req.merchant_ref,
            "amount": {"total": req.amount, "currency": req.currency},
            "time_expire": req.expires_at.astimezone(CHINA).isoformat(timespec="seconds"),
            "notify_url": req.notify_url,
        }
        if req.payer_openid:  # inside WeChat: the page calls WeixinJSBridge with the signed parameters
            _, doc = self._call(
                self.client.pay, pay_type=WeChatPayType.JSAPI, payer={"openid": req.payer_openid}, **common
            )
            return ProviderPayment(req.merchant_ref, req.return_url, client_params=self.jsapi_params(doc["prepay_id"]))
        if not req.client_ip:
            raise ValueError("an H5 payment needs the buyer's IP address")
        scene = {"payer_client_ip": req.client_ip, "h5_info": {"type": "Wap"}}
        _, doc = self._call(self.client.pay, pay_type=WeChatPayType.H5, scene_info=scene, **common)
        # WeChat's cashier sends the buyer back to `redirect_url` (URL-encoded) when done.
        return ProviderPayment(req.merchant_ref, f"{doc['h5_url']}&redirect_url={quote(req.return_url, safe='')}")

    def jsapi_params(self, prepay_id: str) -> dict[str, str]:
        """`getBrandWCPayRequest`'s arguments, signed: appId, timeStamp, nonceStr, package, signType, paySign."""
        timestamp, nonce, package = str(int(clock.now().timestamp())), secrets.token_hex(16), f"prepay_id={prepay_id}"
        pay_sign = self.client.sign([self.appid, timestamp, nonce, package])
        return {"appId": self.appid, "timeStamp": timestamp, "nonceStr": nonce, "package": package,
                "signType": "RSA", "paySign": pay_sign}  # fmt: skip

    def query_payment(self, provider_payment_id: str) -> PaymentState:
        _, doc = self._call(self.client.query, out_trade_no=provider_payment_id)
        try:
            amount = doc.get("amount") or {}
            return PaymentState(
                provider_payment_id=provider_payment_id,
                merchant_ref=str(doc["out_trade_no"]),
                status=_TRADE_STATES[doc["trade_state"]],
                amount=strict_int(amount.get("total", 0)),
                currency=str(amount.get("currency", "CNY")),
                last_failure=doc.get("trade_state_desc") if doc["trade_state"] == "PAYERROR" else None,
            )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ProviderUnavailable(f"wechatpay: unreadable order {provider_payment_id}") from exc

    def close_payment(self, provider_payment_id: str) -> PaymentState:
        with contextlib.suppress(Conflict):  # ORDERPAID and the like: the state says what happened
            self._call(self.client.close, out_trade_no=provider_payment_id)
        return self.query_payment(provider_payment_id)

    def refund(self, req: RefundRequest) -> ProviderRefund:
        # WeChat wants the order's total beside the refund; the order itself says what it is.
        total = self.query_payment(req.provider_payment_id).amount
        _, doc = self._call(
            self.client.refund,
            out_refund_no=req.refund_ref,
            out_trade_no=req.provider_payment_id,
            amount={"refund": req.amount, "total": total, "currency": req.currency},
            reason=req.reason[:80] or None,
            notify_url=req.notify_url,
        )
        status = {"SUCCESS": ProviderStatus.SUCCEEDED, "CLOSED": ProviderStatus.FAILED,
                  "ABNORMAL": ProviderStatus.FAILED}.get(doc.get("status", ""), ProviderStatus.PENDING)  # fmt: skip
        return ProviderRefund(str(doc.get("refund_id", "")), status)

    def transfer(self, req: TransferRequest) -> TransferResult:
        raise Conflict("payment_provider_unsupported")  # payouts go through the sandbox or a bank (not WeChat yet)

    def accept_dispute(self, provider_dispute_id: str) -> None:
        raise Conflict("payment_provider_unsupported")  # WeChat Pay has no chargeback API to concede through

    # -- notifications --------------------------------------------------------------------------------------

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        signature, timestamp, nonce, serial = (
            _header(headers, f"Wechatpay-{part}") for part in ("Signature", "Timestamp", "Nonce", "Serial")
        )
        kind = _header(headers, "Wechatpay-Signature-Type") or SIGNATURE_TYPE
        if kind != SIGNATURE_TYPE or not (signature and timestamp and nonce) or not self.platform_key.named_by(serial):
            raise WebhookRejected("webhook_bad_signature")
        try:
            sent = base64.b64decode(signature, validate=True)
            self.platform_key.public_key.verify(
                sent, b"\n".join((timestamp.encode(), nonce.encode(), body, b"")), padding.PKCS1v15(), hashes.SHA256()
            )
            at = int(timestamp)
        except (InvalidSignature, ValueError):
            raise WebhookRejected("webhook_bad_signature") from None
        now = clock.now()
        if abs(int(now.timestamp()) - at) > self.tolerance:
            raise WebhookRejected("webhook_stale")
        if not self.platform_key.valid_at(now):
            log.error("wechatpay: platform certificate %s is outside its validity", self.platform_key.key_id)
            raise WebhookRejected("webhook_bad_signature")
        try:
            doc = json.loads(body)
            resource = doc["resource"]
            if doc.get("resource_type") != "encrypt-resource" or resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise ValueError("not an AEAD_AES_256_GCM resource")
            plain = self._aead.decrypt(
                resource["nonce"].encode(),
                base64.b64decode(resource["ciphertext"], validate=True),
                (resource.get("associated_data") or "").encode(),
            )
            return self._notification(doc, json.loads(plain))
        except InvalidTag:
            log.error("wechatpay: notification %r does not decrypt: is WECHATPAY_APIV3_KEY right?", body[:80])
            raise WebhookRejected("webhook_malformed") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise WebhookRejected("webhook_malformed") from exc

    def _notification(self, doc: dict[str, Any], data: dict[str, Any]) -> Notification:
        event = str(doc["event_type"])
        out_trade_no = str(data["out_trade_no"])
        ours = data["mchid"] == self.mchid and data.get("appid", self.appid) == self.appid
        merchant_ref = out_trade_no if ours else f"{data['mchid']}/{data.get('appid', '')}/{out_trade_no}"
        amount = data["amount"]
        if event == "TRANSACTION.SUCCESS":
            if data["trade_state"] != "SUCCESS":
                raise ValueError(f"a success notification in state {data['trade_state']!r}")
            return Notification(
                event_id=str(doc["id"]),
                type=EventType.PAYMENT_SUCCEEDED,
                occurred_at=_time(data.get("success_time") or doc["create_time"]),
                provider_payment_id=out_trade_no,
                merchant_ref=merchant_ref,
                amount=strict_int(amount["total"]),
                currency=str(amount["currency"]),
            )
        if event in _REFUND_EVENTS:
            type_ = _REFUND_EVENTS[event]
            return Notification(
                event_id=str(doc["id"]),
                type=type_,
                occurred_at=_time(data.get("success_time") or doc["create_time"]),
                provider_payment_id=out_trade_no,
                merchant_ref=merchant_ref,
                amount=strict_int(amount["refund"]),
                currency=str(amount.get("currency", "CNY")),
                provider_refund_id=str(data["refund_id"]),
                refund_ref=str(data["out_refund_no"]),
                failure_reason=None if type_ == EventType.REFUND_SUCCEEDED else str(data["refund_status"]).lower(),
            )
        raise ValueError(f"unknown event type {event!r}")
