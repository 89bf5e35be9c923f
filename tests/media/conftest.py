from __future__ import annotations

from pathlib import Path

import pytest

from core.storage.local import LocalStorage
from media.pipelines.config import PipelineConfig, Rung
from media.pipelines.tools import Tools, find_tools
from media.processing import ProcessingOptions
from tests.media.clips import make_clip

# Two small rungs and ultrafast keep the input matrix quick; the default ladder runs in the slow tests.
SMALL = PipelineConfig(ladder=(Rung(540, 1600), Rung(360, 700)), preset="ultrafast")


@pytest.fixture(scope="session")
def tools() -> Tools:
    return find_tools()


@pytest.fixture(scope="session")
def clips_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def clip(clips_dir: Path):  # type: ignore[no-untyped-def]
    def make(kind: str) -> Path:
        return make_clip(kind, clips_dir)

    return make


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage", secret=b"s" * 32, base_url="http://cdn.test")


@pytest.fixture
def options(tmp_path: Path) -> ProcessingOptions:
    return ProcessingOptions(
        pipeline=SMALL,
        work_dir=tmp_path / "work",
        heartbeat_seconds=0.0,
        stall_seconds=60.0,
        queue_stale_seconds=600.0,
        max_attempts=5,
    )
