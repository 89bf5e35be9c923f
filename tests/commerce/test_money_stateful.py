"""Property-based, stateful: random sequences of the whole money flow keep every fen accounted for.

Orders (shared and not, with a brand-funded code and a platform-funded wallet coupon, odd prices),
payments that succeed or fail, webhook replays,
partial and full refunds, cancellations, buyers' disputes (decided by the brand, escalated to an admin),
chargebacks (conceded, contested, won or lost at the provider), admin refunds, shipping, clock moves,
settlement, review decisions and payouts (paid at once or left in flight), in any order. After every step:

- every transaction sums to zero and so does the whole ledger; balances equal their postings;
- no pending or available balance is negative (only clawback receivables may be);
- every line's shares sum to its paid amount, and what is left of them to what is left unrefunded; the
  platform-funded part of a line is the brand's subsidy, out of the marketing account, left in proportion;
- every coupon handed out is in a wallet, used at most once, and on an order that was not cancelled unpaid;
- a fully refunded order nets every participant to zero; escrow never keeps money;
- holders' pending balances equal their unsettled earnings;
- stock plus what was sold equals what the brand stocked (no oversell, nothing lost);
- a replayed webhook adds nothing;
- nobody ends up with money they did not earn: each holder's pending + available + clawback, plus what
  they withdrew, is exactly what is left of their shares; nothing is refunded beyond what was paid.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import Engine, func, select
from sqlalchemy import event as orm_event
from sqlalchemy.orm import ORMExecuteState, Session

from commerce.attribution.links import TargetKind
from commerce.ledger import AccountKind, AccountRef, LedgerAccount, balance
from commerce.marketing import coupons
from commerce.marketing.coupons import create_coupon
from commerce.orders import disputes, expiry, lifecycle, refunds, review, settlement
from commerce.orders.models import (
    OPEN_DISPUTE_STATES,
    Coupon,
    CouponFunding,
    CouponKind,
    Dispute,
    DisputeSource,
    DisputeState,
    Earning,
    EarningRole,
    Order,
    OrderLine,
    OrderRefund,
    OrderRefundLine,
    OrderStatus,
    ReviewStatus,
    UserCoupon,
    UserCouponStatus,
)
from commerce.orders.money import line_split
from commerce.orders.refunds import RefundItem
from commerce.owners import Owner
from commerce.payments import service as payments
from commerce.payments.models import Payment, PaymentStatus
from commerce.payments.sandbox import SIGNATURE_HEADER, SandboxDispute, SandboxNotification, signature_header
from commerce.payouts import service as payouts
from commerce.payouts.models import Payout, PayoutMethod, PayoutStatus
from commerce.policy import MoneyPolicy
from core.accounts import passwords
from core.clock import FrozenClock, use_clock
from core.errors import DomainError
from core.tasks import SENDER, RecordingSender
from tests import factories
from tests.commerce.conftest import START, use_policy
from tests.commerce.money import (
    NOTIFY_URL,
    SECRET,
    Market,
    assert_books_balanced,
    deliver,
    ledger_transactions,
    make_market,
    owner_balances,
    pending_matches_earnings,
    place,
    share_click,
)

STOCK = 40


def _reload_what_is_read(state: ORMExecuteState) -> None:
    if state.is_select:
        state.update_execution_options(populate_existing=True)


class MoneyFlow(RuleBasedStateMachine):
    engine: Engine

    def __init__(self) -> None:
        super().__init__()
        self.connection = self.engine.connect()
        self.outer = self.connection.begin()
        self.session = Session(bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        self.session.info[SENDER] = RecordingSender()
        # The services move stock, refunds and settlement dates with guarded UPDATE statements that leave
        # loaded objects as they were; whether such an object is still in the identity map depends on the
        # garbage collector. Every query reloads what it returns, so a run depends only on its draws.
        orm_event.listen(self.session, "do_orm_execute", _reload_what_is_read)
        self.clock = FrozenClock(START)
        self._clock = use_clock(self.clock)
        self._clock.__enter__()
        policy = MoneyPolicy(commission_levels=2)
        use_policy(policy)
        self.m: Market = make_market(self.session, policy=policy, stock=STOCK, price=3_333, sharer_bp=1500)
        m = self.m
        self.cheap = factories.product(self.session, brand=m.brand, name="小样", prices=(99,))
        self.cheap.skus[0].stock = STOCK
        factories.offer(self.session, product=self.cheap, artist_rate_bp=1000, sharer_rate_bp=500)
        factories.video_link(self.session, video=m.video, product=self.cheap)
        self.session.commit()
        create_coupon(self.session, m.owner, m.brand.id, code="HALF", kind=CouponKind.PERCENT, value=5000,
                      per_user_limit=100)  # fmt: skip
        self.site = create_coupon(
            self.session, m.admin, None, funded_by=CouponFunding.PLATFORM, kind=CouponKind.THRESHOLD, value=150,
            min_subtotal=200, per_user_limit=100,
        )  # fmt: skip
        self.buyers = [m.buyer, m.user(), m.user()]
        self.payees = [Owner.user(m.sharer.id), Owner.user(m.artist.id), Owner.user(m.upstream.id),
                       Owner.brand(m.brand.id)]  # fmt: skip
        for who, owner in zip((m.sharer, m.artist, m.upstream, m.owner), self.payees, strict=True):
            payouts.set_payout_account(self.session, who, owner, method=PayoutMethod.SANDBOX,
                                       account_no=f"acct-{owner.kind}-{owner.id}", account_name="收款人")  # fmt: skip
        # A re-share chain: the upstream's link brought the sharer, whose own link carries the upstream.
        share_click(m, m.upstream, viewer=m.sharer)
        self.checkouts: list[int] = []
        self.resent = 0

    def teardown(self) -> None:
        self._clock.__exit__(None, None, None)
        self.session.close()
        self.outer.rollback()
        self.connection.close()

    # -- helpers ----------------------------------------------------------------------------------------------

    def _orders(self, *statuses: OrderStatus) -> list[Order]:
        stmt = select(Order).order_by(Order.id)
        if statuses:
            stmt = stmt.where(Order.status.in_(statuses))
        return list(self.session.scalars(stmt))

    def _attempt(self, fn: Any, *args: Any, **kw: Any) -> Any:
        """Domain refusals are legitimate outcomes of random steps; they must leave no trace."""
        try:
            return fn(*args, **kw)
        except DomainError:
            self.session.rollback()
            return None

    # -- rules ------------------------------------------------------------------------------------------------

    @rule(
        buyer=st.integers(0, 2),
        cheap=st.booleans(),
        qty=st.integers(1, 4),
        shared=st.booleans(),
        coupon=st.booleans(),
        platform=st.booleans(),
        wait=st.sampled_from([2, 30, 3600]),
        then_pay=st.sampled_from([None, True, True, True, False]),
    )
    def place_order(self, **kw: Any) -> None:
        m, who = self.m, self.buyers[kw["buyer"]]
        cheap = kw["cheap"]
        if kw["shared"]:
            link_target = TargetKind.PRODUCT if cheap else TargetKind.VIDEO
            share_click(m, m.sharer, viewer=who, target=link_target, target_id=self.cheap.id if cheap else None)
            self.clock.advance(seconds=kw["wait"])
        wallet = [coupons.claim(self.session, who, self.site.id).id] if kw["platform"] else []
        checkout = self._attempt(
            place, m, buyer=who, qty=kw["qty"], sku=self.cheap.skus[0] if cheap else m.sku,
            device=f"device-{kw['buyer']}", coupons={m.brand.id: "HALF"} if kw["coupon"] else None, coupon_ids=wallet,
        )  # fmt: skip
        if checkout is None:
            return
        self.checkouts.append(checkout.id)
        if wallet:
            event("a platform coupon taken off")
        if kw["then_pay"] is not None:
            self._pay(checkout.id, succeed=kw["then_pay"])

    def _pay(self, checkout_id: int, *, succeed: bool) -> None:
        payment = self.session.scalar(select(Payment).where(Payment.reference_id == checkout_id))
        assert payment is not None
        self._attempt(self.m.provider.complete, payment.provider_payment_id, succeed=succeed)
        self.session.commit()
        deliver(self.m)

    @precondition(lambda self: self.checkouts)
    @rule(data=st.data(), succeed=st.booleans())
    def pay(self, data: st.DataObject, succeed: bool) -> None:
        self._pay(data.draw(st.sampled_from(self.checkouts)), succeed=succeed)

    @rule(data=st.data())
    def replay_a_webhook(self, data: st.DataObject) -> None:
        notes = list(
            # Ordered: hypothesis replays choices by position, and PostgreSQL returns unordered rows as it likes.
            self.session.scalars(
                select(SandboxNotification)
                .where(SandboxNotification.delivered_at.is_not(None))
                .order_by(SandboxNotification.id)
            )
        )
        if not notes:
            return
        note = data.draw(st.sampled_from(notes))
        before = ledger_transactions(self.session)
        body = note.body.encode()
        result = payments.handle_notification(self.session, self.m.provider,
                                              {SIGNATURE_HEADER: signature_header(SECRET, body)}, body)  # fmt: skip
        assert result.outcome in ("duplicate", "rejected")
        if data.draw(st.booleans()):  # the same fact under a fresh event id
            doc = json.loads(body)
            self.resent += 1
            doc["id"] = f"{doc['id']}-again-{self.resent}"
            fresh = json.dumps(doc).encode()
            headers = {SIGNATURE_HEADER: signature_header(SECRET, fresh)}
            was = self.session.scalar(select(Payment.status).where(Payment.provider_payment_id == note.payment_id))
            again = payments.handle_notification(self.session, self.m.provider, headers, fresh)
            # "pending": a decline re-sent while its payment is still open to retry.
            assert again.outcome in ("already_applied", "stale", "ignored", "rejected", "pending", "applied")
            if again.outcome == "applied":
                # A decline re-sent after the provider gave the payment up closes it: the provider's truth
                # now, which moves no money.
                now = self.session.scalar(select(Payment.status).where(Payment.provider_payment_id == note.payment_id))
                assert was == PaymentStatus.PENDING
                assert now in (PaymentStatus.FAILED, PaymentStatus.CLOSED)
        assert ledger_transactions(self.session) == before

    @rule(data=st.data(), confirm=st.booleans())
    def ship(self, data: st.DataObject, confirm: bool) -> None:
        for order in self._orders(OrderStatus.PAID):
            if data.draw(st.booleans()):
                lifecycle.ship(self.session, self.m.owner, order.id, carrier="顺丰", tracking_no=f"SF{order.id:08d}")
        for order in self._orders(OrderStatus.SHIPPED) if confirm else []:
            buyer = next(b for b in self.buyers if b.id == order.buyer_id)
            lifecycle.confirm_delivery(self.session, buyer, order.id, return_window=self.m.policy.return_window)

    @rule(data=st.data(), approve=st.booleans())
    def refund(self, data: st.DataObject, approve: bool) -> None:
        orders = self._orders(OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
        if not orders:
            return
        order = data.draw(st.sampled_from(orders))
        line = data.draw(st.sampled_from(order.lines))
        left = line.paid_amount - line.refunded_amount
        if left <= 0:
            return
        item = (RefundItem(line.id, quantity=data.draw(st.integers(1, line.quantity - line.refunded_quantity)))
                if data.draw(st.booleans()) and line.quantity > line.refunded_quantity
                else RefundItem(line.id, amount=data.draw(st.integers(1, left))))  # fmt: skip
        buyer = next(b for b in self.buyers if b.id == order.buyer_id)
        request = self._attempt(refunds.request_refund, self.session, buyer, order.id, items=[item], reason="随机")
        if request is not None:
            refunds.decide_refund(self.session, self.m.owner, request.id, approve=approve, provider=self.m.provider,
                                  notify_url=NOTIFY_URL)  # fmt: skip
            deliver(self.m)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        orders = self._orders(OrderStatus.PENDING_PAYMENT, OrderStatus.PAID)
        if orders:
            order = data.draw(st.sampled_from(orders))
            buyer = next(b for b in self.buyers if b.id == order.buyer_id)
            self._attempt(
                refunds.cancel_order, self.session, buyer, order.id, provider=self.m.provider, notify_url=NOTIFY_URL
            )
            deliver(self.m)

    @rule(data=st.data())
    def dispute_refund_everything(self, data: st.DataObject) -> None:
        orders = self._orders(OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED)
        if not orders:
            return
        order = data.draw(st.sampled_from(orders))
        items = [RefundItem(ln.id, amount=ln.paid_amount - ln.refunded_amount) for ln in order.lines
                 if ln.paid_amount > ln.refunded_amount]  # fmt: skip
        refund = items and self._attempt(refunds.force_refund, self.session, self.m.admin, order.id, items=items,
                                         reason="争议", provider=self.m.provider, notify_url=NOTIFY_URL)  # fmt: skip
        if refund:  # refused while a dispute is undecided
            deliver(self.m)
            self.session.refresh(order)
            assert order.status == OrderStatus.REFUNDED

    def _buyer_of(self, order: Order) -> Any:
        return next(b for b in self.buyers if b.id == order.buyer_id)

    def _paid_orders(self) -> list[Order]:
        return self._orders(OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED)

    @precondition(lambda self: self._paid_orders())
    @rule(data=st.data(), brand_approves=st.booleans(), escalate=st.booleans(), admin_approves=st.booleans())
    def buyer_disputes(self, data: st.DataObject, brand_approves: bool, escalate: bool, admin_approves: bool) -> None:
        order = data.draw(st.sampled_from(self._paid_orders()))
        if order.status != OrderStatus.COMPLETED and data.draw(st.booleans()):
            # The usual way in: the brand turns a refund request down.
            line = order.lines[0]
            if line.paid_amount > line.refunded_amount:
                asked = self._attempt(refunds.request_refund, self.session, self._buyer_of(order), order.id,
                                      items=[RefundItem(line.id, amount=1)], reason="坏了")  # fmt: skip
                if asked is not None:
                    refunds.decide_refund(self.session, self.m.owner, asked.id, approve=False,
                                          provider=self.m.provider, notify_url=NOTIFY_URL)  # fmt: skip
        left = order.total - order.refunded_amount
        amount = data.draw(st.integers(1, max(1, left)))
        dispute = self._attempt(disputes.open_dispute, self.session, self._buyer_of(order), order.id, reason="争议",
                                amount=amount)  # fmt: skip
        if dispute is None:
            return
        decide = {"provider": self.m.provider, "notify_url": NOTIFY_URL}
        disputes.decide(self.session, self.m.owner, dispute.id, approve=brand_approves, **decide)
        if not brand_approves and escalate:
            disputes.escalate(self.session, self._buyer_of(order), dispute.id)
            disputes.decide(self.session, self.m.admin, dispute.id, approve=admin_approves, **decide)
        deliver(self.m)
        self.session.refresh(dispute)
        event(f"buyer dispute {dispute.state}")

    @precondition(lambda self: self._paid_orders())
    @rule(data=st.data(), then=st.sampled_from(["concede", "contest", "leave"]))
    def chargeback(self, data: st.DataObject, then: str) -> None:
        paid = list(
            self.session.scalars(select(Payment).where(Payment.status == PaymentStatus.SUCCEEDED).order_by(Payment.id))
        )
        if not paid:
            return
        payment = data.draw(st.sampled_from(paid))
        amount = data.draw(st.integers(1, max(1, payment.amount - payment.refunded_amount)))
        assert payment.provider_payment_id is not None
        case = self._attempt(self.m.provider.open_chargeback, payment.provider_payment_id, amount=amount, reason="拒付")
        if case is None:
            return
        self.session.commit()
        deliver(self.m)
        for dispute in self.session.scalars(select(Dispute).where(Dispute.provider_dispute_id == case)):
            if then != "leave" and dispute.state == DisputeState.OPEN:
                disputes.decide(self.session, self.m.owner, dispute.id, approve=then == "concede",
                                provider=self.m.provider, notify_url=NOTIFY_URL)  # fmt: skip
        deliver(self.m)
        for dispute in self.session.scalars(select(Dispute).where(Dispute.provider_dispute_id == case)):
            event(f"chargeback {dispute.state}")

    @rule(lost=st.booleans())
    def provider_decides_chargebacks(self, lost: bool) -> None:
        for case in self.session.scalars(select(SandboxDispute.id).where(SandboxDispute.status == "open")).all():
            self.m.provider.resolve_chargeback(case, lost=lost)
        self.session.commit()
        deliver(self.m)

    @rule(days=st.integers(0, 9), hours=st.integers(0, 23))
    def time_passes(self, days: int, hours: int) -> None:
        self.clock.advance(days=days, hours=hours)

    @rule()
    def run_jobs(self) -> None:
        expiry.expire_unpaid(self.session, self.m.provider)
        policy = self.m.policy
        lifecycle.auto_confirm_due(self.session, auto_confirm=policy.auto_confirm, return_window=policy.return_window)
        settlement.settle_due(self.session, batch_size=5)

    @rule(data=st.data(), approve=st.booleans())
    def review_a_hold(self, data: st.DataObject, approve: bool) -> None:
        held = list(
            self.session.scalars(
                select(OrderLine).where(OrderLine.review_status == ReviewStatus.HELD).order_by(OrderLine.id)
            )
        )
        if held:
            review.decide_hold(self.session, self.m.admin, data.draw(st.sampled_from(held)).id, approve=approve)

    @rule(who=st.integers(0, 3), share=st.sampled_from([1, 2, 3]), at_once=st.booleans())
    def withdraw(self, who: int, share: int, at_once: bool) -> None:
        owner = self.payees[who]
        actor = {0: self.m.sharer, 1: self.m.artist, 2: self.m.upstream, 3: self.m.owner}[who]
        available = balance(self.session, owner.account(AccountKind.AVAILABLE)).balance
        amount = available // share
        payout = self._attempt(payouts.request_payout, self.session, actor, owner, amount=amount, policy=self.m.policy)
        if payout is not None and at_once:
            payouts.execute_payout(self.session, self.m.provider, payout.id)

    @rule()
    def transfer_payouts_in_flight(self) -> None:
        for payout_id in self.session.scalars(select(Payout.id).where(Payout.status == PayoutStatus.REQUESTED)).all():
            payouts.execute_payout(self.session, self.m.provider, payout_id)

    # -- invariants -------------------------------------------------------------------------------------------

    @invariant()
    def books_balance(self) -> None:
        assert_books_balanced(self.session)  # zero-sum transactions and ledger; balances = postings; none negative
        pending_matches_earnings(self.session)
        clawbacks = self.session.scalars(
            select(LedgerAccount.balance).where(LedgerAccount.kind == AccountKind.CLAWBACK)
        ).all()
        assert all(b <= 0 for b in clawbacks)

    @invariant()
    def nobody_holds_money_they_did_not_earn(self) -> None:
        for owner in self.payees:
            left = self.session.scalar(
                select(func.coalesce(func.sum(Earning.amount - Earning.reversed_amount), 0)).where(
                    Earning.owner_kind == owner.kind, Earning.owner_id == owner.id
                )
            )
            withdrawn = self.session.scalar(
                select(func.coalesce(func.sum(Payout.net_amount), 0)).where(
                    Payout.owner_kind == owner.kind, Payout.owner_id == owner.id,
                    Payout.status.in_([PayoutStatus.REQUESTED, PayoutStatus.PAID]),
                )
            )  # fmt: skip
            b = owner_balances(self.session, owner)
            held = b[AccountKind.PENDING] + b[AccountKind.AVAILABLE] + b[AccountKind.CLAWBACK]
            assert held + int(withdrawn or 0) == int(left or 0), owner
        for payment in self.session.scalars(select(Payment)):
            assert 0 <= payment.refunded_amount <= payment.amount
        for order in self._orders():
            assert 0 <= order.refunded_amount <= order.total
        undecided = self.session.scalars(
            select(Dispute.order_id).where(
                Dispute.source == DisputeSource.BUYER, Dispute.state.in_(OPEN_DISPUTE_STATES)
            )
        ).all()
        assert len(undecided) == len(set(undecided))  # a buyer has one undecided dispute per order at most

    @invariant()
    def every_line_splits_exactly(self) -> None:
        for line in self.session.scalars(select(OrderLine)):
            assert line_split(line).total == line.paid_amount
            earnings = self.session.scalars(select(Earning).where(Earning.order_line_id == line.id)).all()
            shares = [e for e in earnings if e.role != EarningRole.SUBSIDY]
            if shares:
                assert sum(e.remaining for e in shares) == line.paid_amount - line.refunded_amount
                subsidy = sum(e.remaining for e in earnings if e.role == EarningRole.SUBSIDY)
                left = line.paid_amount - line.refunded_amount
                assert subsidy == line.platform_discount * left // line.paid_amount
        for order in self._orders():
            assert balance(self.session, AccountRef.escrow(order.id)).balance == 0
            if order.lines and all(ln.refunded_amount == ln.paid_amount for ln in order.lines):
                remaining = self.session.scalars(select(Earning).where(Earning.order_id == order.id)).all()
                assert all(e.remaining == 0 for e in remaining)

    @invariant()
    def the_platform_funds_what_its_coupons_took_off(self) -> None:
        subsidies = self.session.scalar(
            select(func.coalesce(func.sum(Earning.amount - Earning.reversed_amount), 0)).where(
                Earning.role == EarningRole.SUBSIDY
            )
        )
        assert balance(self.session, AccountRef.platform(AccountKind.MARKETING)).balance == -int(subsidies or 0)

    @invariant()
    def coupons_are_accounted_for(self) -> None:
        for coupon in self.session.scalars(select(Coupon)):
            held = self.session.scalars(select(UserCoupon).where(UserCoupon.coupon_id == coupon.id)).all()
            used = [uc for uc in held if uc.status == UserCouponStatus.USED]
            assert coupon.claimed_count == len(held)
            assert coupon.used_count == len(used)
            for uc in used:
                order = self.session.get(Order, uc.order_id)
                assert order is not None
                assert order.status != OrderStatus.CANCELLED or order.paid_at is not None
            assert all(uc.order_id is None for uc in held if uc.status == UserCouponStatus.AVAILABLE)

    @invariant()
    def no_oversell(self) -> None:
        for sku in (self.m.sku, self.cheap.skus[0]):
            self.session.refresh(sku)
            held_or_sold = self.session.scalar(
                select(func.coalesce(func.sum(OrderLine.quantity), 0))
                .join(Order, Order.id == OrderLine.order_id)
                .where(OrderLine.sku_id == sku.id)
                .where((Order.status != OrderStatus.CANCELLED) | Order.paid_at.is_not(None))
            )
            restocked = self.session.scalar(
                select(func.coalesce(func.sum(OrderRefundLine.quantity), 0))
                .join(OrderRefund, OrderRefund.id == OrderRefundLine.refund_id)
                .join(OrderLine, OrderLine.id == OrderRefundLine.order_line_id)
                .where(OrderLine.sku_id == sku.id, OrderRefund.restocked.is_(True))
            )
            assert sku.stock >= 0
            assert sku.stock + int(held_or_sold or 0) - int(restocked or 0) == STOCK

    @invariant()
    def payments_add_up(self) -> None:
        captured = self.session.scalar(
            select(func.coalesce(func.sum(Payment.amount - Payment.fee), 0)).where(
                Payment.status == PaymentStatus.SUCCEEDED
            )
        )
        # What the provider holds for us, plus what already went out in refunds and payouts, is what it captured.
        clearing = -balance(self.session, AccountRef.platform(AccountKind.CLEARING)).balance
        assert clearing <= int(captured or 0)


@pytest.mark.slow
def test_the_money_flow_keeps_every_fen(engine: Engine) -> None:
    passwords.configure(memory_kib=1024, time_cost=1)

    class Flow(MoneyFlow):
        pass

    Flow.engine = engine
    run_state_machine_as_test(
        Flow,
        settings=settings(
            max_examples=int(os.environ.get("MONEY_FLOW_EXAMPLES", "25")),
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        ),
    )
