"""Payment webhooks: signature, timestamp, amount and currency checked; applied once; order of arrival irrelevant."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from commerce.orders.models import OrderStatus
from commerce.payments import service as payments
from commerce.payments.models import PaymentEvent, PaymentStatus
from commerce.payments.provider import CreatePayment, EventType, ProviderStatus, WebhookRejected
from commerce.payments.sandbox import SIGNATURE_HEADER, signature_header
from core import clock
from core.clock import FrozenClock
from core.db import is_postgres
from core.errors import Conflict
from core.money import apply_bp
from tests.commerce.money import (
    SECRET,
    Market,
    assert_books_balanced,
    deliver,
    last_notification,
    ledger_transactions,
    orders_of,
    pay,
    payment_of,
    place,
    status,
)
from tests.statements import recorded


def _event(m: Market, checkout_payment_id: str, event_type: EventType, **data: object) -> bytes:
    payment = m.provider.get_payment(checkout_payment_id)
    body = {"payment_id": payment.id, "merchant_ref": payment.merchant_ref, "amount": payment.amount,
            "currency": payment.currency, "fee": 0}  # fmt: skip
    body.update(data)
    return m.provider.event_body(event_type, body)


def _send(m: Market, body: bytes, *, secret: bytes = SECRET, timestamp: int | None = None) -> payments.WebhookResult:
    headers = {SIGNATURE_HEADER: signature_header(secret, body, timestamp)}
    return payments.handle_notification(m.session, m.provider, headers, body)


def _events(m: Market) -> int:
    return m.session.scalar(select(func.count()).select_from(PaymentEvent)) or 0


def test_a_bad_signature_is_refused_and_nothing_is_recorded(market: Market) -> None:
    m = market
    checkout = place(m)
    pid = payment_of(m, checkout).provider_payment_id or ""
    body = _event(m, pid, EventType.PAYMENT_SUCCEEDED)
    for headers in (
        {SIGNATURE_HEADER: signature_header(b"not-the-secret", body)},
        {SIGNATURE_HEADER: signature_header(SECRET, body + b" ")},  # signed bytes differ from the body
        {SIGNATURE_HEADER: "t=abc,v1=00"},
        {},
    ):
        with pytest.raises(WebhookRejected) as err:
            payments.handle_notification(m.session, m.provider, headers, body)
        assert err.value.code == "webhook_bad_signature"
    tampered = body.replace(b'"amount":10000', b'"amount":1')
    with pytest.raises(WebhookRejected):
        payments.handle_notification(
            m.session, m.provider, {SIGNATURE_HEADER: signature_header(SECRET, body)}, tampered
        )
    assert _events(m) == 0
    assert status(m, orders_of(m, checkout)[0]) == OrderStatus.PENDING_PAYMENT


def test_a_stale_or_future_timestamp_is_refused(market: Market) -> None:
    m = market
    checkout = place(m)
    body = _event(m, payment_of(m, checkout).provider_payment_id or "", EventType.PAYMENT_SUCCEEDED)
    now = int(clock.now().timestamp())
    for ts in (now - 301, now + 301):
        with pytest.raises(WebhookRejected) as err:
            _send(m, body, timestamp=ts)
        assert err.value.code == "webhook_stale"
    assert _events(m) == 0
    assert _send(m, body, timestamp=now - 299).outcome == "applied"  # inside the tolerance


def test_rotated_webhook_secrets_both_verify(market: Market) -> None:
    m = market
    m.provider.secrets = [b"new-secret", SECRET]
    checkout = place(m)
    body = _event(m, payment_of(m, checkout).provider_payment_id or "", EventType.PAYMENT_SUCCEEDED)
    assert _send(m, body, secret=SECRET).outcome == "applied"


def test_malformed_but_signed_bodies_are_refused(market: Market) -> None:
    m = market
    for body in (b"not json", b'{"id":"evt_1"}', b'{"id":"e","type":"payment.exploded","created":1,"data":{}}'):
        with pytest.raises(WebhookRejected) as err:
            _send(m, body)
        assert err.value.code == "webhook_malformed"
    checkout = place(m)
    pid = payment_of(m, checkout).provider_payment_id or ""
    with pytest.raises(WebhookRejected):  # a float is not an amount
        _send(m, _event(m, pid, EventType.PAYMENT_SUCCEEDED, amount=100.0))


@pytest.mark.parametrize(("field", "value"), [("amount", 9_999), ("amount", 10_001), ("currency", "USD")])
def test_a_wrong_amount_or_currency_is_not_applied_and_flags_the_payment(
    market: Market, field: str, value: object
) -> None:
    m = market
    checkout = place(m)
    pid = payment_of(m, checkout).provider_payment_id or ""
    before = ledger_transactions(m.session)
    body = _event(m, pid, EventType.PAYMENT_SUCCEEDED, **{field: value})
    assert _send(m, body).outcome == "rejected"
    assert _send(m, body).outcome == "rejected"  # a replay is refused the same way
    payment = payment_of(m, checkout)
    m.session.refresh(payment)
    assert payment.status == PaymentStatus.PENDING
    assert payment.review_reason == "amount_mismatch"
    assert status(m, orders_of(m, checkout)[0]) == OrderStatus.PENDING_PAYMENT
    assert ledger_transactions(m.session) == before
    assert m.session.scalar(select(PaymentEvent.outcome)) == "rejected"


@pytest.mark.parametrize("event_type", [EventType.PAYMENT_SUCCEEDED, EventType.PAYMENT_FAILED])
def test_a_signed_event_whose_merchant_reference_is_another_payments_moves_nothing(
    market: Market, event_type: EventType
) -> None:
    m = market
    checkout, other = place(m), place(m)
    pid = payment_of(m, checkout).provider_payment_id or ""
    before = ledger_transactions(m.session)
    body = _event(m, pid, event_type, merchant_ref=payment_of(m, other).merchant_ref)
    for _ in range(2):  # a replay is refused the same way
        result = _send(m, body)
        assert (result.outcome, result.reason) == ("rejected", "reference_mismatch")
    for c in (checkout, other):
        payment = payment_of(m, c)
        m.session.refresh(payment)
        assert payment.status == PaymentStatus.PENDING
        assert status(m, orders_of(m, c)[0]) == OrderStatus.PENDING_PAYMENT
    assert payment_of(m, checkout).review_reason == "reference_mismatch"
    assert ledger_transactions(m.session) == before
    assert m.session.execute(select(PaymentEvent.outcome, PaymentEvent.detail)).one() == (
        "rejected",
        "reference_mismatch",
    )
    # The true event for the payment still applies afterwards.
    assert _send(m, _event(m, pid, EventType.PAYMENT_SUCCEEDED)).outcome == "applied"


def test_replays_add_nothing(market: Market) -> None:
    m = market
    checkout = place(m)
    assert pay(m, checkout) == ["applied"]
    note = last_notification(m)
    posted = ledger_transactions(m.session)
    # The same event again (providers retry until they see 2xx), signed afresh.
    assert _send(m, note.body.encode()).outcome == "duplicate"
    # The same fact under a new event id (a provider re-sending after a restart).
    doc = json.loads(note.body)
    doc["id"] = "evt_resent"
    assert _send(m, json.dumps(doc).encode()).outcome == "already_applied"
    assert ledger_transactions(m.session) == posted
    assert _events(m) == 2  # the duplicate did not even get a row
    assert_books_balanced(m.session)


def test_a_success_is_applied_in_two_statements_on_postgresql(market: Market) -> None:
    """The payment, its event and its orders, locked; their split with the ledger's posting."""
    m = market
    checkout = place(m)
    payment = payment_of(m, checkout)
    assert payment.provider_payment_id is not None
    m.provider.complete(payment.provider_payment_id, succeed=True)
    m.session.commit()
    note = last_notification(m)
    with recorded(m.session) as seen:
        assert _send(m, note.body.encode()).outcome == "applied"
    touching = [sql for sql in seen if "payment_events" in sql or sql.startswith("UPDATE payments")]
    work = [sql for sql in seen if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]  # the test's own
    if is_postgres(m.session):
        assert len(work) == 2, work
        assert len(touching) == 1, touching  # the UPDATE, the event's INSERT and the orders' read: one statement
        assert work[0] == touching[0]
        assert work[0].startswith("WITH succeeded AS (UPDATE payments")
        assert "LEFT OUTER JOIN LATERAL (SELECT orders.buyer_id" in work[0]
        assert "FOR UPDATE OF orders" in work[0]
        for write in ("INSERT INTO earnings", "UPDATE orders", "INSERT INTO order_events", "FROM ledger_post("):
            assert write in work[1], (write, work[1])
    else:
        assert len(touching) == 2, touching
        assert any(sql.startswith("SELECT orders.") for sql in work)  # the orders' read, on its own
        assert len(work) > 3
    event = m.session.scalars(select(PaymentEvent)).one()
    doc = json.loads(note.body)
    assert (event.provider, event.event_id, event.type, event.payment_id, event.amount, event.currency) == (
        "sandbox",
        doc["id"],
        "payment.succeeded",
        payment.id,
        payment.amount,
        payment.currency,
    )
    assert (event.outcome, event.detail, event.body) == ("applied", None, note.body)
    assert event.occurred_at == dt.datetime.fromtimestamp(doc["created"], dt.UTC)
    m.session.refresh(payment)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert event.received_at == payment.succeeded_at
    # A second delivery finds the row the statement wrote.
    assert _send(m, note.body.encode()).outcome == "duplicate"


