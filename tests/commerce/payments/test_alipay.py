"""Alipay (WAP pay) against the simulator over HTTP: RSA2-signed gateway calls, verified answers, signed
notifications through the webhook route, and the sandbox's checks (event id, amount, merchant reference)."""

from __future__ import annotations

import datetime as dt
import urllib.request
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from commerce.orders import checkout as checkout_service
from commerce.orders.models import Checkout, OrderStatus
from commerce.orders.refunds import cancel_order
from commerce.payments import open_provider
from commerce.payments import service as payments
from commerce.payments.alipay import AlipayProvider
from commerce.payments.keys import CHINA, fen, yuan
from commerce.payments.models import PaymentEvent, PaymentRefund, PaymentStatus, RefundStatus
from commerce.payments.provider import ProviderStatus, ProviderUnavailable, WebhookRejected
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
from tests.commerce.payments.conftest import ALIPAY_APP_ID, ALIPAY_SELLER, Keys, alipay_provider
from tests.commerce.payments.simulator import Sent, Simulator, deliver, new_key

WEBHOOK = "/api/v1/payments/webhooks/alipay"
LINKS = checkout_service.PaymentLinks(
    notify_url="http://testserver" + WEBHOOK, return_url="http://testserver/pay/return/{checkout_id}"
)


@pytest.fixture
def m(market: Market, keys: Keys, simulator: Simulator) -> Market:
    market.provider = alipay_provider(keys, simulator)  # type: ignore[assignment]
    return market


def _post(client: FlaskClient, sent: Sent) -> tuple[int, bytes]:
    r = client.post(urlsplit(sent.url).path if sent.url else WEBHOOK, data=sent.body, headers=sent.headers)
    return r.status_code, r.data


def _events(m: Market) -> int:
    return m.session.scalar(select(func.count()).select_from(PaymentEvent)) or 0


def _open(m: Market, checkout: Checkout) -> str:
    """The buyer's browser opens the pay link (a GET on Alipay's gateway): the trade now exists at Alipay."""
    payment = payment_of(m, checkout)
    with urllib.request.urlopen(payment.pay_url, timeout=10) as resp:
        assert "支付宝收银台" in resp.read().decode()
    return payment.merchant_ref


def _params(sent: Sent) -> dict[str, str]:
    return {k: v for k, v in parse_qsl(sent.body.decode()) if k not in ("sign", "sign_type")}


def _resign(simulator: Simulator, sent: Sent, **changes: str) -> Sent:
    params = {**_params(sent), "notify_id": changes.pop("notify_id", "resent-" + _params(sent)["notify_id"])}
    params.update(changes)
    return Sent(sent.url, sent.headers, simulator.alipay.sign_notification(params))


def test_a_wap_payment_end_to_end_over_http(
    m: Market, simulator: Simulator, client: FlaskClient, configured: Settings
) -> None:
    checkout = place(m, links=LINKS)
    payment = payment_of(m, checkout)
    assert payment.provider == "alipay"
    assert payment.provider_payment_id == payment.merchant_ref
    link = urlsplit(payment.pay_url)
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert f"{link.scheme}://{link.netloc}{link.path}" == simulator.url + "/gateway.do"
    assert (query["method"], query["sign_type"], query["app_id"]) == ("alipay.trade.wap.pay", "RSA2", ALIPAY_APP_ID)
    assert query["notify_url"] == LINKS.notify_url
    assert '"total_amount":"100.00"' in query["biz_content"]  # 10 000 fen, in yuan
    assert m.provider.query_payment(payment.merchant_ref).status == ProviderStatus.PENDING  # not opened yet

    no = _open(m, checkout)
    assert simulator.alipay.requests[-1] == "alipay.trade.wap.pay"  # the link's signature verified
    simulator.alipay.pay(no)
    answers = list(deliver(simulator.alipay.outbox, lambda url, h, b: _post(client, Sent(url, h, b))[0]))
    assert answers == [200]
    assert simulator.alipay.outbox == []
    (order,) = orders_of(m, checkout)
    assert status(m, order) == OrderStatus.PAID
    m.session.refresh(payment)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert_books_balanced(m.session)


def test_the_webhook_route_answers_in_alipays_format(
    m: Market, simulator: Simulator, client: FlaskClient, configured: Settings
) -> None:
    checkout = place(m, links=LINKS)
    sent = simulator.alipay.pay(_open(m, checkout))
    assert _post(client, sent) == (200, b"success")
    posted = ledger_transactions(m.session)
    assert _post(client, sent) == (200, b"success")  # Alipay sends again until it reads `success`
    assert ledger_transactions(m.session) == posted
    assert _events(m) == 1
    tampered = Sent(sent.url, sent.headers, sent.body.replace(b"total_amount=100.00", b"total_amount=1.00"))
    assert _post(client, tampered) == (400, b"fail")


