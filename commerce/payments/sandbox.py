"""The built-in sandbox provider: a whole payment provider on one machine.

It keeps its own state (what a real provider keeps on its side) in `sandbox_*`
tables, serves a hosted pay page through our web app (`/sandbox/pay/<id>`),
and tells us outcomes the way real providers do: asynchronous, HMAC-signed
notifications with a timestamp (`Sandbox-Signature: t=<unix>,v1=<hex>`, like
Stripe's), delivered over HTTP with retries until our endpoint answers 2xx.
A declined attempt leaves the payment open, as Stripe's payment intents and
WeChat Pay's orders stay payable: the buyer may try again until it expires;
the decline is reported (a `payment.failed` notification, and `last_failure`
in status queries) but is not final.
It charges a fee in basis points on captures and gives it back pro rata on
refunds, like WeChat Pay and Alipay.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, Row, String, Text, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from commerce.payments.provider import (
    CreatePayment,
    EventType,
    Notification,
    PaymentState,
    ProviderPayment,
    ProviderRefund,
    ProviderStatus,
    RefundRequest,
    TransferRequest,
    TransferResult,
    WebhookRejected,
)
from core import clock
from core.db import Base, UTCDateTime, expire_loaded, is_postgres, str_enum
from core.errors import Conflict, NotFound, register_messages
from core.ids import short_id
from core.money import BP_WHOLE, apply_bp
from core.tasks import enqueue_after_commit

log = logging.getLogger(__name__)

register_messages(
    {
        "sandbox_payment_closed": ("该支付单已关闭或已过期", "This payment is closed or expired"),
        "sandbox_refund_too_large": ("退款金额超过可退金额", "The refund exceeds the refundable amount"),
    }
)

SIGNATURE_HEADER = "Sandbox-Signature"
DELIVER_TASK = "payments.deliver_sandbox_notifications"
MAX_DELIVERY_ATTEMPTS = 15
DECLINED = "declined"


class SandboxPayment(Base):
    __tablename__ = "sandbox_payments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_ref: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(200))
    notify_url: Mapped[str] = mapped_column(String(500))
    return_url: Mapped[str] = mapped_column(String(500))
    status: Mapped[ProviderStatus] = mapped_column(str_enum(ProviderStatus, 16), default=ProviderStatus.PENDING)
    fee: Mapped[int] = mapped_column(default=0)
    refunded: Mapped[int] = mapped_column(default=0)
    fee_refunded: Mapped[int] = mapped_column(default=0)
    last_failure: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class SandboxRefund(Base):
    __tablename__ = "sandbox_refunds"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("sandbox_payments.id"), index=True)
    refund_ref: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int]
    fee_refunded: Mapped[int]
    status: Mapped[ProviderStatus] = mapped_column(str_enum(ProviderStatus, 16))
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class SandboxTransfer(Base):
    __tablename__ = "sandbox_transfers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    transfer_ref: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int]
    account_no: Mapped[str] = mapped_column(String(64))
    status: Mapped[ProviderStatus] = mapped_column(str_enum(ProviderStatus, 16))
    failure_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


class SandboxDispute(Base):
    """A chargeback the sandbox's "bank" raised; the money leaves the merchant only when it is lost."""

    __tablename__ = "sandbox_disputes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("sandbox_payments.id"), index=True)
    amount: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | won | lost
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class SandboxNotification(Base):
    """An outgoing webhook, retried with backoff until the merchant answers 2xx."""

    __tablename__ = "sandbox_notifications"
    __table_args__ = (Index("ix_sandbox_notifications_due", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    payment_id: Mapped[str] = mapped_column(String(40), index=True)  # the sandbox payment it is about
    url: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=clock.now)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    gave_up_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=clock.now)


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, body: bytes, timestamp: int | None = None) -> str:
    t = int(clock.now().timestamp()) if timestamp is None else timestamp
    return f"t={t},v1={sign(secret, t, body)}"


def _unix(value: dt.datetime) -> int:
    return int(value.timestamp())


def _state(p: SandboxPayment) -> PaymentState:
    return PaymentState(
        provider_payment_id=p.id,
        merchant_ref=p.merchant_ref,
        status=p.status,
        amount=p.amount,
        currency=p.currency,
        fee=p.fee,
        last_failure=p.last_failure,
    )


