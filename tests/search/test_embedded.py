"""The embedded engine across processes: one writer (the search worker), readers (web) that follow its commits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from search.backends.embedded import EmbeddedEngine
from search.documents import VIDEOS
from search.engine import SearchError
from search.query import Match, SearchRequest, Upsert

READER = textwrap.dedent(
    """
    import sys
    from search.backends.embedded import EmbeddedEngine
    from search.engine import SearchError
    from search.query import Match, SearchRequest, Upsert

    engine = EmbeddedEngine(sys.argv[1])  # a web process: it never refreshes by hand
    for line in sys.stdin:
        command = line.strip()
        if command == "count":
            hits = engine.search("videos", SearchRequest(match=Match("口红", ["title"]), size=50)).hits
            print(engine.count("videos"), ",".join(sorted(h.id for h in hits)), flush=True)
        elif command == "write":
            try:
                engine.bulk("videos", [Upsert("web", {"title": "web 口红"}, 1)])
                print("wrote", flush=True)
            except SearchError as exc:
                print("refused", type(exc).__name__, flush=True)
    """
)


def ask(proc: subprocess.Popen[str], command: str) -> str:
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


def doc(title: str) -> dict[str, object]:
    return {"title": title}


def test_web_readers_follow_the_worker_commits_and_alias_swaps(tmp_path: Path) -> None:
    worker = EmbeddedEngine(tmp_path / "search")
    worker.create_index("videos__a", VIDEOS)
    worker.point_alias("videos", "videos__a")
    worker.bulk("videos", [Upsert("1", doc("平价口红推荐"), 1)])
    proc = subprocess.Popen(
        [sys.executable, "-c", READER, str(tmp_path / "search")],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # Tokenizers are registered on open, so Chinese matching works in the reading process too.
        assert ask(proc, "count") == "1 1"
        worker.bulk("videos", [Upsert("2", doc("口红试色"), 1), Upsert("3", doc("跑鞋"), 1)])
        assert ask(proc, "count") == "3 1,2"  # the new commit, without a restart or a manual refresh
        worker.create_index("videos__b", VIDEOS)
        worker.bulk("videos__b", [Upsert("9", doc("重建后的口红"), 1)])
        worker.point_alias("videos", "videos__b")
        assert ask(proc, "count") == "1 9"  # the alias swap
        assert ask(proc, "write") == "refused SearchError"  # one writer per index: the worker holds it
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(timeout=30)
        worker.close()
    # Once the worker is gone, another process may write.
    other = EmbeddedEngine(tmp_path / "search")
    assert other.bulk("videos", [Upsert("10", doc("新的写入者"), 1)]).applied == ["10"]
    other.refresh("videos")
    assert other.count("videos") == 2
    other.close()


def test_a_second_writer_in_the_same_process_is_refused_cleanly(tmp_path: Path) -> None:
    first, second = EmbeddedEngine(tmp_path / "s"), EmbeddedEngine(tmp_path / "s")
    first.create_index("videos__a", VIDEOS)
    first.point_alias("videos", "videos__a")
    first.bulk("videos", [Upsert("1", doc("a"), 1)])
    with pytest.raises(SearchError, match="locked by another writer"):
        second.bulk("videos", [Upsert("2", doc("b"), 1)])
    assert second.search("videos", SearchRequest(match=Match("a", ["title"]))).total == 1
    first.close()
    second.close()
