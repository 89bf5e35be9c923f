"""Pruning what grows forever, with a moved clock: what is past its retention goes, everything else stays."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import idempotency, outbox, retention
from core.accounts import service as accounts
from core.accounts.models import LoginAttempt, PasswordResetToken, SandboxMessage, SmsCode, WeChatOAuthState
from core.clock import FrozenClock, use_clock
from core.idempotency import IdempotencyRecord
from core.outbox import InboxRecord, OutboxEvent, emit
from search import engagement
from search.models import EngagementEvent, EngagementKind
from tests import factories

T0 = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _count(session: Session, model: object, *where: object) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def test_idempotency_records_and_login_attempts_go_after_their_retention(db_session: Session) -> None:
    s = db_session
    with use_clock(FrozenClock(T0)) as clock:
        assert isinstance(clock, FrozenClock)
        s.add(IdempotencyRecord(scope="user:1", key="old", request_hash="h", created_at=clock.now()))
        s.add(LoginAttempt(email="a@example.com", ip_hash="ip", succeeded=False, at=clock.now()))
        clock.advance(hours=47)
        s.add(IdempotencyRecord(scope="user:1", key="recent", request_hash="h", created_at=clock.now()))
        s.add(LoginAttempt(email="a@example.com", ip_hash="ip", succeeded=True, at=clock.now()))
        s.commit()
        clock.advance(hours=2)  # the first record is 49 h old, the second 2 h
        assert idempotency.prune(s, older_than=retention.cutoff(hours=48)) == 1
        assert list(s.scalars(select(IdempotencyRecord.key))) == ["recent"]
        assert accounts.prune_login_attempts(s, older_than=retention.cutoff(days=30)) == 0
        clock.advance(days=29, hours=-1)
        assert accounts.prune_login_attempts(s, older_than=retention.cutoff(days=30)) == 1
        assert list(s.scalars(select(LoginAttempt.succeeded))) == [True]
        assert idempotency.prune(s, older_than=retention.cutoff(hours=48)) == 1  # running again: the rest is old now
        assert idempotency.prune(s, older_than=retention.cutoff(hours=48)) == 0


def test_successful_sign_ins_stay_as_long_as_they_make_a_known_source(db_session: Session) -> None:
    s = db_session
    with use_clock(FrozenClock(T0)) as clock:
        assert isinstance(clock, FrozenClock)
        for ok in (False, True):
            s.add(LoginAttempt(email="a@example.com", ip_hash="ip", succeeded=ok, at=clock.now()))
        s.commit()
        clock.advance(days=31)

        def prune() -> int:
            return accounts.prune_login_attempts(
                s, older_than=retention.cutoff(days=30), successes_older_than=retention.cutoff(days=90)
            )

        assert prune() == 1  # the failure is past its 30 days; the success makes "ip" a known source for 90
        assert list(s.scalars(select(LoginAttempt.succeeded))) == [True]
        clock.advance(days=60)
        assert prune() == 1
        assert _count(s, LoginAttempt) == 0
        # Never shorter than the retention: a success is kept at least as long as a failure.
        s.add(LoginAttempt(email="a@example.com", ip_hash="ip", succeeded=True, at=clock.now()))
        s.commit()
        clock.advance(days=10)
        assert (
            accounts.prune_login_attempts(s, older_than=retention.cutoff(days=30), successes_older_than=clock.now())
            == 0
        )


def test_delivered_outbox_events_go_but_each_entitys_latest_and_undelivered_ones_stay(db_session: Session) -> None:
    s = db_session
    with use_clock(FrozenClock(T0)) as clock:
        assert isinstance(clock, FrozenClock)
        first = emit(s, "video", "1")
        second = emit(s, "video", "1")  # the latest of video 1
        only = emit(s, "video", "2")  # the only one of video 2
        waiting = emit(s, "video", "3")  # never delivered
        s.flush()
        for e in (first, second, only):
            e.delivered_at = clock.now()
        s.add(InboxRecord(consumer="search", event_id=first.id, applied_at=clock.now()))
        s.commit()
        clock.advance(days=8)
        fresh = emit(s, "video", "2")  # video 2 changed again: its old event is no longer the latest
        s.flush()
        fresh.delivered_at = clock.now()
        s.commit()
        removed = outbox.prune_delivered(s, older_than=retention.cutoff(days=7))
        left = set(s.scalars(select(OutboxEvent.id)))
        assert removed == 2
        assert left == {second.id, waiting.id, fresh.id}
        assert _count(s, InboxRecord) == 0


def test_raw_view_events_go_once_counted_and_old_while_other_engagement_stays(db_session: Session) -> None:
    s = db_session
    user = factories.user(s)
    video = factories.video(s, uploader=user)
    with use_clock(FrozenClock(T0)) as clock:
        assert isinstance(clock, FrozenClock)

        def event(kind: EngagementKind, *, counted: bool = True) -> EngagementEvent:
            e = EngagementEvent(kind=kind, video_id=video.id, user_id=user.id, occurred_at=clock.now(),
                                aggregated_at=clock.now() if counted else None)  # fmt: skip
            s.add(e)
            return e

        old_view, old_like = event(EngagementKind.VIEW), event(EngagementKind.LIKE)
        uncounted = event(EngagementKind.VIEW, counted=False)  # the aggregator has not seen it yet
        clock.advance(days=89)
        recent = event(EngagementKind.VIEW)
        s.commit()
        clock.advance(days=2)
        assert engagement.prune_views(s, older_than=retention.cutoff(days=90)) == 1
        left = set(s.scalars(select(EngagementEvent.id)))
        assert old_view.id not in left
        assert {old_like.id, uncounted.id, recent.id} <= left


def test_sign_in_codes_reset_links_sandbox_messages_wechat_states_go_after_retention(db_session: Session) -> None:
    s = db_session
    with use_clock(FrozenClock(T0)) as clock:
        assert isinstance(clock, FrozenClock)
        user = factories.user(s)
        s.add(SmsCode(phone="+8613800138000", code_hash="h", ip_hash="ip", expires_at=clock.now()))
        s.add(PasswordResetToken(user_id=user.id, token_hash="old", expires_at=clock.now()))
        s.add(SandboxMessage(channel="sms", recipient="+8613800138000", body="old"))
        s.add(WeChatOAuthState(nonce="old-state"))
        s.flush()  # stamped now
        clock.advance(days=29)
        s.add(PasswordResetToken(user_id=user.id, token_hash="recent", expires_at=clock.now()))
        s.commit()
        clock.advance(days=2)
        assert accounts.prune_sign_in_codes(s, older_than=retention.cutoff(days=30)) == 4
        assert list(s.scalars(select(PasswordResetToken.token_hash))) == ["recent"]
        assert _count(s, SmsCode) == 0
        assert accounts.prune_sign_in_codes(s, older_than=retention.cutoff(days=30)) == 0