def test_a_replayed_notification_is_a_duplicate(m: Market, simulator: Simulator) -> None:
    checkout = place(m, links=LINKS)
    sent = simulator.alipay.pay(_open(m, checkout))
    assert payments.handle_notification(m.session, m.provider, sent.headers, sent.body).outcome == "applied"
    posted = ledger_transactions(m.session)
    assert payments.handle_notification(m.session, m.provider, sent.headers, sent.body).outcome == "duplicate"
    again = _resign(simulator, sent)  # the same fact, a new notify_id
    assert payments.handle_notification(m.session, m.provider, again.headers, again.body).outcome == "already_applied"
    finished = _resign(simulator, sent, trade_status="TRADE_FINISHED", notify_id="finished")  # the refund period ended
    assert payments.handle_notification(m.session, m.provider, {}, finished.body).outcome == "already_applied"
    assert ledger_transactions(m.session) == posted


def test_tampered_forged_or_stale_notifications_are_refused(
    m: Market, simulator: Simulator, frozen: FrozenClock
) -> None:
    checkout = place(m, links=LINKS)
    good = simulator.alipay.pay(_open(m, checkout))
    params = _params(good)
    forged_key = simulator.alipay.sign_notification(params, key=new_key())
    as_rsa1 = good.body.replace(b"sign_type=RSA2", b"sign_type=RSA")
    unsigned = urlencode(params).encode()
    doubled = good.body + b"&total_amount=1.00"
    cases = [
        (good.body.replace(b"total_amount=100.00", b"total_amount=99.99"), "webhook_bad_signature"),
        (good.body.replace(b"seller_id=", b"seller_id=1"), "webhook_bad_signature"),
        (forged_key, "webhook_bad_signature"),
        (as_rsa1, "webhook_bad_signature"),
        (unsigned, "webhook_bad_signature"),
        (good.body[:-12], "webhook_bad_signature"),  # a signature cut short
        (doubled, "webhook_malformed"),
        (b"\xff\xfe", "webhook_malformed"),
    ]
    for minutes in (-6, 6):
        when = (clock.now() + dt.timedelta(minutes=minutes)).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        cases.append((simulator.alipay.sign_notification({**params, "notify_time": when}), "webhook_stale"))
    for body, code in cases:
        with pytest.raises(WebhookRejected) as err:
            payments.handle_notification(m.session, m.provider, good.headers, body)
        assert err.value.code == code, body[:80]
    assert _events(m) == 0
    assert status(m, orders_of(m, checkout)[0]) == OrderStatus.PENDING_PAYMENT
    frozen.advance(seconds=299)
    assert payments.handle_notification(m.session, m.provider, good.headers, good.body).outcome == "applied"


@pytest.mark.parametrize("total", ["99.99", "100.01", "100", "1e2", "100.001", "-100.00"])
def test_a_wrong_or_unreadable_amount_is_not_applied(m: Market, simulator: Simulator, total: str) -> None:
    checkout = place(m, links=LINKS)
    sent = _resign(simulator, simulator.alipay.pay(_open(m, checkout)), total_amount=total)
    before = ledger_transactions(m.session)
    if total == "100":  # the same amount, written without decimals
        assert payments.handle_notification(m.session, m.provider, {}, sent.body).outcome == "applied"
        return
    if total in ("1e2", "100.001", "-100.00"):
        with pytest.raises(WebhookRejected) as err:
            payments.handle_notification(m.session, m.provider, {}, sent.body)
        assert err.value.code == "webhook_malformed"
        assert _events(m) == 0
        return
    result = payments.handle_notification(m.session, m.provider, {}, sent.body)
    assert (result.outcome, result.reason) == ("rejected", "amount_mismatch")
    payment = payment_of(m, checkout)
    m.session.refresh(payment)
    assert (payment.status, payment.review_reason) == (PaymentStatus.PENDING, "amount_mismatch")
    assert status(m, orders_of(m, checkout)[0]) == OrderStatus.PENDING_PAYMENT
    assert ledger_transactions(m.session) == before


@pytest.mark.parametrize("changes", [{"seller_id": "2088000000000000"}, {"app_id": "2021000000000000"}])
def test_a_notification_for_another_seller_or_app_is_a_reference_mismatch(
    m: Market, simulator: Simulator, client: FlaskClient, configured: Settings, changes: dict[str, str]
) -> None:
    checkout = place(m, links=LINKS)
    true = simulator.alipay.pay(_open(m, checkout))
    foreign = _resign(simulator, true, **changes)
    before = ledger_transactions(m.session)
    assert _post(client, foreign) == (422, b"fail")
    assert _post(client, foreign) == (422, b"fail")  # the replay is refused the same way
    payment = payment_of(m, checkout)
    m.session.refresh(payment)
    assert (payment.status, payment.review_reason) == (PaymentStatus.PENDING, "reference_mismatch")
    assert m.session.execute(select(PaymentEvent.outcome, PaymentEvent.detail)).one() == (
        "rejected",
        "reference_mismatch",
    )
    assert ledger_transactions(m.session) == before
    assert _post(client, true) == (200, b"success")  # the true notification still applies


