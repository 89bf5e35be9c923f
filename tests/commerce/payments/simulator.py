"""A local WeChat Pay (API v3) and Alipay (gateway) over HTTP, speaking their documented wire formats.

The tests generate every key: the merchant's (WeChat) and the app's (Alipay)
private keys, whose public halves the simulator checks requests with, and
the providers' own (a WeChat platform certificate, Alipay's key pair), with
which it signs its answers and notifications. It keeps the trades' state as
the providers do and makes the notifications they would send (signed; for
WeChat, the resource encrypted with AES-256-GCM under the APIv3 key); the
tests deliver them to the app.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from commerce.payments.keys import CHINA, fen, yuan
from core import clock

Transport = Callable[[str, dict[str, str], bytes], int]


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def certificate(key: rsa.RSAPrivateKey, serial: int) -> str:
    """A self-signed platform certificate, valid around the tests' frozen clock."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA (test)")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2036, 1, 1, tzinfo=dt.UTC))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(public_key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass
class Sent:
    """A notification as the provider sends it."""

    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


# -- WeChat Pay -------------------------------------------------------------------------------------------------


@dataclass
class WeChatTrade:
    out_trade_no: str
    appid: str
    description: str
    total: int
    currency: str
    notify_url: str
    kind: str  # JSAPI | MWEB
    state: str = "NOTPAY"
    transaction_id: str = ""
    success_time: str = ""
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)


