from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.accounts.models import Brand
from core.db import Database
from core.outbox import RELAY_TASK, Inbox, Message, OutboxEvent, Relay, emit, pending_count
from core.settings import PROJECT_ROOT
from core.tasks import RecordingSender


def test_event_commits_with_the_change_and_relay_is_enqueued_after_commit(
    db_session: Session, sender: RecordingSender
) -> None:
    brand = Brand(name="outbox-brand")
    db_session.add(brand)
    db_session.flush()
    emit(db_session, "brand", brand.id)
    emit(db_session, "brand", brand.id)
    assert sender.sent == []  # nothing leaves before commit
    db_session.commit()
    assert sender.names() == [RELAY_TASK]  # once per transaction, not once per event
    assert pending_count(db_session) == 2


def test_rolled_back_change_leaves_no_event_and_enqueues_nothing(db_session: Session, sender: RecordingSender) -> None:
    before = pending_count(db_session)
    db_session.add(Brand(name="never-committed"))
    db_session.flush()
    emit(db_session, "brand", "x")
    db_session.rollback()
    assert pending_count(db_session) == before
    assert db_session.scalar(select(Brand).where(Brand.name == "never-committed")) is None
    db_session.commit()
    assert sender.sent == []


def test_relay_delivers_in_order_and_marks_delivered(db_session: Session) -> None:
    got: list[Message] = []
    relay = Relay()
    relay.subscribe("thing", lambda _s, msgs: got.extend(msgs))
    for i in range(3):
        emit(db_session, "thing", i, payload={"n": i})
    emit(db_session, "orphan", "nobody-listens")
    db_session.commit()
    assert relay.drain(db_session) == 4
    assert [m.payload for m in got] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [m.version for m in got] == sorted(m.version for m in got)
    assert pending_count(db_session) == 0
    assert relay.drain(db_session) == 0
    assert len(got) == 3


def test_failing_consumer_keeps_its_events_pending_without_blocking_other_topics(db_session: Session) -> None:
    ok: list[Message] = []

    def broken(_s: Session, _m: Sequence[Message]) -> None:
        raise ConnectionError("index down")

    relay = Relay()
    relay.subscribe("good", lambda _s, msgs: ok.extend(msgs))
    relay.subscribe("bad", broken)
    emit(db_session, "good", 1)
    emit(db_session, "bad", 2)
    db_session.commit()
    assert relay.run_once(db_session) == 1
    assert [m.entity_id for m in ok] == ["1"]
    stuck = db_session.scalars(select(OutboxEvent).where(OutboxEvent.delivered_at.is_(None))).all()
    assert [(e.topic, e.attempts) for e in stuck] == [("bad", 1)]
    assert "index down" in (stuck[0].last_error or "")


CRASHING_RELAY = textwrap.dedent(
    """
    import os, sys
    from core.db import Database
    from core.outbox import Inbox, Relay
    from sqlalchemy import text

    db = Database(sys.argv[1])
    inbox = Inbox("effects")

    def apply(session, messages):
        # The effect and its inbox record commit together, before the relay marks anything.
        for m in inbox.fresh(session, messages):
            session.execute(text("INSERT INTO outbox_test_effects (event_id) VALUES (:e)"), {"e": m.id})
        session.commit()

    def die(session, messages):
        os._exit(17)  # the relay process dies after delivery, before it marks anything

    relay = Relay()
    relay.subscribe("order", apply)
    relay.subscribe("order", die)
    with db.session() as s:
        relay.run_once(s)
    """
)


def test_relay_crash_after_delivery_before_marking_still_applies_each_event_once(committed_db: Database) -> None:
    with committed_db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS outbox_test_effects (event_id BIGINT NOT NULL)"))
    try:
        with committed_db.session() as s:
            events = [emit(s, "order", n) for n in range(5)]
            s.commit()
            ids = [e.id for e in events]
        proc = subprocess.run(
            [sys.executable, "-c", CRASHING_RELAY, committed_db.url],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 17, proc.stderr
        with committed_db.session() as s:
            assert pending_count(s) == 5  # nothing was marked: the crash came first
            applied_once = s.scalars(text("SELECT event_id FROM outbox_test_effects ORDER BY event_id")).all()
            assert applied_once == ids

        # The relay runs again (a retry or the periodic safety net) and redelivers everything.
        inbox = Inbox("effects")
        redelivered: list[int] = []

        def apply(session: Session, messages: Sequence[Message]) -> None:
            redelivered.extend(m.id for m in messages)
            for m in inbox.fresh(session, messages):
                session.execute(text("INSERT INTO outbox_test_effects (event_id) VALUES (:e)"), {"e": m.id})

        relay = Relay()
        relay.subscribe("order", apply)
        with committed_db.session() as s:
            assert relay.drain(s) == 5
            assert pending_count(s) == 0
        assert redelivered == ids  # at-least-once delivery ...
        with committed_db.session() as s:
            effects = s.scalars(text("SELECT event_id FROM outbox_test_effects ORDER BY event_id")).all()
        assert effects == ids  # ... exactly-once effect: no event applied twice
    finally:
        with committed_db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS outbox_test_effects"))