class SandboxProvider:
    """The sandbox as a `PaymentProvider`, bound to the caller's session (its tables live in our database)."""

    name = "sandbox"

    def __init__(
        self,
        session: Session,
        *,
        secrets: Sequence[bytes],
        base_url: str,
        fee_bp: int = 60,
        tolerance_seconds: int = 300,
    ) -> None:
        if not secrets:
            raise ValueError("the sandbox needs at least one webhook secret")
        self.session = session
        self.secrets = list(secrets)
        self.base_url = base_url.rstrip("/")
        self.fee_bp = fee_bp
        self.tolerance = tolerance_seconds
        # The body of the notification this object queued last: what an in-process sender (the checkout bench)
        # posts to the webhook without reading it back; the sender task still delivers every queued one.
        self.last_sent: bytes | None = None

    # -- the provider interface -------------------------------------------------------------------------

    def create_payment(self, req: CreatePayment) -> ProviderPayment:
        # Idempotent per merchant reference, like a real provider: a repeated request gets the first payment.
        created = self.session.execute(
            _create_statement(self.session.get_bind().dialect.name),
            {"id": short_id("sbxpay_"), "merchant_ref": req.merchant_ref, "amount": req.amount,
             "currency": req.currency, "description": req.description[:200], "notify_url": req.notify_url,
             "return_url": req.return_url, "status": ProviderStatus.PENDING, "fee": 0, "refunded": 0,
             "fee_refunded": 0, "last_failure": None, "created_at": clock.now(), "expires_at": req.expires_at},
        ).scalar()  # fmt: skip
        if created is None:
            created = self.session.scalar(
                select(SandboxPayment.id).where(SandboxPayment.merchant_ref == req.merchant_ref)
            )
        return ProviderPayment(created, f"{self.base_url}/sandbox/pay/{created}")

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        header = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), "")
        parts: dict[str, list[str]] = {}
        for item in header.split(","):
            k, _, v = item.strip().partition("=")
            parts.setdefault(k, []).append(v)
        try:
            timestamp = int(parts["t"][0])
        except (KeyError, ValueError):
            raise WebhookRejected("webhook_bad_signature") from None
        sent = parts.get("v1", [])
        if not any(
            hmac.compare_digest(sign(secret, timestamp, body), candidate)
            for secret in self.secrets
            for candidate in sent
        ):
            raise WebhookRejected("webhook_bad_signature")
        if abs(_unix(clock.now()) - timestamp) > self.tolerance:
            raise WebhookRejected("webhook_stale")
        try:
            doc = json.loads(body)
            data = doc["data"]
            return Notification(
                event_id=str(doc["id"]),
                type=EventType(doc["type"]),
                occurred_at=dt.datetime.fromtimestamp(int(doc["created"]), dt.UTC),
                provider_payment_id=str(data["payment_id"]),
                merchant_ref=str(data["merchant_ref"]),
                amount=_strict_int(data["amount"]),
                currency=str(data["currency"]),
                fee=_strict_int(data.get("fee", 0)),
                provider_refund_id=data.get("refund_id"),
                refund_ref=data.get("refund_ref"),
                failure_reason=data.get("failure_reason"),
                dispute_id=data.get("dispute_id"),
                reason=data.get("reason"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected("webhook_malformed") from exc

    def query_payment(self, provider_payment_id: str) -> PaymentState:
        return _state(self._payment(provider_payment_id))

    def close_payment(self, provider_payment_id: str) -> PaymentState:
        p = self._payment(provider_payment_id, lock=True)
        if p.status == ProviderStatus.PENDING:
            p.status = ProviderStatus.CLOSED
            p.finished_at = clock.now()
            self.session.flush()
        return _state(p)

    def refund(self, req: RefundRequest) -> ProviderRefund:
        existing = self.session.scalar(select(SandboxRefund).where(SandboxRefund.refund_ref == req.refund_ref))
        if existing is not None:
            return ProviderRefund(existing.id, ProviderStatus.PENDING)
        p = self._payment(req.provider_payment_id, lock=True)
        if p.status != ProviderStatus.SUCCEEDED or req.amount <= 0 or req.currency != p.currency:
            raise Conflict("sandbox_payment_closed")
        if p.refunded + req.amount > p.amount:
            raise Conflict("sandbox_refund_too_large")
        # The fee comes back pro rata to the cumulative refund, so a full refund returns all of it.
        fee_back = p.fee * (p.refunded + req.amount) // p.amount - p.fee_refunded
        p.refunded += req.amount
        p.fee_refunded += fee_back
        refund = SandboxRefund(
            id=short_id("sbxref_"),
            payment_id=p.id,
            refund_ref=req.refund_ref,
            amount=req.amount,
            fee_refunded=fee_back,
            status=ProviderStatus.SUCCEEDED,
        )
        self.session.add(refund)
        self.session.flush()
        # Like WeChat Pay: the call says "processing", the outcome comes by notification.
        self._notify(
            EventType.REFUND_SUCCEEDED,
            req.notify_url,
            {
                "payment_id": p.id,
                "merchant_ref": p.merchant_ref,
                "refund_id": refund.id,
                "refund_ref": refund.refund_ref,
                "amount": refund.amount,
                "fee": fee_back,
                "currency": p.currency,
            },
        )
        return ProviderRefund(refund.id, ProviderStatus.PENDING)

    def transfer(self, req: TransferRequest) -> TransferResult:
        existing = self.session.scalar(select(SandboxTransfer).where(SandboxTransfer.transfer_ref == req.transfer_ref))
        if existing is None:
            # Test hook with a real-world shape: the receiving account can be refused by the bank.
            refused = req.account_no.lower().startswith("fail")
            existing = SandboxTransfer(
                id=short_id("sbxtr_"),
                transfer_ref=req.transfer_ref,
                amount=req.amount,
                account_no=req.account_no,
                status=ProviderStatus.FAILED if refused else ProviderStatus.SUCCEEDED,
                failure_reason="account_rejected" if refused else None,
            )
            self.session.add(existing)
            self.session.flush()
        return TransferResult(existing.id, existing.status, existing.failure_reason)

    def accept_dispute(self, provider_dispute_id: str) -> None:
        self.resolve_chargeback(provider_dispute_id, lost=True)

    # -- chargebacks (test hooks with a real-world shape: the buyer's bank raises them, its rules decide) ------

    def open_chargeback(self, provider_payment_id: str, *, amount: int, reason: str) -> str:
        p = self._payment(provider_payment_id, lock=True)
        disputed = sum(
            d.amount
            for d in self.session.scalars(select(SandboxDispute).where(SandboxDispute.payment_id == p.id))
            if d.status != "won"
        )
        if p.status != ProviderStatus.SUCCEEDED or not 0 < amount <= p.amount - p.refunded - disputed:
            raise Conflict("sandbox_refund_too_large")
        dispute = SandboxDispute(id=short_id("sbxdp_"), payment_id=p.id, amount=amount, reason=reason[:200])
        self.session.add(dispute)
        self.session.flush()
        self._notify(EventType.DISPUTE_OPENED, p.notify_url, self._dispute_data(p, dispute))
        return dispute.id

    def resolve_chargeback(self, provider_dispute_id: str, *, lost: bool) -> None:
        """The bank's decision (or the merchant conceding): once, then the merchant is told."""
        dispute = self.session.get(SandboxDispute, provider_dispute_id, with_for_update=True)
        if dispute is None:
            raise NotFound("dispute")
        if dispute.status != "open":
            return
        p = self._payment(dispute.payment_id, lock=True)
        dispute.status, dispute.finished_at = ("lost" if lost else "won"), clock.now()
        if lost:
            p.refunded += dispute.amount
        self.session.flush()
        event = EventType.DISPUTE_LOST if lost else EventType.DISPUTE_WON
        self._notify(event, p.notify_url, self._dispute_data(p, dispute))

    @staticmethod
    def _dispute_data(p: SandboxPayment, dispute: SandboxDispute) -> dict[str, Any]:
        return {"payment_id": p.id, "merchant_ref": p.merchant_ref, "amount": dispute.amount, "currency": p.currency,
                "dispute_id": dispute.id, "reason": dispute.reason}  # fmt: skip

    # -- the hosted pay page ------------------------------------------------------------------------------

    def get_payment(self, provider_payment_id: str) -> SandboxPayment:
        return self._payment(provider_payment_id)

    def complete(self, provider_payment_id: str, *, succeed: bool) -> Row[Any]:
        """The buyer confirmed (or the tester declined) the payment on the hosted page. Returns the payment's row.

        A decline is one failed attempt: the payment stays open for another until it expires."""
        now = clock.now()
        if succeed:  # the usual click, in one statement: a pending payment not yet expired succeeds
            paid = self.session.execute(
                _PAY, {"payment": provider_payment_id, "fee_bp": self.fee_bp, "at": now}
            ).first()
            if paid is not None:
                expire_loaded(self.session, SandboxPayment, [paid.id])
                self._notify(
                    EventType.PAYMENT_SUCCEEDED, paid.notify_url, {**self._payment_data(paid), "fee": paid.fee}
                )
                return paid
        p = self.session.execute(_LOCK_PAYMENT, {"payment": provider_payment_id}).first()
        if p is None:
            raise NotFound("payment")
        if p.status == ProviderStatus.PENDING and p.expires_at <= now:
            p = self._set(p.id, status=ProviderStatus.CLOSED, fee=p.fee, finished_at=now)
        if p.status != ProviderStatus.PENDING:
            if succeed == (p.status == ProviderStatus.SUCCEEDED):
                return p  # a double click on the pay button pays once
            if not succeed:
                return p  # nothing left to decline
            raise Conflict("sandbox_payment_closed")
        data = self._payment_data(p)
        if succeed:
            p = self._set(p.id, status=ProviderStatus.SUCCEEDED, fee=apply_bp(p.amount, self.fee_bp), finished_at=now)
            self._notify(EventType.PAYMENT_SUCCEEDED, p.notify_url, {**data, "fee": p.fee})
            return p
        p = self.session.execute(_SET_FAILURE, {"payment": p.id, "reason": DECLINED}).one()
        expire_loaded(self.session, SandboxPayment, [p.id])
        self._notify(EventType.PAYMENT_FAILED, p.notify_url, {**data, "fee": 0, "failure_reason": DECLINED})
        return p

    @staticmethod
    def _payment_data(p: Row[Any]) -> dict[str, Any]:
        return {"payment_id": p.id, "merchant_ref": p.merchant_ref, "amount": p.amount, "currency": p.currency}

    def _set(self, provider_payment_id: str, *, status: ProviderStatus, fee: int, finished_at: dt.datetime) -> Row[Any]:
        row = self.session.execute(
            _SET_OUTCOME, {"payment": provider_payment_id, "new_status": status, "new_fee": fee, "at": finished_at}
        ).one()
        expire_loaded(self.session, SandboxPayment, [provider_payment_id])
        return row

    # -- notifications ------------------------------------------------------------------------------------

    def event_body(self, event_type: EventType, data: dict[str, Any], *, event_id: str | None = None) -> bytes:
        doc = {
            "id": event_id or short_id("evt_"),
            "type": event_type.value,
            "created": _unix(clock.now()),
            "data": data,
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    def signed_headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        return {
            SIGNATURE_HEADER: signature_header(self.secrets[0], body, timestamp),
            "Content-Type": "application/json",
        }

    def _notify(self, event_type: EventType, url: str, data: dict[str, Any]) -> None:
        event_id = short_id("evt_")
        body = self.event_body(event_type, data, event_id=event_id)
        self.session.execute(
            _INSERT_NOTIFICATION,
            {"event_id": event_id, "payment_id": data["payment_id"], "url": url, "body": body.decode()},
        )
        self.last_sent = body
        enqueue_after_commit(self.session, DELIVER_TASK)

    def notifications(self, provider_payment_id: str) -> list[SandboxNotification]:
        """What the sandbox sent (or will send) about one payment, oldest first."""
        return list(
            self.session.scalars(
                select(SandboxNotification)
                .where(SandboxNotification.payment_id == provider_payment_id)
                .order_by(SandboxNotification.id)
            )
        )

    def _payment(self, provider_payment_id: str, *, lock: bool = False) -> SandboxPayment:
        stmt = select(SandboxPayment).where(SandboxPayment.id == provider_payment_id)
        if lock:
            stmt = stmt.with_for_update()
        p = self.session.scalar(stmt)
        if p is None:
            raise NotFound("payment")
        return p


_payments = SandboxPayment.__table__
_LOCK_PAYMENT = select(_payments).where(_payments.c.id == bindparam("payment")).with_for_update()
_SET_OUTCOME = (
    update(_payments)
    .where(_payments.c.id == bindparam("payment"))
    .values(status=bindparam("new_status"), fee=bindparam("new_fee"), finished_at=bindparam("at", type_=UTCDateTime()))
    .returning(_payments)
)
_at = bindparam("at", type_=UTCDateTime())
# The fee as `apply_bp(amount, fee_bp)` computes it (amount x bp / 10 000, half up; both non-negative integers).
_PAY = (
    update(_payments)
    .where(
        _payments.c.id == bindparam("payment"),
        _payments.c.status == ProviderStatus.PENDING,
        _payments.c.expires_at > _at,
    )
    .values(
        status=ProviderStatus.SUCCEEDED,
        fee=(_payments.c.amount * bindparam("fee_bp", type_=Integer()) + BP_WHOLE // 2) // BP_WHOLE,
        finished_at=_at,
    )
    .returning(_payments)
)
_SET_FAILURE = (
    update(_payments)
    .where(_payments.c.id == bindparam("payment"))
    .values(last_failure=bindparam("reason"))
    .returning(_payments)
)
_INSERT_NOTIFICATION = insert(SandboxNotification.__table__).inline()  # no RETURNING of the new id: nobody reads it


@functools.cache
def _create_statement(dialect: str) -> Any:
    table = SandboxPayment.__table__
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    return stmt.on_conflict_do_nothing(index_elements=["merchant_ref"]).returning(table.c.id)


def _strict_int(value: Any) -> int:
    if type(value) is not int:
        raise ValueError(f"not an integer amount: {value!r}")
    return value


# -- delivery -------------------------------------------------------------------------------------------------

Transport = Callable[[str, dict[str, str], bytes], int]


def http_transport(url: str, headers: dict[str, str], body: bytes) -> int:
    """POST over HTTP; the status code, or 0 when the endpoint could not be reached."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - our own notify URL
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        log.warning("sandbox notification to %s failed: %s", url, exc)
        return 0


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    failed: int


def deliver_due(
    session: Session, secret: bytes, transport: Transport = http_transport, *, limit: int = 100
) -> DeliveryReport:
    """Send every due notification once. Each is signed at send time, as a provider does on every retry.

    No database transaction stays open while sending: the merchant's endpoint
    writes to the same database (and on SQLite would wait for our lock).
    """
    now = clock.now()
    stmt = (
        select(SandboxNotification.id, SandboxNotification.url, SandboxNotification.body)
        .where(
            SandboxNotification.delivered_at.is_(None),
            SandboxNotification.gave_up_at.is_(None),
            SandboxNotification.next_attempt_at <= now,
        )
        .order_by(SandboxNotification.id)
        .limit(limit)
    )
    due = list(session.execute(stmt))
    session.commit()
    delivered = failed = 0
    for note_id, url, body in due:
        raw = body.encode()
        status = transport(
            url, {SIGNATURE_HEADER: signature_header(secret, raw), "Content-Type": "application/json"}, raw
        )
        note = session.get(SandboxNotification, note_id, with_for_update=is_postgres(session))
        if note is None or note.delivered_at is not None:
            session.commit()
            continue
        note.attempts += 1
        if 200 <= status < 300:
            note.delivered_at = clock.now()
            delivered += 1
        else:
            failed += 1
            note.last_error = f"HTTP {status}" if status else "unreachable"
            if note.attempts >= MAX_DELIVERY_ATTEMPTS:
                note.gave_up_at = clock.now()
            else:
                note.next_attempt_at = clock.now() + dt.timedelta(seconds=min(3600, 15 * 2 ** (note.attempts - 1)))
        session.commit()
    return DeliveryReport(delivered, failed)
