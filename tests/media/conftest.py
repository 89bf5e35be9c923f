from __future__ import annotations

from pathlib import Path

import pytest

from media.pipelines.config import PipelineConfig, Rung
from media.pipelines.tools import Tools, find_tools
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
