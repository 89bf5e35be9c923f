"""Money tasks on a real Celery worker: a payout requested in a committed transaction is transferred by the
worker, and the periodic jobs (settlement, expiry, auto-confirm, webhook sender) run as tasks."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from commerce.ledger import AccountKind, AccountRef, balance, verify
from commerce.owners import Owner
from commerce.payouts import service as payouts
from commerce.payouts.models import Payout, PayoutMethod, PayoutStatus
from commerce.policy import MoneyPolicy
from core.db import Database
from tests import factories
from tests.celery_worker import celery_worker, wait_until
from tests.commerce.money import fund
from tests.conftest import make_settings, migrate
from workers.beat import beat_schedule


def test_payout_and_periodic_money_jobs_run_on_a_real_worker(tmp_path: Path) -> None:
    from web import create_app

    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    migrate(url)
    settings = make_settings(
        tmp_path, database_url=url, celery_broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    )
    app = create_app(settings)
    db: Database = app.extensions["db"]
    celery = app.extensions["celery"]
    # DEBUG: the sandbox sender's lines are demoted below INFO (it runs every few seconds).
    with celery_worker(settings, queues="default", loglevel="DEBUG") as worker:
        with db.session() as s:
            user = factories.user(s)
            me = Owner.user(user.id)
            fund(s, me, 5000)
            payouts.set_payout_account(
                s, user, me, method=PayoutMethod.SANDBOX, account_no="worker-01", account_name="x"
            )
            payout_id = payouts.request_payout(s, user, me, amount=3000, policy=MoneyPolicy()).id

        def paid() -> bool:
            with db.session() as s:
                return s.scalar(select(Payout.status).where(Payout.id == payout_id)) == PayoutStatus.PAID

        wait_until(paid, timeout=60, message=f"payout paid; worker said:\n{worker.output()[-3000:]}")
        jobs = ["settlement.settle_due", "orders.expire_unpaid", "orders.auto_confirm",
                "payments.deliver_sandbox_notifications", "orders.resubmit_refunds"]  # fmt: skip
        assert set(jobs) <= {entry["task"] for entry in beat_schedule().values()}
        for name in jobs:
            celery.send_task(name)

        def all_succeeded() -> bool:
            return all(re.search(rf"Task {re.escape(n)}\[[^\]]+\] succeeded", worker.output()) for n in jobs)

        wait_until(all_succeeded, timeout=60, message=worker.output()[-3000:])
        assert "raised unexpected" not in worker.output()
    with db.session() as s:
        assert balance(s, AccountRef.platform(AccountKind.CLEARING)).balance == -2000
        assert verify(s).ok
    db.dispose()
