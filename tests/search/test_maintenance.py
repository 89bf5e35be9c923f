"""Reindex with an alias swap (no downtime, no lost writes) and reconcile (drift found and repaired)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import delete, select, update

from core.db import Database
from core.outbox import emit, pending_count
from core.settings import PROJECT_ROOT
from media.models import Video, Visibility
from search.documents import ENTITIES
from search.maintenance import reconcile, reindex
from search.models import BuildStatus, IndexBuild
from tests import factories
from tests.celery_worker import settings_env
from tests.conftest import make_settings
from tests.search.conftest import Stack


def seed(db: Database, stack: Stack, n: int) -> list[int]:
    with db.session() as s:
        artist = factories.user(s, artist=True)
        videos = [factories.video(s, uploader=artist, title=f"原片 original {k}") for k in range(n)]
        for v in videos:
            emit(s, "video", v.id)
        s.commit()
        ids = [v.id for v in videos]
        stack.drain(s)
    stack.engine.refresh("videos")
    return ids


def test_reindex_swaps_the_alias_without_losing_writes_made_during_the_rebuild(
    committed_db: Database, stack: Stack
) -> None:
    ids = seed(committed_db, stack, 30)
    old_index = stack.engine.resolve_alias("videos")
    seen_progress: list[tuple[int, int]] = []
    during: dict[str, object] = {}

    def meanwhile(done: int, total: int) -> None:
        seen_progress.append((done, total))
        if len(seen_progress) != 1:
            return
        # Readers still use the old index, and it answers.
        during["alias"] = stack.engine.resolve_alias("videos")
        during["found"] = len(stack.find("原片"))
        with committed_db.session() as s:
            s.execute(update(Video).where(Video.id == ids[2]).values(title="已复制后改名 renamed-early"))
            s.execute(update(Video).where(Video.id == ids[25]).values(title="未复制先改名 renamed-late"))
            s.execute(update(Video).where(Video.id == ids[4]).values(visibility=Visibility.PRIVATE))
            newcomer = factories.video(s, uploader=factories.user(s, artist=True), title="重建期间上传 newcomer")
            for vid in (ids[2], ids[25], ids[4], newcomer.id):
                emit(s, "video", vid)
            s.commit()
            during["newcomer"] = newcomer.id
            stack.drain(s)  # the search worker delivers them while the rebuild runs

    report = reindex(committed_db, stack.engine, ENTITIES["videos"], batch_size=10, progress=meanwhile)
    assert during["alias"] == old_index
    assert during["found"] == 30
    new_index = stack.engine.resolve_alias("videos")
    assert new_index == report.index != old_index
    assert seen_progress[-1] == (31, 31)  # the newcomer was there by the time the copy reached it
    assert stack.find("renamed") == sorted([str(ids[2]), str(ids[25])])
    assert stack.find("newcomer") == [str(during["newcomer"])]
    assert str(ids[4]) not in stack.find("原片")
    assert stack.engine.count("videos") == 30  # 30 - 1 private + 1 new
    assert sorted(stack.engine.indexes("videos")) == sorted([old_index, new_index])  # the previous one is kept
    with committed_db.session() as s:
        build = s.scalars(select(IndexBuild).where(IndexBuild.index_name == new_index)).one()
        assert (build.status, build.done) == (BuildStatus.DONE, 31)

    # A second rebuild keeps just one previous index.
    again = reindex(committed_db, stack.engine, ENTITIES["videos"])
    assert stack.engine.indexes("videos") == sorted([new_index, again.index])
    assert stack.engine.count("videos") == 30


def test_reconcile_finds_drift_and_repairs_it_through_the_outbox(committed_db: Database, stack: Stack) -> None:
    ids = seed(committed_db, stack, 6)
    with committed_db.session() as s:
        # Changes that bypassed the outbox: a bulk import, a manual fix, a row deleted by hand.
        s.execute(update(Video).where(Video.id == ids[0]).values(title="手工修改 edited by hand"))
        s.execute(delete(Video).where(Video.id == ids[1]))
        unseen = factories.video(s, uploader=factories.user(s, artist=True), title="导入 imported")
        s.commit()
        unseen_id = unseen.id
    report = reconcile(committed_db, stack.engine, ENTITIES["videos"])
    assert report.missing == [unseen_id]
    assert report.different == [ids[0]]
    assert report.superfluous == [ids[1]]
    with committed_db.session() as s:
        assert pending_count(s) == 3
        stack.drain(s)
    assert stack.find("edited") == [str(ids[0])]
    assert stack.find("imported") == [str(unseen_id)]
    assert str(ids[1]) not in stack.find("原片")
    again = reconcile(committed_db, stack.engine, ENTITIES["videos"])
    assert again.repaired == 0
    assert again.checked == 6


def test_reindex_command_shows_progress_and_swaps(committed_db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_url=committed_db.url)
    with committed_db.session() as s:
        artist = factories.user(s, artist=True)
        for k in range(5):
            factories.video(s, uploader=artist, title=f"命令行 {k}")
        s.commit()
    env = {**settings_env(settings), "COLUMNS": "120"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "search", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    run = cli("reindex", "--entity", "videos", "--batch-size", "2")
    assert run.returncode == 0, run.stderr
    assert "reindex videos" in run.stdout + run.stderr  # the progress bar
    assert "videos: 5 documents into videos__" in run.stdout
    status = cli("status")
    assert "videos: alias -> videos__" in status.stdout
    assert ", 5 documents" in status.stdout
    bad = cli("reindex", "--entity", "nope")
    assert bad.returncode == 2
    assert "Invalid value for '--entity'" in bad.stderr
    assert os.listdir(tmp_path / "search" / "indexes")
