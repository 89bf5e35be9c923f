"""WeChat Pay API v3 against the simulator over HTTP: signed requests, verified answers, signed and encrypted
notifications through the webhook route, and the sandbox's checks (event id, amount, merchant reference)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask.testing import FlaskClient
from sqlalchemy import func, select

from commerce.orders import checkout as checkout_service
from commerce.orders.models import Checkout, OrderStatus
from commerce.orders.refunds import cancel_order
from commerce.payments import open_provider
from commerce.payments import service as payments
from commerce.payments.keys import verifying_key
from commerce.payments.models import PaymentEvent, PaymentRefund, PaymentStatus, RefundStatus
from commerce.payments.provider import ProviderStatus, WebhookRejected
from commerce.payments.wechatpay import WeChatPayProvider
from core import clock
from core.clock import FrozenClock
from core.settings import Settings
from tests.commerce.money import (
    Market,
    assert_books_balanced,
    ledger_transactions,
    orders_of,
    payment_of,
    place,
    status,
)
from tests.commerce.payments.conftest import APIV3_KEY, MCHID, Keys, wechat_provider
from tests.commerce.payments.simulator import Sent, Simulator, deliver, new_key, private_pem, public_pem

WEBHOOK = "/api/v1/payments/webhooks/wechatpay"
LINKS = checkout_service.PaymentLinks(
    notify_url="http://testserver" + WEBHOOK, return_url="http://testserver/pay/return/{checkout_id}",
    client_ip="203.0.113.7",
)  # fmt: skip


@pytest.fixture
def m(market: Market, keys: Keys, simulator: Simulator) -> Market:
    market.provider = wechat_provider(keys, simulator)  # type: ignore[assignment]
    return market


def _post(client: FlaskClient, sent: Sent) -> tuple[int, dict[str, Any]]:
    r = client.post(urlsplit(sent.url).path if sent.url else WEBHOOK, data=sent.body, headers=sent.headers)
    return r.status_code, r.get_json()


def _events(m: Market) -> int:
    return m.session.scalar(select(func.count()).select_from(PaymentEvent)) or 0


def _out_trade_no(m: Market, checkout: Checkout) -> str:
    return payment_of(m, checkout).merchant_ref


def _success_resource(sim: Simulator, no: str, **changes: Any) -> dict[str, Any]:
    trade = sim.wechat.trades[no]
    resource = sim.wechat._transaction(trade)
    resource.update(trade_state="SUCCESS", transaction_id="4200000000000000000001", success_time=trade.success_time
                    or clock.now().isoformat())  # fmt: skip
    for key, value in changes.items():
        if key in ("total", "currency"):
            resource["amount"][key] = value
        else:
            resource[key] = value
    return resource


def test_an_h5_payment_end_to_end_over_http(
    m: Market, simulator: Simulator, client: FlaskClient, configured: Settings
) -> None:
    checkout = place(m, links=LINKS)
    payment = payment_of(m, checkout)
    assert simulator.wechat.requests == [("POST", "/v3/pay/transactions/h5")]  # signed, and the signature verified
    assert payment.provider == "wechatpay"
    assert payment.provider_payment_id == payment.merchant_ref  # WeChat names an unpaid trade by out_trade_no
    trade = simulator.wechat.trades[payment.merchant_ref]
    assert (trade.total, trade.currency, trade.kind) == (10_000, "CNY", "MWEB")
    pay_url = urlsplit(payment.pay_url)
    assert pay_url.netloc == "wx.tenpay.com"
    assert parse_qs(pay_url.query)["redirect_url"] == [f"http://testserver/pay/return/{checkout.id}"]
    assert m.provider.query_payment(payment.merchant_ref).status == ProviderStatus.PENDING

    simulator.wechat.pay(payment.merchant_ref)
    answers = list(deliver(simulator.wechat.outbox, lambda url, h, b: _post(client, Sent(url, h, b))[0]))
    assert answers == [200]
    assert simulator.wechat.outbox == []  # acknowledged: WeChat stops sending
    (order,) = orders_of(m, checkout)
    assert status(m, order) == OrderStatus.PAID
    m.session.refresh(payment)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert_books_balanced(m.session)


def test_the_webhook_route_answers_in_wechats_format(
    m: Market, simulator: Simulator, client: FlaskClient, configured: Settings
) -> None:
    checkout = place(m, links=LINKS)
    sent = simulator.wechat.pay(_out_trade_no(m, checkout))
    assert _post(client, sent) == (200, {"code": "SUCCESS", "message": "OK"})
    posted = ledger_transactions(m.session)
    # WeChat sends again until it gets its answer: the replay is answered the same, and changes nothing.
    assert _post(client, sent) == (200, {"code": "SUCCESS", "message": "OK"})
    assert ledger_transactions(m.session) == posted
    assert _events(m) == 1
    forged = Sent(sent.url, sent.headers, sent.body.replace(b'"EV-', b'"EV-X'))
    assert _post(client, forged) == (400, {"code": "FAIL", "message": "webhook_bad_signature"})


def test_a_jsapi_payment_inside_wechat_gets_signed_bridge_parameters(
    m: Market, keys: Keys, simulator: Simulator
) -> None:
    links = checkout_service.PaymentLinks(
        LINKS.notify_url, LINKS.return_url, payer_openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    )
    checkout = place(m, links=links)
    payment = payment_of(m, checkout)
    assert simulator.wechat.requests == [("POST", "/v3/pay/transactions/jsapi")]
    assert simulator.wechat.trades[payment.merchant_ref].kind == "JSAPI"
    provider = m.provider
    assert isinstance(provider, WeChatPayProvider)
    params = provider.jsapi_params(f"wx{payment.merchant_ref}")
    assert params["package"] == f"prepay_id=wx{payment.merchant_ref}"
    assert params["signType"] == "RSA"
    message = "\n".join((params["appId"], params["timeStamp"], params["nonceStr"], params["package"], "")).encode()
    keys.merchant.public_key().verify(  # raises if the paySign is not the merchant's RSA-SHA256 signature
        base64.b64decode(params["paySign"]), message, padding.PKCS1v15(), hashes.SHA256()
    )


def test_a_replayed_notification_is_a_duplicate(m: Market, simulator: Simulator) -> None:
    checkout = place(m, links=LINKS)
    sent = simulator.wechat.pay(_out_trade_no(m, checkout))
    assert payments.handle_notification(m.session, m.provider, sent.headers, sent.body).outcome == "applied"
    posted = ledger_transactions(m.session)
    assert payments.handle_notification(m.session, m.provider, sent.headers, sent.body).outcome == "duplicate"
    # The same fact under a new event id (WeChat re-sending after a restart) applies nothing either.
    again = simulator.wechat.notification("TRANSACTION.SUCCESS", "transaction",
                                          _success_resource(simulator, _out_trade_no(m, checkout)))  # fmt: skip
    assert payments.handle_notification(m.session, m.provider, again.headers, again.body).outcome == "already_applied"
    assert ledger_transactions(m.session) == posted
    assert _events(m) == 2


def test_tampered_forged_stale_or_undecryptable_notifications_are_refused(
    m: Market, simulator: Simulator, frozen: FrozenClock
) -> None:
    checkout = place(m, links=LINKS)
    no = _out_trade_no(m, checkout)
    simulator.wechat.pay(no)
    good = simulator.wechat.outbox[-1]
    body = good.body
    resource = _success_resource(simulator, no)
    other_key = new_key()
    cases: list[tuple[dict[str, str], bytes, str]] = [
        (good.headers, body.replace(b'"TRANSACTION.SUCCESS"', b'"REFUND.SUCCESS"'), "webhook_bad_signature"),
        (good.headers, body + b" ", "webhook_bad_signature"),
        ({**good.headers, **simulator.wechat.signed(body, key=other_key)}, body, "webhook_bad_signature"),
        ({**good.headers, "Wechatpay-Serial": "ABCDEF"}, body, "webhook_bad_signature"),
        ({**good.headers, "Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}, body, "webhook_bad_signature"),
        ({k: v for k, v in good.headers.items() if k != "Wechatpay-Signature"}, body, "webhook_bad_signature"),
        ({**good.headers, "Wechatpay-Signature": "not base64!"}, body, "webhook_bad_signature"),
        ({}, body, "webhook_bad_signature"),
    ]
    now = int(clock.now().timestamp())
    for ts in (now - 301, now + 301):
        cases.append((simulator.wechat.signed(body, timestamp=ts), body, "webhook_stale"))
    wrong_key = simulator.wechat.notification("TRANSACTION.SUCCESS", "transaction", resource,
                                              apiv3_key="X" * 32)  # fmt: skip
    cases.append((wrong_key.headers, wrong_key.body, "webhook_malformed"))
    for headers, sent_body, code in cases:
        with pytest.raises(WebhookRejected) as err:
            payments.handle_notification(m.session, m.provider, headers, sent_body)
        assert err.value.code == code, (headers, sent_body[:60])
    assert _events(m) == 0
    assert status(m, orders_of(m, checkout)[0]) == OrderStatus.PENDING_PAYMENT
    # The genuine one still applies, inside the tolerance.
    frozen.advance(seconds=299)
    assert payments.handle_notification(m.session, m.provider, good.headers, body).outcome == "applied"


def test_signed_but_unreadable_resources_are_malformed(m: Market, simulator: Simulator) -> None:
    checkout = place(m, links=LINKS)
    no = _out_trade_no(m, checkout)
    for resource in (
        _success_resource(simulator, no, total=100.0),  # a float is not an amount in fen
        _success_resource(simulator, no, total="10000"),
        _success_resource(simulator, no, trade_state="NOTPAY"),
        {"mchid": MCHID},
    ):
        sent = simulator.wechat.notification("TRANSACTION.SUCCESS", "transaction", resource)
        with pytest.raises(WebhookRejected) as err:
            payments.handle_notification(m.session, m.provider, sent.headers, sent.body)
        assert err.value.code == "webhook_malformed"
    unknown = simulator.wechat.notification("TRANSACTION.EXPLODED", "transaction", _success_resource(simulator, no))
    with pytest.raises(WebhookRejected):
        payments.handle_notification(m.session, m.provider, unknown.headers, unknown.body)
    assert _events(m) == 0


@pytest.mark.parametrize("change", [{"total": 9_999}, {"total": 10_001}, {"currency": "USD"}])
def test_a_wrong_amount_is_rejected_and_flags_the_payment(
    m: Market, simulator: Simulator, client: FlaskClient, configured: Settings, change: dict[str, object]
) -> None:
    checkout = place(m, links=LINKS)
    no = _out_trade_no(m, checkout)
    before = ledger_transactions(m.session)
    sent = simulator.wechat.notification(
        "TRANSACTION.SUCCESS", "transaction", _success_resource(simulator, no, **change), LINKS.notify_url
    )
    assert _post(client, sent) == (422, {"code": "FAIL", "message": "payment_amount_mismatch"})
    assert _post(client, sent) == (422, {"code": "FAIL", "message": "payment_amount_mismatch"})  # replay: same
    payment = payment_of(m, checkout)
    m.session.refresh(payment)
    assert (payment.status, payment.review_reason) == (PaymentStatus.PENDING, "amount_mismatch")
    assert status(m, orders_of(m, checkout)[0]) == OrderStatus.PENDING_PAYMENT
    assert ledger_transactions(m.session) == before


@pytest.mark.parametrize("changes", [{"mchid": "1900009999"}, {"appid": "wx0000000000000000"}])
def test_a_notification_for_another_merchant_is_a_reference_mismatch(
    m: Market, simulator: Simulator, changes: dict[str, str]
) -> None:
    checkout = place(m, links=LINKS)
    no = _out_trade_no(m, checkout)
    before = ledger_transactions(m.session)
    sent = simulator.wechat.notification(
        "TRANSACTION.SUCCESS", "transaction", _success_resource(simulator, no, **changes)
    )
    for _ in range(2):
        result = payments.handle_notification(m.session, m.provider, sent.headers, sent.body)
        assert (result.outcome, result.reason) == ("rejected", "reference_mismatch")
    payment = payment_of(m, checkout)
    m.session.refresh(payment)
    assert (payment.status, payment.review_reason) == (PaymentStatus.PENDING, "reference_mismatch")
    assert ledger_transactions(m.session) == before
    # The true notification for the payment still applies afterwards.
    true = simulator.wechat.pay(no)
    assert payments.handle_notification(m.session, m.provider, true.headers, true.body).outcome == "applied"


def test_an_unknown_out_trade_no_is_recorded_and_ignored(m: Market, simulator: Simulator) -> None:
    resource = {"appid": "wxd678efh567hg6787", "mchid": MCHID, "out_trade_no": "xlp-nobody", "trade_state": "SUCCESS",
                "transaction_id": "42000", "success_time": "2026-05-01T16:00:00+08:00",
                "amount": {"total": 1, "currency": "CNY"}}  # fmt: skip
    sent = simulator.wechat.notification("TRANSACTION.SUCCESS", "transaction", resource)
    assert payments.handle_notification(m.session, m.provider, sent.headers, sent.body).outcome == "ignored"
    assert _events(m) == 1


def test_a_refund_is_requested_then_applied_by_its_notification(
    m: Market, simulator: Simulator, client: FlaskClient, configured: Settings
) -> None:
    checkout = place(m, links=LINKS)
    no = _out_trade_no(m, checkout)
    paid = simulator.wechat.pay(no)
    assert _post(client, paid)[0] == 200
    (order,) = orders_of(m, checkout)
    cancel_order(m.session, m.buyer, order.id, provider=m.provider, notify_url=LINKS.notify_url)
    assert simulator.wechat.requests[-2:] == [
        ("GET", f"/v3/pay/transactions/out-trade-no/{no}"),  # the order's total, which WeChat wants beside a refund
        ("POST", "/v3/refund/domestic/refunds"),
    ]
    refund = m.session.scalar(select(PaymentRefund))
    assert refund is not None
    assert refund.status == RefundStatus.PENDING
    (asked,) = simulator.wechat.trades[no].refunds.values()
    assert asked["amount"]["refund"] == 10_000
    assert asked["out_refund_no"] == refund.refund_ref
    assert refund.provider_refund_id == asked["refund_id"]
    # A refund notification claiming another amount is refused; the true one applies, once.
    claim = {"mchid": MCHID, "out_trade_no": no, "transaction_id": "4200", "out_refund_no": refund.refund_ref,
             "refund_id": asked["refund_id"], "refund_status": "SUCCESS", "success_time": "2026-05-01T16:00:00+08:00",
             "amount": {"total": 10_000, "refund": 1, "payer_total": 10_000, "payer_refund": 1}}  # fmt: skip
    wrong = simulator.wechat.notification("REFUND.SUCCESS", "refund", claim, LINKS.notify_url)
    assert _post(client, wrong) == (422, {"code": "FAIL", "message": "payment_state_mismatch"})
    settled = simulator.wechat.settle_refund(no, refund.refund_ref)
    assert _post(client, settled) == (200, {"code": "SUCCESS", "message": "OK"})
    assert _post(client, settled)[0] == 200  # the replay
    m.session.refresh(refund)
    assert refund.status == RefundStatus.SUCCEEDED
    assert status(m, order) == OrderStatus.CANCELLED
    assert_books_balanced(m.session)


def test_a_refund_wechat_reports_abnormal_fails(m: Market, simulator: Simulator) -> None:
    checkout = place(m, links=LINKS)
    no = _out_trade_no(m, checkout)
    paid = simulator.wechat.pay(no)
    payments.handle_notification(m.session, m.provider, paid.headers, paid.body)
    (order,) = orders_of(m, checkout)
    cancel_order(m.session, m.buyer, order.id, provider=m.provider, notify_url=LINKS.notify_url)
    refund = m.session.scalar(select(PaymentRefund))
    assert refund is not None
    failed = simulator.wechat.settle_refund(no, refund.refund_ref, status="ABNORMAL")
    assert payments.handle_notification(m.session, m.provider, failed.headers, failed.body).outcome == "applied"
    m.session.refresh(refund)
    assert (refund.status, refund.failure_reason) == (RefundStatus.FAILED, "abnormal")


def test_query_and_close(m: Market, simulator: Simulator) -> None:
    first, second = place(m, links=LINKS), place(m, links=LINKS)
    provider = m.provider
    a, b = _out_trade_no(m, first), _out_trade_no(m, second)
    state = provider.query_payment(a)
    assert (state.status, state.amount, state.currency, state.merchant_ref) == (ProviderStatus.PENDING, 10_000,
                                                                                "CNY", a)  # fmt: skip
    assert provider.close_payment(a).status == ProviderStatus.CLOSED
    assert simulator.wechat.trades[a].state == "CLOSED"
    assert simulator.wechat.requests[-2][1] == f"/v3/pay/transactions/out-trade-no/{a}/close"
    # Paid meanwhile: closing finds the success, and the service applies it (the money was taken).
    simulator.wechat.pay(b)
    assert provider.close_payment(b).status == ProviderStatus.SUCCEEDED
    payment = payment_of(m, second)
    payments.sync_payment(m.session, provider, payment.id)  # the return page asks, before any notification
    assert status(m, orders_of(m, second)[0]) == OrderStatus.PAID
    from core.errors import NotFound

    with pytest.raises(NotFound):
        provider.query_payment("xlp-unknown")


def test_a_forged_answer_from_the_api_is_not_believed(m: Market, keys: Keys, simulator: Simulator) -> None:
    """The library verifies each answer against the platform key: one signed by another key is unavailable."""
    from commerce.payments.provider import ProviderUnavailable

    checkout = place(m, links=LINKS)
    no = _out_trade_no(m, checkout)
    simulator.wechat.platform_key = new_key()
    with pytest.raises(ProviderUnavailable):
        m.provider.query_payment(no)


def test_wechat_pay_public_key_mode_verifies_by_key_id(m: Market, keys: Keys, simulator: Simulator) -> None:
    """Merchants on WeChat Pay's platform public key (PUB_KEY_ID_...) instead of platform certificates."""
    simulator.wechat.platform_serial = "PUB_KEY_ID_0114232134912410000000000001"
    provider = WeChatPayProvider(
        mchid=MCHID, appid="wxd678efh567hg6787", merchant_serial_no=simulator.wechat.merchant_serial_no,
        private_key=private_pem(keys.merchant), apiv3_key=APIV3_KEY,
        platform_key=verifying_key(public_pem(keys.platform), simulator.wechat.platform_serial),
        base_url=simulator.url,
    )  # fmt: skip
    m.provider = provider  # type: ignore[assignment]
    checkout = place(m, links=LINKS)
    sent = simulator.wechat.pay(_out_trade_no(m, checkout))
    assert sent.headers["Wechatpay-Serial"].startswith("PUB_KEY_ID_")
    assert payments.handle_notification(m.session, provider, sent.headers, sent.body).outcome == "applied"