def test_a_failure_that_arrives_after_the_success_is_stale(market: Market) -> None:
    m = market
    checkout = place(m)
    pid = payment_of(m, checkout).provider_payment_id or ""
    early_failure = _event(m, pid, EventType.PAYMENT_FAILED, failure_reason="declined")  # first attempt, sent late
    assert pay(m, checkout) == ["applied"]
    assert _send(m, early_failure).outcome == "stale"
    assert status(m, orders_of(m, checkout)[0]) == OrderStatus.PAID


def test_a_failure_that_arrives_before_the_success_is_checked_with_the_provider(market: Market) -> None:
    m = market
    checkout = place(m)
    payment = payment_of(m, checkout)
    pid = payment.provider_payment_id or ""
    early_failure = _event(m, pid, EventType.PAYMENT_FAILED, failure_reason="declined")
    # While the provider still lets the buyer retry, a failure changes nothing.
    assert _send(m, early_failure).outcome == "pending"
    assert status(m, orders_of(m, checkout)[0]) == OrderStatus.PENDING_PAYMENT
    # The buyer's retry succeeded at the provider; its webhook is delayed, another stale failure arrives first.
    m.provider.complete(pid, succeed=True)
    m.session.commit()
    late_failure = _event(m, pid, EventType.PAYMENT_FAILED, failure_reason="declined")
    assert _send(m, late_failure).outcome == "applied"  # the query found the success and applied it
    assert status(m, orders_of(m, checkout)[0]) == OrderStatus.PAID
    assert deliver(m) == ["already_applied"]
    assert_books_balanced(m.session)


