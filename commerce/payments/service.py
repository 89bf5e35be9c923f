"""Payments: start one, apply what the provider tells us exactly once, refund.

Notifications are authenticated by the provider object, recorded once by
their event id (a replay finds its record and changes nothing), and applied
under a row lock on the payment. Providers deliver late, twice and out of
order, so nothing trusts arrival order:

- a success is final: a failure reported after it is stale and ignored;
- a failure is checked with a status query first (the provider may since
  have taken the money, or may still let the buyer retry: then the payment,
  and its orders' reservation, stay open and only the failure is noted);
- a refund notification for a payment whose success we have not seen yet
  first asks the provider for the payment's state and applies it.

The effect of a payment on its purpose (a checkout) is a handler registered
per purpose; handlers post to the ledger with keys derived from the payment,
so applying the same success through a webhook and through a status query
posts once.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Row, Select, bindparam, exists, insert, literal, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commerce.ledger import AccountKind, AccountRef, Leg, post
from commerce.payments.models import Payment, PaymentEvent, PaymentRefund, PaymentStatus, RefundStatus
from commerce.payments.provider import (
    DISPUTE_EVENTS,
    CreatePayment,
    EventType,
    Notification,
    PaymentProvider,
    PaymentState,
    ProviderStatus,
    RefundRequest,
)
from core import clock
from core.db import UTCDateTime, adopt_row, is_postgres
from core.errors import Conflict, NotFound, register_messages
from core.ids import short_id
from core.money import CURRENCY

log = logging.getLogger(__name__)

register_messages(
    {
        "payment_amount_mismatch": (
            "支付金额或币种与订单不符，已转人工核对",
            "The paid amount or currency does not match the order; held for review",
        ),
        "payment_reference_mismatch": (
            "支付通知中的商户订单号与该支付不符，未予处理",
            "The notification's merchant reference does not match the payment it names; it was not applied",
        ),
        "payment_state_mismatch": (
            "支付通知与该支付的当前状态不符，已保存待人工核对",
            "The notification does not fit the payment's current state; it was kept for review",
        ),
        "payment_not_refundable": ("该支付不可退款", "This payment cannot be refunded"),
    }
)


class PaymentHandler(Protocol):
    """What a purpose (checkout, booking) does when its payment or refund settles."""

    def succeeded_read(self, reference_id: ColumnElement[int]) -> Select[Any] | None:
        """What `on_succeeded` reads first about the payment's record (`reference_id` stands for the payment's), or
        None. On PostgreSQL a webhook's success reads it, and takes its locks, in the payment's own statement."""
        ...

    def on_succeeded(self, session: Session, payment: Payment, read: Sequence[Row[Any]] | None = None) -> None:
        """`read`: the rows of `succeeded_read`, when the success read them already (None: read them now)."""
        ...

    def on_failed(self, session: Session, payment: Payment) -> None: ...

    def on_refund_succeeded(self, session: Session, refund: PaymentRefund) -> None: ...

    def on_refund_failed(self, session: Session, refund: PaymentRefund) -> None: ...

    def on_dispute(self, session: Session, payment: Payment, note: Notification) -> str:
        """A chargeback was opened, won or lost; returns the outcome recorded with the event."""
        ...


_HANDLERS: dict[str, PaymentHandler] = {}


def register_purpose(purpose: str, handler: PaymentHandler) -> None:
    _HANDLERS[purpose] = handler


def _handler(payment: Payment) -> PaymentHandler:
    return _HANDLERS[payment.purpose]


def start_payment(
    session: Session,
    provider: PaymentProvider,
    *,
    purpose: str,
    reference_id: int,
    payer_id: int,
    amount: int,
    description: str,
    notify_url: str,
    return_url: str,
    expires_at: dt.datetime,
    client_ip: str | None = None,
    payer_openid: str | None = None,
) -> Payment:
    """Create the payment at the provider, then record it. Writes, does not commit.

    Our reference is random, so the provider is asked first: should our
    transaction roll back, the provider holds an orphan payment nobody can
    reach, which expires on its side.
    """
    merchant_ref = short_id("xlp", 10)
    created = provider.create_payment(
        CreatePayment(
            merchant_ref=merchant_ref,
            amount=amount,
            currency=CURRENCY,
            description=description,
            notify_url=notify_url,
            return_url=return_url,
            expires_at=expires_at,
            payer_openid=payer_openid,
            client_ip=client_ip,
        )
    )
    row = {
        "purpose": purpose, "reference_id": reference_id, "payer_id": payer_id, "provider": provider.name,
        "merchant_ref": merchant_ref, "amount": amount, "currency": CURRENCY, "status": PaymentStatus.PENDING,
        "fee": 0, "refunded_amount": 0, "provider_payment_id": created.provider_payment_id,
        "pay_url": created.pay_url, "review_reason": None, "last_failure": None, "created_at": clock.now(),
        "succeeded_at": None, "finished_at": None,
    }  # fmt: skip
    row["id"] = session.execute(_INSERT_PAYMENT, row).scalar_one()
    return adopt_row(session, Payment, row)


_INSERT_PAYMENT = insert(Payment.__table__).returning(Payment.__table__.c.id)


def capture_legs(payment: Payment) -> list[Leg]:
    """The cash side of a captured payment: what the provider holds for us, and the fee it kept."""
    legs = [Leg(AccountRef.platform(AccountKind.CLEARING), -(payment.amount - payment.fee))]
    if payment.fee:
        legs.append(Leg(AccountRef.platform(AccountKind.PROVIDER_FEES), -payment.fee))
    return legs


def lock_payment(session: Session, payment_id: int) -> Payment:
    payment = session.scalar(
        select(Payment).where(Payment.id == payment_id).with_for_update().execution_options(populate_existing=True)
    )
    if payment is None:
        raise NotFound("payment")
    return payment


def payment_for(session: Session, purpose: str, reference_id: int, *, lock: bool = False) -> Payment | None:
    """The latest payment made for a purpose's record, if any (`lock`: FOR UPDATE and fresh, as `lock_payment`)."""
    query = (
        select(Payment)
        .where(Payment.purpose == purpose, Payment.reference_id == reference_id)
        .order_by(Payment.id.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalar(query)


def _matches(payment: Payment, amount: int, currency: str) -> bool:
    return amount == payment.amount and currency == payment.currency


def _apply_success(session: Session, payment: Payment, *, amount: int, currency: str, fee: int) -> str:
    if payment.status == PaymentStatus.SUCCEEDED:
        return "already_applied"
    if not _matches(payment, amount, currency) or not 0 <= fee <= amount:
        payment.review_reason = "amount_mismatch"
        log.error("payment %s: provider reports %s %s, expected %s %s", payment.id, amount, currency,
                  payment.amount, payment.currency)  # fmt: skip
        return "rejected"
    payment.status = PaymentStatus.SUCCEEDED
    payment.fee = fee
    payment.succeeded_at = payment.finished_at = clock.now()
    _handler(payment).on_succeeded(session, payment)
    return "applied"


def _apply_failure(session: Session, payment: Payment, final_status: PaymentStatus) -> str:
    if payment.status != PaymentStatus.PENDING:
        return "stale"  # a success (or an earlier failure) already decided this payment
    payment.status = final_status
    payment.finished_at = clock.now()
    _handler(payment).on_failed(session, payment)
    return "applied"


def _apply_state(session: Session, payment: Payment, state: PaymentState) -> str:
    if state.status == ProviderStatus.SUCCEEDED:
        return _apply_success(session, payment, amount=state.amount, currency=state.currency, fee=state.fee)
    if state.status == ProviderStatus.FAILED:
        return _apply_failure(session, payment, PaymentStatus.FAILED)
    if state.status == ProviderStatus.CLOSED:
        return _apply_failure(session, payment, PaymentStatus.CLOSED)
    _note_failure(payment, state.last_failure)
    return "pending"


def _note_failure(payment: Payment, reason: str | None) -> None:
    """A failed attempt on a payment that stays open: remembered for the buyer's pages, nothing else changes."""
    if reason and payment.status == PaymentStatus.PENDING:
        payment.last_failure = reason[:64]


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    outcome: str  # applied | duplicate | stale | pending | ignored | rejected | already_applied
    reason: str | None = None  # why a rejected notification was refused: amount_mismatch | reference_mismatch | ...

    @property
    def rejected(self) -> bool:
        return self.outcome == "rejected"


def handle_notification(
    session: Session, provider: PaymentProvider, headers: Mapping[str, str], body: bytes
) -> WebhookResult:
    """Verify, apply, record once. Commits. Raises WebhookRejected before touching anything unauthentic.

    The event row is written in the same transaction as its effects; its
    unique (provider, event id) makes a racing second delivery of the same
    event fail at that insert and roll back whatever it did. The usual
    success records it first, so that from there to the commit the
    transaction only applies the payment (its ledger postings last): the
    account locks every payment shares are held as briefly as can be.
    """
    note = provider.parse_notification(headers, body)
    try:
        succeeded = _succeed_at_once(session, provider.name, note, body)
        if succeeded is not None:
            payment, read = succeeded
            _handler(payment).on_succeeded(session, payment, read)
            outcome = "applied"
        else:
            first = session.execute(
                select(PaymentEvent.outcome, PaymentEvent.detail).where(
                    PaymentEvent.provider == provider.name, PaymentEvent.event_id == note.event_id
                )
            ).first()
            if first is not None:
                session.rollback()
                if first.outcome == "rejected":
                    return WebhookResult(note.event_id, "rejected", first.detail)
                return WebhookResult(note.event_id, "duplicate")
            payment = session.scalar(
                select(Payment)
                .where(Payment.provider == provider.name, Payment.provider_payment_id == note.provider_payment_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            if payment is None:
                outcome, reason = "ignored", "unknown payment"
            elif payment.merchant_ref != note.merchant_ref:
                outcome, reason = "rejected", _reference_mismatch(payment, note)
            else:
                outcome = _apply_notification(session, provider, payment, note)
                reason = "amount_mismatch" if note.type == EventType.PAYMENT_SUCCEEDED else "state_mismatch"
            _record(session, provider.name, note, payment, outcome=outcome, body=body, detail=reason)
        session.commit()
    except _EventSeen:
        session.rollback()  # the same event, delivered twice at once: the other delivery applied it
        return WebhookResult(note.event_id, "duplicate")
    return WebhookResult(note.event_id, outcome, reason if outcome == "rejected" else None)


def _reference_mismatch(payment: Payment, note: Notification) -> str:
    """A signed notification that names one payment by the provider's id and another by ours: a provider-side
    mix-up or a replayed event stitched to another payment. Neither payment can be trusted to it, so nothing
    moves; the payment is flagged for review and the event kept as evidence."""
    log.error("payment %s: %s event %s carries merchant reference %r, expected %r", payment.id, note.type.value,
              note.event_id, note.merchant_ref, payment.merchant_ref)  # fmt: skip
    payment.review_reason = "reference_mismatch"
    return "reference_mismatch"


class _EventSeen(Exception):
    """The payment event's row is there already (a concurrent delivery of the same event committed it)."""


def _record(
    session: Session,
    provider: str,
    note: Notification,
    payment: Payment | None,
    *,
    outcome: str,
    body: bytes,
    detail: str | None = None,
) -> None:
    try:
        session.execute(
            _INSERT_EVENT,
            {"provider": provider, "event_id": note.event_id, "type": note.type.value,
             "payment_id": payment.id if payment else None, "amount": note.amount, "currency": note.currency,
             "occurred_at": note.occurred_at, "outcome": outcome, "detail": detail, "body": _stored(body)},
        )  # fmt: skip
    except IntegrityError as exc:
        raise _EventSeen() from exc


def _stored(body: bytes) -> str:
    return body.decode(errors="replace")


_payments, _events = Payment.__table__, PaymentEvent.__table__
_INSERT_EVENT = insert(_events).inline()  # no RETURNING of the new id: nobody reads it
_SUCCEED = (
    update(_payments)
    .where(
        _payments.c.provider == bindparam("by_provider"),
        _payments.c.provider_payment_id == bindparam("by_id"),
        _payments.c.merchant_ref == bindparam("by_ref"),
        _payments.c.status == PaymentStatus.PENDING,
        _payments.c.amount == bindparam("expected_amount"),
        _payments.c.currency == bindparam("expected_currency"),
        ~exists().where(_events.c.provider == bindparam("by_provider"), _events.c.event_id == bindparam("event_id")),
    )
    .values(
        status=PaymentStatus.SUCCEEDED,
        fee=bindparam("new_fee"),
        succeeded_at=bindparam("now", type_=UTCDateTime()),
        finished_at=bindparam("now", type_=UTCDateTime()),
    )
    .returning(*_payments.c)
)
# PostgreSQL: the same UPDATE with the event's row written by a WITH clause of the same statement, only when the
# payment changed (its id from the UPDATE's RETURNING); the statement returns the payment's row as `_SUCCEED` does
# (`_succeed_record_and_read`).
_succeeded = _SUCCEED.cte("succeeded")
_recorded = (
    insert(_events)
    .from_select(
        ["provider", "event_id", "type", "payment_id", "amount", "currency", "occurred_at", "received_at",
         "outcome", "body"],
        select(
            bindparam("by_provider"), bindparam("event_id"), bindparam("event_type"), _succeeded.c.id,
            bindparam("expected_amount"), bindparam("expected_currency"),
            bindparam("occurred_at", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime()),
            literal("applied"), bindparam("body"),
        ),
        include_defaults=False,
    )
    .cte("recorded")
)  # fmt: skip
_PAYMENT_KEYS = tuple(_succeeded.c.keys())


@functools.lru_cache(maxsize=16)
def _succeed_record_and_read(
    handlers: tuple[tuple[str, PaymentHandler], ...],
) -> tuple[Select[Any], dict[str, tuple[int, int]]]:
    """`_SUCCEED` with the event's row (`_recorded`) and, joined to the payment it returns, each purpose's
    `succeeded_read` of it (a LATERAL subquery that reads only for a payment of its purpose, its FOR UPDATE locks
    taken after the payment's): one row per read row. Returns the statement and, per purpose, the positions of
    its columns (a slice's start and stop, its marker column last).

    The payment's columns come first (named apart, read by position); the reads' names must differ from each
    other's, so that each purpose's rows keep their own column names."""
    payment = [c.label(f"payment_{c.key}") for c in _succeeded.c]
    statement, joined, starts = select(*payment), _succeeded, {}
    names = {c.key for c in payment}
    for purpose, handler in handlers:
        read = handler.succeeded_read(_succeeded.c.reference_id)
        if read is None:
            continue
        read = read.add_columns(literal(True).label(f"read_{purpose}")).where(_succeeded.c.purpose == purpose)
        lateral = read.lateral(f"read_{purpose}")
        if names & set(lateral.c.keys()):
            raise ValueError(f"purpose {purpose}: its succeeded_read repeats column names the statement has")
        names |= set(lateral.c.keys())
        start = len(statement.selected_columns)
        statement = statement.add_columns(*lateral.c)
        starts[purpose] = (start, len(statement.selected_columns))
        joined = joined.outerjoin(lateral, true())
    return statement.select_from(joined).add_cte(_recorded), starts


def _succeed_at_once(
    session: Session, provider: str, note: Notification, body: bytes
) -> tuple[Payment, Sequence[Row[Any]] | None] | None:
    """The usual notification: a success, new, for a pending payment of exactly that amount, applied to the
    payment and recorded as an applied event.

    The conditional UPDATE locks the payment and changes it only in that case (what `_apply_success` would do);
    anything else (a replay, a mismatch, out of order, a failure or refund) returns None for the full path. On
    PostgreSQL the event's row and the purpose's `succeeded_read` come with the UPDATE, one round trip (the read is
    returned with the payment; None when it is still to be read); SQLite has no writable WITH and records the event
    next. Either way a concurrent delivery of the same event that committed first fails at the event's unique key.
    """
    if note.type != EventType.PAYMENT_SUCCEEDED or not 0 <= note.fee <= note.amount:
        return None
    params = {
        "by_provider": provider, "by_id": note.provider_payment_id, "by_ref": note.merchant_ref,
        "expected_amount": note.amount, "expected_currency": note.currency, "event_id": note.event_id,
        "new_fee": note.fee, "now": clock.now(),
    }  # fmt: skip
    if is_postgres(session):
        record = {"event_type": note.type.value, "occurred_at": note.occurred_at, "body": _stored(body)}
        statement, starts = _succeed_record_and_read(tuple(sorted(_HANDLERS.items())))
        try:
            result = session.execute(statement, {**params, **record}).freeze()
        except IntegrityError as exc:
            raise _EventSeen() from exc
        rows = result().all()
        if not rows:
            return None
        payment = adopt_row(session, Payment, dict(zip(_PAYMENT_KEYS, rows[0], strict=False)))
        columns = starts.get(payment.purpose)
        if columns is None:
            return payment, None
        # The purpose's own columns, as its rows; the outer join's row of NULLs, when the read found nothing, is none.
        read = result().columns(*range(*columns)).all()
        return payment, [r for r in read if r[-1] is not None]
    row = session.execute(_SUCCEED, params).first()
    if row is None:
        return None
    payment = adopt_row(session, Payment, row._mapping)
    _record(session, provider, note, payment, outcome="applied", body=body)
    return payment, None


def _apply_notification(session: Session, provider: PaymentProvider, payment: Payment, note: Notification) -> str:
    if note.type == EventType.PAYMENT_SUCCEEDED:
        return _apply_success(session, payment, amount=note.amount, currency=note.currency, fee=note.fee)
    if note.type in DISPUTE_EVENTS:
        return _apply_dispute_notification(session, payment, note)
    if note.type == EventType.PAYMENT_FAILED:
        if payment.status != PaymentStatus.PENDING:
            return "stale"  # decided already (a success is final)
        # Out-of-order safety: ask the provider what is true now before giving up on the payment.
        state = provider.query_payment(note.provider_payment_id)
        if state.status == ProviderStatus.PENDING:
            _note_failure(payment, state.last_failure or note.failure_reason)
            return "pending"  # the buyer may still retry on the provider's page
        return _apply_state(session, payment, state)
    return _apply_refund_notification(session, provider, payment, note)


def _apply_dispute_notification(session: Session, payment: Payment, note: Notification) -> str:
    if payment.status != PaymentStatus.SUCCEEDED or not note.dispute_id or note.currency != payment.currency:
        return "rejected"
    return _handler(payment).on_dispute(session, payment, note)


def _apply_refund_notification(
    session: Session, provider: PaymentProvider, payment: Payment, note: Notification
) -> str:
    refund = session.scalar(
        select(PaymentRefund)
        .where(PaymentRefund.refund_ref == note.refund_ref, PaymentRefund.payment_id == payment.id)
        .with_for_update()
    )
    if refund is None:
        return "ignored"
    if payment.status != PaymentStatus.SUCCEEDED:
        _apply_state(session, payment, provider.query_payment(note.provider_payment_id))
    if note.type == EventType.REFUND_SUCCEEDED:
        if note.amount != refund.amount or note.currency != payment.currency:
            return "rejected"
        return _refund_succeeded(session, payment, refund, note.fee, note.provider_refund_id)
    return _refund_failed(session, payment, refund, note.failure_reason or "refund_failed")


def sync_payment(session: Session, provider: PaymentProvider, payment_id: int) -> Payment:
    """Ask the provider for the truth and apply it (the return URL, the expiry job). Commits."""
    payment = lock_payment(session, payment_id)
    if payment.status == PaymentStatus.PENDING and payment.provider_payment_id:
        _apply_state(session, payment, provider.query_payment(payment.provider_payment_id))
    session.commit()
    return payment


def close_payment(session: Session, provider: PaymentProvider, payment: Payment) -> str:
    """Stop a pending payment at the provider and apply its final state (it may have been paid just now).

    Does not commit; `payment` must be locked by the caller.
    """
    if payment.status != PaymentStatus.PENDING:
        return "stale"
    if payment.provider_payment_id is None:
        return _apply_failure(session, payment, PaymentStatus.CLOSED)
    return _apply_state(session, payment, provider.close_payment(payment.provider_payment_id))


def _claim_refundable(session: Session, payment: Payment, amount: int) -> None:
    """Count `amount` as given back, in one guarded statement: what is refunded never exceeds what was paid."""
    claimed = session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.refunded_amount + amount <= Payment.amount)
        .values(refunded_amount=Payment.refunded_amount + amount)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("payment_not_refundable")
    session.refresh(payment, ["refunded_amount"])


def request_refund(
    session: Session,
    provider: PaymentProvider,
    payment: Payment,
    *,
    amount: int,
    reference_id: int,
    reason: str,
    notify_url: str,
) -> PaymentRefund:
    """Ask the provider to give `amount` back. Flushes, does not commit."""
    if payment.status != PaymentStatus.SUCCEEDED or amount <= 0:
        raise Conflict("payment_not_refundable")
    _claim_refundable(session, payment, amount)
    refund = PaymentRefund(
        payment_id=payment.id, refund_ref=short_id("xlr", 10), reference_id=reference_id, amount=amount
    )
    session.add(refund)
    session.flush()
    assert payment.provider_payment_id is not None
    result = provider.refund(
        RefundRequest(
            provider_payment_id=payment.provider_payment_id,
            refund_ref=refund.refund_ref,
            amount=amount,
            currency=payment.currency,
            reason=reason,
            notify_url=notify_url,
        )
    )
    refund.provider_refund_id = result.provider_refund_id
    session.flush()
    return refund


def record_chargeback(
    session: Session, payment: Payment, *, amount: int, reference_id: int, case: str
) -> PaymentRefund:
    """The provider is keeping `amount` for the buyer (a chargeback conceded or lost): a refund we did not ask
    for, recorded like one so that nothing can refund that money a second time. Pending until the provider
    confirms (`chargeback_taken`). Flushes, does not commit."""
    _claim_refundable(session, payment, amount)
    refund = PaymentRefund(
        payment_id=payment.id, refund_ref=f"cb:{case}:{reference_id}"[:64], reference_id=reference_id, amount=amount
    )
    session.add(refund)
    session.flush()
    return refund


def chargeback_taken(session: Session, payment: Payment, refund: PaymentRefund, *, case: str) -> str:
    """The provider says the chargeback is lost: the money left it, like a refund paid (no fee comes back)."""
    return _refund_succeeded(session, payment, refund, 0, case)


def _refund_succeeded(
    session: Session, payment: Payment, refund: PaymentRefund, fee_back: int, provider_refund_id: str | None
) -> str:
    if refund.status == RefundStatus.SUCCEEDED:
        return "already_applied"
    refund.status = RefundStatus.SUCCEEDED
    refund.fee_refunded = fee_back
    refund.provider_refund_id = provider_refund_id or refund.provider_refund_id
    refund.finished_at = clock.now()
    # The money leaves the provider: the refund liability and the cash both shrink; the fee comes back.
    # The fee comes back pro rata to the cumulative refund, so the last fen of a full refund can bring back
    # as much fee as it refunds: then no cash moves, and that leg is left out.
    legs = [
        leg
        for leg in (
            Leg(AccountRef.platform(AccountKind.REFUNDS), -refund.amount),
            Leg(AccountRef.platform(AccountKind.CLEARING), refund.amount - fee_back),
            Leg(AccountRef.platform(AccountKind.PROVIDER_FEES), fee_back),
        )
        if leg.amount
    ]
    post(session, key=f"refund:{refund.id}:paid", kind="refund_paid", legs=legs, memo=f"payment {payment.id}")
    _handler(payment).on_refund_succeeded(session, refund)
    return "applied"


def _refund_failed(session: Session, payment: Payment, refund: PaymentRefund, reason: str) -> str:
    if refund.status != RefundStatus.PENDING:
        return "stale"
    refund.status = RefundStatus.FAILED
    refund.failure_reason = reason[:64]
    refund.finished_at = clock.now()
    payment.refunded_amount -= refund.amount  # the amount may be asked for again
    _handler(payment).on_refund_failed(session, refund)
    return "applied"


def event_log(session: Session, payment_id: int) -> list[PaymentEvent]:
    return list(
        session.scalars(select(PaymentEvent).where(PaymentEvent.payment_id == payment_id).order_by(PaymentEvent.id))
    )
