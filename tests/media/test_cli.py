"""`python -m media transcode INPUT OUTDIR` without the web app: manifest on stdout, or one line and nothing left."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from tests.media.verify import check_ladder

SMALL_ARGS = ["--ladder", "540:1600,360:700", "--preset", "ultrafast"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "media", "transcode", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_transcodes_and_prints_the_manifest(clip: Callable[[str], Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli(str(clip("portrait")), str(out), *SMALL_ARGS)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    manifest = json.loads(result.stdout)
    check_ladder(out, manifest, source_duration=5.0, expect_audio=True, expect_sizes=[(540, 960), (360, 640)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no work directory left beside it


@pytest.mark.parametrize(("kind", "code"), [("text_renamed", "not_media"), ("truncated", "truncated")])
def test_bad_input_exits_non_zero_with_one_line_and_leaves_nothing(
    kind: str, code: str, clip: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = run_cli(str(clip(kind)), str(out), *SMALL_ARGS)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {code}: ")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_failure_late_in_the_run_leaves_an_existing_outdir_empty(clip: Callable[[str], Path], tmp_path: Path) -> None:
    """Truncated mid-file with the index first: caught by decoding, after the probe accepted it."""
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(str(clip("truncated_faststart")), str(out), *SMALL_ARGS)
    assert result.returncode == 2
    assert "truncated" in result.stderr
    assert list(out.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_refuses_a_non_empty_outdir(clip: Callable[[str], Path], tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = run_cli(str(clip("portrait")), str(tmp_path), *SMALL_ARGS)
    assert result.returncode == 1
    assert "empty directory" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