def test_a_refund_is_requested_then_applied_by_its_notification(
    m: Market, simulator: Simulator, client: FlaskClient, configured: Settings
) -> None:
    checkout = place(m, links=LINKS)
    no = _open(m, checkout)
    assert _post(client, simulator.alipay.pay(no)) == (200, b"success")
    (order,) = orders_of(m, checkout)
    cancel_order(m.session, m.buyer, order.id, provider=m.provider, notify_url=LINKS.notify_url)
    assert simulator.alipay.requests[-1] == "alipay.trade.refund"
    refund = m.session.scalar(select(PaymentRefund))
    assert refund is not None
    assert refund.status == RefundStatus.PENDING
    assert simulator.alipay.trades[no].refunds == {refund.refund_ref: 10_000}
    (note,) = simulator.alipay.outbox[-1:]
    assert _params(note)["out_biz_no"] == refund.refund_ref
    assert _params(note)["trade_status"] == "TRADE_CLOSED"  # fully refunded
    assert _post(client, note) == (200, b"success")
    assert simulator.alipay.requests[-1] == "alipay.trade.fastpay.refund.query"  # this refund's own amount
    assert _post(client, note) == (200, b"success")
    m.session.refresh(refund)
    assert refund.status == RefundStatus.SUCCEEDED
    assert status(m, order) == OrderStatus.CANCELLED
    assert_books_balanced(m.session)


def test_a_refund_notification_for_a_refund_alipay_does_not_know_moves_nothing(m: Market, simulator: Simulator) -> None:
    checkout = place(m, links=LINKS)
    paid = simulator.alipay.pay(_open(m, checkout))
    payments.handle_notification(m.session, m.provider, {}, paid.body)
    (order,) = orders_of(m, checkout)
    cancel_order(m.session, m.buyer, order.id, provider=m.provider, notify_url=LINKS.notify_url)
    refund = m.session.scalar(select(PaymentRefund))
    assert refund is not None
    note = simulator.alipay.outbox[-1]
    simulator.alipay.trades[payment_of(m, checkout).merchant_ref].refunds.clear()  # Alipay says: no such refund
    result = payments.handle_notification(m.session, m.provider, {}, note.body)
    assert result.outcome == "rejected"
    m.session.refresh(refund)
    assert refund.status == RefundStatus.PENDING


def test_query_and_close(m: Market, simulator: Simulator) -> None:
    never, opened, paid = place(m, links=LINKS), place(m, links=LINKS), place(m, links=LINKS)
    provider = m.provider
    # Never opened: Alipay has no trade; nothing to close, the link expires with the payment.
    assert provider.close_payment(payment_of(m, never).merchant_ref).status == ProviderStatus.CLOSED
    no = _open(m, opened)
    state = provider.query_payment(no)
    assert (state.status, state.amount, state.currency, state.merchant_ref) == (ProviderStatus.PENDING, 10_000,
                                                                                "CNY", no)  # fmt: skip
    assert provider.close_payment(no).status == ProviderStatus.CLOSED
    assert simulator.alipay.trades[no].status == "TRADE_CLOSED"
    # Paid meanwhile: closing finds the success; the return page's query applies it before any notification.
    no = _open(m, paid)
    simulator.alipay.pay(no)
    assert provider.close_payment(no).status == ProviderStatus.SUCCEEDED
    payments.sync_payment(m.session, provider, payment_of(m, paid).id)
    assert status(m, orders_of(m, paid)[0]) == OrderStatus.PAID


def test_a_forged_answer_from_the_gateway_is_not_believed(m: Market, simulator: Simulator) -> None:
    checkout = place(m, links=LINKS)
    no = _open(m, checkout)
    simulator.alipay.alipay_key = new_key()
    with pytest.raises(ProviderUnavailable):
        m.provider.query_payment(no)


def test_amounts_are_exact() -> None:
    assert [yuan(v) for v in (0, 1, 99, 100, 10_000, 123_456_789)] == [
        "0.00", "0.01", "0.99", "1.00", "100.00", "1234567.89",
    ]  # fmt: skip
    assert [fen(v) for v in ("0.01", "0.1", "1", "19.99", "1234567.89")] == [1, 10, 100, 1999, 123_456_789]
    for bad in ("1e2", "0.001", "-1.00", "1,00", " 1.00", "", "NaN", "01.00", 1.0):
        with pytest.raises(ValueError, match="yuan"):
            fen(bad)


def test_open_provider_builds_the_adapter_from_settings(configured: Settings, db_session: Any) -> None:
    provider = open_provider(configured, db_session, "alipay")
    assert isinstance(provider, AlipayProvider)
    assert (provider.app_id, provider.seller_id) == (ALIPAY_APP_ID, ALIPAY_SELLER)


def test_a_trade_closed_unpaid_closes_the_payment_after_asking_alipay(m: Market, simulator: Simulator) -> None:
    checkout = place(m, links=LINKS)
    no = _open(m, checkout)
    trade = simulator.alipay.trades[no]
    trade.status = "TRADE_CLOSED"  # Alipay closed it at its time_expire, unpaid
    sent = simulator.alipay._queue(trade, {})
    assert payments.handle_notification(m.session, m.provider, {}, sent.body).outcome == "applied"
    assert simulator.alipay.requests[-1] == "alipay.trade.query"  # a failure is checked before it is believed
    payment = payment_of(m, checkout)
    m.session.refresh(payment)
    assert payment.status == PaymentStatus.CLOSED