class WeChatPaySim:
    """`/v3/...`: the merchant's requests are checked against its API key, the answers signed with the platform's."""

    def __init__(self, *, mchid: str, appid: str, merchant_key: rsa.RSAPrivateKey, merchant_serial_no: str,
                 platform_key: rsa.RSAPrivateKey, platform_serial: str, apiv3_key: str) -> None:  # fmt: skip
        self.mchid, self.appid = mchid, appid
        self.merchant_public = merchant_key.public_key()
        self.merchant_serial_no = merchant_serial_no
        self.platform_key, self.platform_serial = platform_key, platform_serial
        self.apiv3_key = apiv3_key
        self.trades: dict[str, WeChatTrade] = {}
        self.outbox: list[Sent] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request whose signature verified
        self.lock = threading.Lock()

    # -- the API --

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:  # noqa: PLR0911 - a router
        if not self._authorized(method, target, headers, body):
            return self._answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        self.requests.append((method, urlsplit(target).path))
        path = urlsplit(target).path
        doc = json.loads(body) if body else {}
        with self.lock:
            if method == "POST" and path in ("/v3/pay/transactions/jsapi", "/v3/pay/transactions/h5"):
                return self._create(path.rsplit("/", 1)[1], doc)
            if method == "GET" and path.startswith("/v3/pay/transactions/out-trade-no/"):
                trade = self.trades.get(path.rsplit("/", 1)[1])
                if trade is None:
                    return self._answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
                return self._answer(200, self._transaction(trade))
            if method == "POST" and path.startswith("/v3/pay/transactions/out-trade-no/") and path.endswith("/close"):
                trade = self.trades.get(path.split("/")[-2])
                if trade is None:
                    return self._answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
                if trade.state in ("SUCCESS", "REFUND"):
                    return self._answer(400, {"code": "ORDERPAID", "message": "订单已支付"})
                trade.state = "CLOSED"
                return self._answer(204, None)
            if method == "POST" and path == "/v3/refund/domestic/refunds":
                return self._refund(doc)
        return self._answer(404, {"code": "NOT_FOUND", "message": path})

    def _authorized(self, method: str, target: str, headers: dict[str, str], body: bytes) -> bool:
        scheme, _, params = headers.get("Authorization", "").partition(" ")
        fields = dict(item.split("=", 1) for item in params.split(",") if "=" in item)
        fields = {k.strip(): v.strip().strip('"') for k, v in fields.items()}
        if scheme != "WECHATPAY2-SHA256-RSA2048" or fields.get("mchid") != self.mchid:
            return False
        if fields.get("serial_no") != self.merchant_serial_no:
            return False
        if abs(time.time() - int(fields.get("timestamp", "0"))) > 300:  # the library signs with the real time
            return False
        message = f"{method}\n{target}\n{fields['timestamp']}\n{fields.get('nonce_str', '')}\n".encode() + body + b"\n"
        return rsa_verify(self.merchant_public, message, fields.get("signature", ""))

    def _answer(self, status: int, doc: dict[str, Any] | None) -> Reply:
        body = b"" if doc is None else json.dumps(doc, ensure_ascii=False).encode()
        return Reply(status, body, {"Content-Type": "application/json", **self.signed(body)})

    def signed(self, body: bytes, *, timestamp: int | None = None, key: rsa.RSAPrivateKey | None = None,
               serial: str | None = None) -> dict[str, str]:  # fmt: skip
        ts = str(int(clock.now().timestamp()) if timestamp is None else timestamp)
        nonce = secrets.token_hex(16)
        signature = rsa_sign(key or self.platform_key, f"{ts}\n{nonce}\n".encode() + body + b"\n")
        return {"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce, "Wechatpay-Signature": signature,
                "Wechatpay-Serial": serial or self.platform_serial,
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048"}  # fmt: skip

    def _create(self, kind: str, doc: dict[str, Any]) -> Reply:  # noqa: PLR0911 - one answer per refusal
        if doc.get("mchid") != self.mchid or doc.get("appid") != self.appid:
            return self._answer(400, {"code": "PARAM_ERROR", "message": "mchid/appid"})
        amount = doc.get("amount") or {}
        if type(amount.get("total")) is not int or amount["total"] <= 0:
            return self._answer(400, {"code": "PARAM_ERROR", "message": "amount.total"})
        if kind == "jsapi" and not (doc.get("payer") or {}).get("openid"):
            return self._answer(400, {"code": "PARAM_ERROR", "message": "payer.openid"})
        if kind == "h5" and not (doc.get("scene_info") or {}).get("payer_client_ip"):
            return self._answer(400, {"code": "PARAM_ERROR", "message": "scene_info.payer_client_ip"})
        no = doc["out_trade_no"]
        trade = self.trades.get(no)
        if trade is None:
            trade = self.trades[no] = WeChatTrade(
                out_trade_no=no, appid=doc["appid"], description=doc["description"], total=amount["total"],
                currency=amount.get("currency", "CNY"), notify_url=doc["notify_url"],
                kind="JSAPI" if kind == "jsapi" else "MWEB",
            )  # fmt: skip
        elif trade.total != amount["total"]:
            return self._answer(400, {"code": "INVALID_REQUEST", "message": "201 商户订单号重复"})
        prepay = f"wx{no}"
        if kind == "jsapi":
            return self._answer(200, {"prepay_id": prepay})
        return self._answer(200, {"h5_url": f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={prepay}"})

    def _transaction(self, t: WeChatTrade) -> dict[str, Any]:
        doc: dict[str, Any] = {"appid": t.appid, "mchid": self.mchid, "out_trade_no": t.out_trade_no,
                               "trade_type": t.kind, "trade_state": t.state, "trade_state_desc": t.state,
                               "amount": {"total": t.total, "currency": t.currency}}  # fmt: skip
        if t.transaction_id:
            doc.update(transaction_id=t.transaction_id, success_time=t.success_time, bank_type="OTHERS",
                       payer={"openid": "o-test"})  # fmt: skip
            doc["amount"].update(payer_total=t.total, payer_currency=t.currency)
        return doc

    def _refund(self, doc: dict[str, Any]) -> Reply:
        trade = self.trades.get(doc.get("out_trade_no", ""))
        if trade is None:
            return self._answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"})
        amount = doc["amount"]
        if trade.state not in ("SUCCESS", "REFUND") or amount.get("total") != trade.total:
            return self._answer(400, {"code": "INVALID_REQUEST", "message": "订单状态或金额不符"})
        existing = trade.refunds.get(doc["out_refund_no"])
        if existing is None:
            refunded = sum(r["amount"]["refund"] for r in trade.refunds.values())
            if refunded + amount["refund"] > trade.total:
                return self._answer(400, {"code": "NOT_ENOUGH", "message": "退款金额超过可退金额"})
            existing = trade.refunds[doc["out_refund_no"]] = {
                "refund_id": f"5030{secrets.randbelow(10**12):012d}", "out_refund_no": doc["out_refund_no"],
                "status": "PROCESSING", "notify_url": doc.get("notify_url") or trade.notify_url,
                "amount": {"total": trade.total, "refund": amount["refund"], "payer_total": trade.total,
                           "payer_refund": amount["refund"], "currency": amount.get("currency", "CNY")},
            }  # fmt: skip
            trade.state = "REFUND"
        return self._answer(200, {"refund_id": existing["refund_id"], "out_refund_no": existing["out_refund_no"],
                                  "transaction_id": trade.transaction_id, "out_trade_no": trade.out_trade_no,
                                  "status": existing["status"], "amount": existing["amount"]})  # fmt: skip

    # -- what happens on WeChat's side --

    def pay(self, out_trade_no: str) -> Sent:
        """The buyer pays in WeChat: the trade succeeds and the TRANSACTION.SUCCESS notification is queued."""
        with self.lock:
            t = self.trades[out_trade_no]
            assert t.state == "NOTPAY", t.state
            t.state, t.transaction_id = "SUCCESS", f"4200{secrets.randbelow(10**16):016d}"
            t.success_time = clock.now().astimezone(CHINA).isoformat(timespec="seconds")
            sent = self.notification("TRANSACTION.SUCCESS", "transaction", self._transaction(t), t.notify_url)
        self.outbox.append(sent)
        return sent

    def settle_refund(self, out_trade_no: str, out_refund_no: str, *, status: str = "SUCCESS") -> Sent:
        with self.lock:
            t = self.trades[out_trade_no]
            r = t.refunds[out_refund_no]
            r["status"] = status
            resource = {"mchid": self.mchid, "out_trade_no": t.out_trade_no, "transaction_id": t.transaction_id,
                        "out_refund_no": out_refund_no, "refund_id": r["refund_id"], "refund_status": status,
                        "success_time": clock.now().astimezone(CHINA).isoformat(timespec="seconds"),
                        "user_received_account": "支付用户零钱",
                        "amount": {k: v for k, v in r["amount"].items() if k != "currency"}}  # fmt: skip
            sent = self.notification(f"REFUND.{status}", "refund", resource, r["notify_url"])
        self.outbox.append(sent)
        return sent

    def notification(self, event_type: str, original_type: str, resource: dict[str, Any], url: str = "", *,
                     event_id: str | None = None, apiv3_key: str | None = None) -> Sent:  # fmt: skip
        """WeChat's envelope: the resource encrypted (AEAD_AES_256_GCM, APIv3 key), the whole body signed."""
        nonce = secrets.token_hex(6)  # 12 characters, as WeChat's
        plain = json.dumps(resource, ensure_ascii=False).encode()
        ciphertext = AESGCM((apiv3_key or self.apiv3_key).encode()).encrypt(
            nonce.encode(), plain, original_type.encode()
        )
        envelope = {
            "id": event_id or f"EV-{secrets.token_hex(12)}",
            "create_time": clock.now().astimezone(CHINA).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功" if event_type == "TRANSACTION.SUCCESS" else "退款状态变更",
            "resource": {"original_type": original_type, "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": base64.b64encode(ciphertext).decode(), "associated_data": original_type,
                         "nonce": nonce},
        }  # fmt: skip
        body = json.dumps(envelope, ensure_ascii=False).encode()
        return Sent(url, {"Content-Type": "application/json", **self.signed(body)}, body)


# -- Alipay -----------------------------------------------------------------------------------------------------


@dataclass
class AlipayTrade:
    out_trade_no: str
    subject: str
    total: int
    notify_url: str
    status: str = "WAIT_BUYER_PAY"
    trade_no: str = ""
    gmt_create: str = ""
    gmt_payment: str = ""
    refunds: dict[str, int] = field(default_factory=dict)  # out_request_no -> fen


def _beijing_now() -> str:
    return clock.now().astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


class AlipaySim:
    """`/gateway.do`: every request's RSA2 `sign` is checked with the app's public key; answers and notifications
    are signed with Alipay's private key."""

    def __init__(self, *, app_id: str, seller_id: str, app_key: rsa.RSAPrivateKey,
                 alipay_key: rsa.RSAPrivateKey) -> None:  # fmt: skip
        self.app_id, self.seller_id = app_id, seller_id
        self.app_public = app_key.public_key()
        self.alipay_key = alipay_key
        self.trades: dict[str, AlipayTrade] = {}
        self.outbox: list[Sent] = []
        self.requests: list[str] = []  # the `method` of every request whose signature verified
        self.lock = threading.Lock()

    @staticmethod
    def content(params: dict[str, str], *, request: bool = False) -> bytes:
        """What is signed: every parameter but `sign` (and, in notifications, `sign_type`), sorted, `k=v&...`."""
        left_out = ("sign",) if request else ("sign", "sign_type")
        items = sorted((k, v) for k, v in params.items() if k not in left_out)
        return "&".join(f"{k}={v}" for k, v in items).encode()

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:  # noqa: PLR0911 - a router
        pairs = parse_qsl(urlsplit(target).query, keep_blank_values=True)
        if method == "POST" and body:
            pairs += parse_qsl(body.decode(), keep_blank_values=True)
        params = dict(pairs)
        api = params.get("method", "")
        response_type = api.replace(".", "_") + "_response"
        if params.get("app_id") != self.app_id or params.get("sign_type") != "RSA2":
            return self._error(response_type, "40002", "isv.invalid-app-id")
        if not rsa_verify(self.app_public, self.content(params, request=True), params.get("sign", "")):
            return self._error(response_type, "40002", "isv.invalid-signature")
        self.requests.append(api)
        biz = json.loads(params.get("biz_content") or "{}")
        with self.lock:
            if api == "alipay.trade.wap.pay":
                return self._cashier(params, biz)
            trade = self.trades.get(biz.get("out_trade_no", ""))
            if api in ("alipay.trade.query", "alipay.trade.close", "alipay.trade.refund",
                       "alipay.trade.fastpay.refund.query") and trade is None:  # fmt: skip
                return self._answer(response_type, self._failed("ACQ.TRADE_NOT_EXIST", "交易不存在"))
            if api == "alipay.trade.query" and trade is not None:
                return self._answer(response_type, {"code": "10000", "msg": "Success", **self._trade(trade)})
            if api == "alipay.trade.close" and trade is not None:
                if trade.status != "WAIT_BUYER_PAY":
                    return self._answer(response_type, self._failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法"))
                trade.status = "TRADE_CLOSED"
                return self._answer(response_type, {"code": "10000", "msg": "Success", "trade_no": trade.trade_no,
                                                    "out_trade_no": trade.out_trade_no})  # fmt: skip
            if api == "alipay.trade.refund" and trade is not None:
                return self._refund(trade, biz)
            if api == "alipay.trade.fastpay.refund.query" and trade is not None:
                got = trade.refunds.get(biz.get("out_request_no", ""))
                if got is None:
                    return self._answer(response_type, {"code": "10000", "msg": "Success"})  # no such refund
                return self._answer(response_type, {"code": "10000", "msg": "Success", "trade_no": trade.trade_no,
                                                    "out_trade_no": trade.out_trade_no,
                                                    "out_request_no": biz["out_request_no"],
                                                    "total_amount": yuan(trade.total), "refund_amount": yuan(got),
                                                    "refund_status": "REFUND_SUCCESS"})  # fmt: skip
        return self._error(response_type, "40004", "isv.invalid-method")

    @staticmethod
    def _failed(sub_code: str, sub_msg: str) -> dict[str, str]:
        return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}

    def _answer(self, response_type: str, doc: dict[str, Any]) -> Reply:
        inner = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        sign = rsa_sign(self.alipay_key, inner.encode())
        raw = f'{{"{response_type}":{inner},"sign":"{sign}"}}'
        return Reply(200, raw.encode(), {"Content-Type": "text/html;charset=utf-8"})

    def _error(self, response_type: str, code: str, sub_code: str) -> Reply:
        doc = {"error_response": {"code": code, "msg": "Invalid Arguments", "sub_code": sub_code}}
        return Reply(200, json.dumps(doc).encode(), {"Content-Type": "text/html;charset=utf-8"})

    def _cashier(self, params: dict[str, str], biz: dict[str, Any]) -> Reply:
        """The buyer's browser opened the pay link: the trade now exists at Alipay, waiting for the buyer."""
        no = biz["out_trade_no"]
        if no not in self.trades:
            self.trades[no] = AlipayTrade(
                out_trade_no=no, subject=biz["subject"], total=fen(biz["total_amount"]),
                notify_url=params.get("notify_url", ""), trade_no=f"2026{secrets.randbelow(10**24):024d}",
                gmt_create=_beijing_now(),
            )  # fmt: skip
        page = f"<html><body>支付宝收银台 {biz['subject']} ¥{biz['total_amount']}</body></html>"
        return Reply(200, page.encode(), {"Content-Type": "text/html;charset=utf-8"})

    def _trade(self, t: AlipayTrade) -> dict[str, str]:
        doc = {"trade_no": t.trade_no, "out_trade_no": t.out_trade_no, "trade_status": t.status,
               "total_amount": yuan(t.total)}  # fmt: skip
        if t.gmt_payment:
            doc.update(send_pay_date=t.gmt_payment, buyer_pay_amount=yuan(t.total), receipt_amount=yuan(t.total))
        return doc

    def _refund(self, t: AlipayTrade, biz: dict[str, Any]) -> Reply:
        rt = "alipay_trade_refund_response"
        no = biz.get("out_request_no", "")
        amount = fen(biz["refund_amount"])
        if t.status not in ("TRADE_SUCCESS", "TRADE_CLOSED") or not t.gmt_payment:
            return self._answer(rt, self._failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法"))
        if no not in t.refunds:
            if sum(t.refunds.values()) + amount > t.total:
                return self._answer(rt, self._failed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限"))
            t.refunds[no] = amount
            if sum(t.refunds.values()) == t.total:
                t.status = "TRADE_CLOSED"  # fully refunded
            self._queue(t, {"out_biz_no": no, "refund_fee": yuan(sum(t.refunds.values())),
                            "gmt_refund": _beijing_now() + ".000"})  # fmt: skip
        return self._answer(rt, {"code": "10000", "msg": "Success", "trade_no": t.trade_no,
                                 "out_trade_no": t.out_trade_no, "fund_change": "Y",
                                 "refund_fee": yuan(sum(t.refunds.values()))})  # fmt: skip

    # -- what happens on Alipay's side --

    def pay(self, out_trade_no: str) -> Sent:
        with self.lock:
            t = self.trades[out_trade_no]
            assert t.status == "WAIT_BUYER_PAY", t.status
            t.status, t.gmt_payment = "TRADE_SUCCESS", _beijing_now()
            return self._queue(t, {})

    def notify_params(self, t: AlipayTrade, extra: dict[str, str]) -> dict[str, str]:
        params = {"notify_time": _beijing_now(), "notify_type": "trade_status_sync",
                  "notify_id": secrets.token_hex(16), "app_id": self.app_id, "charset": "utf-8", "version": "1.0",
                  "trade_no": t.trade_no, "out_trade_no": t.out_trade_no, "trade_status": t.status,
                  "total_amount": yuan(t.total), "receipt_amount": yuan(t.total), "buyer_pay_amount": yuan(t.total),
                  "seller_id": self.seller_id, "subject": t.subject, "gmt_create": t.gmt_create,
                  "gmt_payment": t.gmt_payment, "buyer_id": "2088102177846880"}  # fmt: skip
        params.update(extra)
        return params

    def sign_notification(self, params: dict[str, str], key: rsa.RSAPrivateKey | None = None) -> bytes:
        signed = {**params, "sign_type": "RSA2", "sign": rsa_sign(key or self.alipay_key, self.content(params))}
        return urlencode(signed).encode()

    def _queue(self, t: AlipayTrade, extra: dict[str, str]) -> Sent:
        body = self.sign_notification(self.notify_params(t, extra))
        sent = Sent(t.notify_url, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body)
        self.outbox.append(sent)
        return sent


# -- the server ---------------------------------------------------------------------------------------------------


class Simulator:
    """Both providers behind one local HTTP server: `/v3/...` is WeChat Pay, `/gateway.do` is Alipay."""

    def __init__(self, wechat: WeChatPaySim, alipay: AlipaySim) -> None:
        self.wechat, self.alipay = wechat, alipay
        sim = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                path = urlsplit(self.path).path
                if path.startswith("/v3/"):
                    reply = sim.wechat.handle(self.command, self.path, headers, body)
                elif path == "/gateway.do":
                    reply = sim.alipay.handle(self.command, self.path, headers, body)
                else:
                    reply = Reply(404, b"")
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Simulator:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def deliver(outbox: list[Sent], transport: Transport) -> Iterator[int]:
    """Send what the provider queued, as it does, and take it off the queue once answered 2xx."""
    for sent in list(outbox):
        status = transport(sent.url, sent.headers, sent.body)
        if 200 <= status < 300:
            outbox.remove(sent)
        yield status