def test_the_return_page_query_and_the_webhook_apply_once(market: Market) -> None:
    m = market
    checkout = place(m)
    payment = payment_of(m, checkout)
    m.provider.complete(payment.provider_payment_id or "", succeed=True)
    m.session.commit()
    posted = ledger_transactions(m.session)
    payments.sync_payment(m.session, m.provider, payment.id)
    assert ledger_transactions(m.session) == posted + 2  # capture and split
    assert deliver(m) == ["already_applied"]
    assert ledger_transactions(m.session) == posted + 2


def test_refund_notifications_are_checked_and_applied_once(market: Market, frozen: FrozenClock) -> None:
    from commerce.orders.refunds import cancel_order
    from tests.commerce.money import NOTIFY_URL

    m = market
    checkout = place(m)
    pay(m, checkout)
    (order,) = orders_of(m, checkout)
    cancel_order(m.session, m.buyer, order.id, provider=m.provider, notify_url=NOTIFY_URL)
    refund_note = last_notification(m)
    doc = json.loads(refund_note.body)
    doc["id"], doc["data"]["amount"] = "evt_wrong_refund", 1
    assert _send(m, json.dumps(doc).encode()).outcome == "rejected"
    assert deliver(m) == ["applied"]
    assert _send(m, refund_note.body.encode()).outcome == "duplicate"
    assert_books_balanced(m.session)


def test_events_for_unknown_payments_are_recorded_and_ignored(market: Market) -> None:
    m = market
    body = m.provider.event_body(
        EventType.PAYMENT_SUCCEEDED,
        {"payment_id": "sbxpay_unknown", "merchant_ref": "x", "amount": 1, "currency": "CNY", "fee": 0},
    )
    assert _send(m, body).outcome == "ignored"
    assert _events(m) == 1


@pytest.mark.parametrize("amount", [1, 83, 250, 16540, 99_999_999])
def test_the_sandbox_takes_its_fee_half_up_when_the_buyer_pays_and_a_second_click_pays_once(
    market: Market, amount: int
) -> None:
    """One conditional UPDATE pays a pending payment: its fee is `apply_bp(amount, fee_bp)` (83 x 60 bp = 0.498 fen
    -> 0; 250 x 60 bp = 1.5 fen -> 2), and the notification says so once."""
    created = market.provider.create_payment(
        CreatePayment(merchant_ref=f"ref-{amount}", amount=amount, currency="CNY", description="fee",
                      notify_url="http://testserver/hook", return_url="http://testserver/back",
                      expires_at=clock.now() + dt.timedelta(minutes=15))
    )  # fmt: skip
    paid = market.provider.complete(created.provider_payment_id, succeed=True)
    again = market.provider.complete(created.provider_payment_id, succeed=True)
    assert (paid.status, paid.fee) == (ProviderStatus.SUCCEEDED, apply_bp(amount, market.provider.fee_bp))
    assert (again.status, again.fee) == (paid.status, paid.fee)
    assert market.provider.get_payment(created.provider_payment_id).fee == paid.fee
    notes = market.provider.notifications(created.provider_payment_id)
    assert [json.loads(n.body)["data"]["fee"] for n in notes] == [paid.fee]


def test_an_expired_sandbox_payment_cannot_be_paid(market: Market) -> None:
    created = market.provider.create_payment(
        CreatePayment(merchant_ref="ref-late", amount=500, currency="CNY", description="late",
                      notify_url="http://testserver/hook", return_url="http://testserver/back",
                      expires_at=clock.now() - dt.timedelta(seconds=1))
    )  # fmt: skip
    with pytest.raises(Conflict):
        market.provider.complete(created.provider_payment_id, succeed=True)
    assert market.provider.get_payment(created.provider_payment_id).status == ProviderStatus.CLOSED