def test_open_provider_builds_the_adapter_from_settings(configured: Settings, db_session: Any) -> None:
    provider = open_provider(configured, db_session, "wechatpay")
    assert isinstance(provider, WeChatPayProvider)
    assert provider.platform_key.key_id == format(0x3775B6A45ACD588826D15E583A95F5DD, "X")
    assert open_provider(configured, db_session).name == "sandbox"  # the sandbox stays the default


def test_an_unconfigured_provider_is_not_offered(settings: Settings, db_session: Any, client: FlaskClient) -> None:
    from core.errors import NotFound

    assert not settings.wechatpay_mchid
    with pytest.raises(NotFound):
        open_provider(settings, db_session, "wechatpay")
    r = client.post(WEBHOOK, data=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 404
    assert r.get_json()["code"] == "FAIL"
    assert json.loads(r.data)["message"] == "not_found"


def test_a_certificate_serial_is_compared_as_a_number(m: Market, simulator: Simulator) -> None:
    """WeChat prints serials as 40 hex digits, leading zeros included; the certificate's number is what counts."""
    checkout = place(m, links=LINKS)
    sent = simulator.wechat.pay(_out_trade_no(m, checkout))
    padded = {**sent.headers, "Wechatpay-Serial": sent.headers["Wechatpay-Serial"].rjust(40, "0").lower()}
    assert payments.handle_notification(m.session, m.provider, padded, sent.body).outcome == "applied"


def test_a_checkout_over_http_pays_with_wechat_h5_and_a_provider_outage_is_a_503(
    m: Market, simulator: Simulator, client: FlaskClient, configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.factories import bearer

    monkeypatch.setattr(configured, "payment_provider", "wechatpay")
    address = {"name": "王五", "phone": "13700000000", "province": "北京市", "city": "北京市", "district": "朝阳区",
               "detail": "建国路 88 号"}  # fmt: skip
    body = {"items": [{"sku_id": m.sku.id, "quantity": 1}], "address": address}
    r = client.post("/api/v1/checkouts", json=body, headers={**bearer(m.session, m.buyer), "Idempotency-Key": "wx-1"})
    assert r.status_code == 201, r.get_json()
    assert urlsplit(r.get_json()["pay_url"]).netloc == "wx.tenpay.com"
    (trade,) = simulator.wechat.trades.values()
    assert trade.notify_url == configured.public_base_url + WEBHOOK
    assert trade.kind == "MWEB"  # an H5 payment, for the address the request came from
    monkeypatch.setattr(configured, "wechatpay_base_url", "http://127.0.0.1:9")  # nothing listens there
    r = client.post("/api/v1/checkouts", json=body, headers={**bearer(m.session, m.buyer), "Idempotency-Key": "wx-2"})
    assert r.status_code == 503
    assert r.get_json()["code"] == "payment_provider_unavailable"
    assert r.headers["Retry-After"] == "30"
    assert len(simulator.wechat.trades) == 1
