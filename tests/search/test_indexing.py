"""Outbox-driven indexing on both backends: changes become searchable; crashes and stale events are harmless."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from sqlalchemy.orm import Session

from core.db import Database
from core.outbox import Message, emit, pending_count
from core.settings import PROJECT_ROOT
from media.models import Visibility
from search.backends.elastic import ElasticsearchEngine
from search.backends.embedded import EmbeddedEngine
from search.documents import ENTITIES, VIDEOS, build_videos
from search.engine import SearchEngine
from search.indexing import actions_for, latest_versions
from tests import factories
from tests.search.conftest import Stack, osmem_client


def test_a_committed_change_is_searchable_after_the_relay_runs(db_session: Session, stack: Stack) -> None:
    artist = factories.user(db_session, artist=True, display_name="小鹿")
    video = factories.video(db_session, uploader=artist, title="夏日防晒霜测评 sunscreen", hashtags=["防晒"])
    emit(db_session, "video", video.id)
    db_session.commit()
    assert stack.find("防晒霜") == []  # nothing is indexed inside the transaction
    assert stack.relay.drain(db_session) >= 1
    assert stack.find("防晒霜") == [str(video.id)]
    doc = stack.engine.get("videos", [str(video.id)])[str(video.id)]
    assert doc.source["creator_name"] == "小鹿"
    assert doc.source["hashtags"] == ["防晒"]
    # The artist document followed through the fan-out event the video consumer emitted.
    stack.relay.drain(db_session)
    stack.engine.refresh("artists")
    assert stack.engine.get("artists", [str(artist.id)])[str(artist.id)].source["videos"] == 1

    video.title = "秋冬保湿面霜 moisturizer"
    emit(db_session, "video", video.id)
    db_session.commit()
    stack.relay.drain(db_session)
    assert stack.find("防晒霜") == []
    assert stack.find("面霜") == [str(video.id)]

    video.visibility = Visibility.PRIVATE
    emit(db_session, "video", video.id)
    db_session.commit()
    stack.relay.drain(db_session)
    assert stack.find("面霜") == []
    stack.relay.drain(db_session)  # the artist event the video consumer emitted
    assert pending_count(db_session) == 0
    stack.engine.refresh("artists")
    assert stack.engine.get("artists", [str(artist.id)])[str(artist.id)].source["videos"] == 0


def test_a_stale_version_never_overwrites_a_newer_one(db_session: Session, stack: Stack) -> None:
    artist = factories.user(db_session, artist=True)
    video = factories.video(db_session, uploader=artist, title="旧标题 old title")
    first = emit(db_session, "video", video.id)
    db_session.commit()
    # A slow relay built the document now, then stalled before writing it.
    stalled = actions_for(build_videos(db_session, [video.id]), {video.id: first.id})

    video.title = "新标题 new title"
    emit(db_session, "video", video.id)
    db_session.commit()
    stack.relay.drain(db_session)
    assert stack.find("新标题") == [str(video.id)]

    late = stack.indexer.write(db_session, ENTITIES["videos"], stalled)
    assert late.stale == [str(video.id)]
    assert late.applied == []
    assert stack.find("新标题") == [str(video.id)]
    assert stack.find("old") == []


def test_events_for_one_video_in_one_batch_index_it_once_at_the_newest_version(
    db_session: Session, stack: Stack
) -> None:
    artist = factories.user(db_session, artist=True)
    video = factories.video(db_session, uploader=artist, title="批量 batch")
    events = [emit(db_session, "video", video.id) for _ in range(3)]
    db_session.commit()
    stack.relay.drain(db_session)
    stack.engine.refresh("videos")
    assert stack.engine.get("videos", [str(video.id)])[str(video.id)].version == events[-1].id
    assert latest_versions(db_session, "video", [video.id]) == {video.id: events[-1].id}


def test_a_failing_engine_keeps_events_pending_until_it_recovers(db_session: Session, stack: Stack) -> None:
    artist = factories.user(db_session, artist=True)
    video = factories.video(db_session, uploader=artist, title="重试 retry")
    emit(db_session, "video", video.id)
    db_session.commit()

    real_bulk = stack.engine.bulk

    def down(*_a: object, **_k: object) -> None:
        from search.engine import SearchError

        raise SearchError("engine unreachable")

    stack.engine.bulk = down  # type: ignore[method-assign]
    try:
        stack.relay.drain(db_session)
    finally:
        stack.engine.bulk = real_bulk  # type: ignore[method-assign]
    assert pending_count(db_session) >= 1
    stack.relay.drain(db_session)
    stack.relay.drain(db_session)  # and the artist event it fanned out
    assert pending_count(db_session) == 0
    assert stack.find("重试") == [str(video.id)]


CRASHING_RELAY = textwrap.dedent(
    """
    import os, sys
    from core.db import Database
    from core.outbox import Relay
    from search.indexing import Indexer
    from tests.search.test_indexing import engine_for

    db = Database(sys.argv[1])
    engine = engine_for(sys.argv[2], sys.argv[3])
    relay = Relay()
    Indexer(engine).subscribe(relay)

    def die(session, messages):
        engine.refresh("videos")
        os._exit(17)  # the documents are in the index; the relay dies before marking the events

    relay.subscribe("video", die)
    with db.session() as s:
        relay.run_once(s)
    """
)


def engine_for(kind: str, url: str) -> SearchEngine:
    if kind == "embedded":
        return EmbeddedEngine(url)
    return ElasticsearchEngine(url, client=osmem_client(url))


def test_crash_between_index_write_and_outbox_mark_loses_nothing_and_duplicates_nothing(
    committed_db: Database, stack: Stack
) -> None:
    kind = "embedded" if isinstance(stack.engine, EmbeddedEngine) else "elasticsearch"
    with committed_db.session() as s:
        artist = factories.user(s, artist=True)
        videos = [factories.video(s, uploader=artist, title=f"崩溃恢复 crash {n}") for n in range(4)]
        events = [emit(s, "video", v.id) for v in videos]
        s.commit()
        ids = sorted(str(v.id) for v in videos)
        versions = {str(v.id): e.id for v, e in zip(videos, events, strict=True)}
    if kind == "embedded":
        stack.engine.close()  # the subprocess must be able to take the writer lock
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_RELAY, committed_db.url, kind, stack.url],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 17, proc.stderr
    with committed_db.session() as s:
        assert pending_count(s) == 5  # four videos and the artist fan-out
    assert sorted(stack.find("崩溃恢复")) == ids  # written before the crash

    delivered: list[Message] = []
    stack.relay.subscribe("video", lambda _s, msgs: delivered.extend(msgs))
    with committed_db.session() as s:
        stack.relay.drain(s)
        stack.relay.drain(s)  # the artist event the redelivery fanned out again
        assert pending_count(s) == 0
    assert sorted(m.entity_id for m in delivered) == ids  # redelivered after the crash ...
    stack.engine.refresh("videos")
    assert stack.engine.count("videos") == 4  # ... yet indexed once each
    got = stack.engine.get("videos", ids)
    assert {k: h.version for k, h in got.items()} == versions
    assert sorted(stack.find("崩溃恢复")) == ids


def test_documents_leave_out_what_must_not_be_searchable(db_session: Session) -> None:
    artist = factories.user(db_session, artist=True)
    live = factories.video(db_session, uploader=artist)
    private = factories.video(db_session, uploader=artist, visibility=Visibility.PRIVATE)
    draft = factories.video(db_session, uploader=artist, published=False)
    banned = factories.user(db_session, artist=True, is_active=False)
    hidden = factories.video(db_session, uploader=banned)
    docs = build_videos(db_session, [live.id, private.id, draft.id, hidden.id, 999_999])
    assert docs[live.id] is not None
    assert [k for k, v in docs.items() if v is None] == [private.id, draft.id, hidden.id, 999_999]
    VIDEOS.validate(docs[live.id])  # type: ignore[arg-type]


def test_the_newest_event_decides_and_a_delete_event_removes_the_document(db_session: Session, stack: Stack) -> None:
    artist = factories.user(db_session, artist=True)
    video = factories.video(db_session, uploader=artist, title="将被删除 doomed")
    emit(db_session, "video", video.id)
    db_session.commit()
    stack.drain(db_session)
    assert stack.find("doomed") == [str(video.id)]
    # The owner deleted it: the row may linger (soft deletion), the delete event is what counts.
    emit(db_session, "video", video.id, op="delete")
    db_session.commit()
    stack.drain(db_session)
    assert stack.find("doomed") == []
    # Restored later: a newer upsert brings it back.
    emit(db_session, "video", video.id, op="delete")
    emit(db_session, "video", video.id)
    db_session.commit()
    stack.drain(db_session)
    assert stack.find("doomed") == [str(video.id)]
