"""ffmpeg runs in its own process group: killed on timeout, on a stall, when told to stop, and when its worker dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from media.pipelines.runner import FFmpegError, FFmpegTimeout, Progress, run_ffmpeg
from media.pipelines.tools import Tools


def _endless(tools: Tools, marker: str, *extra: str) -> list[str]:
    """An ffmpeg that would run forever (a live-rate test source), tagged so we can find it in /proc."""
    return [
        tools.ffmpeg, "-hide_banner", "-nostats", "-loglevel", "error", "-progress", "pipe:1", *extra,
        "-re", "-f", "lavfi", "-i", "testsrc2=s=64x64:r=10",
        "-metadata", f"title={marker}", "-f", "null", "-",
    ]  # fmt: skip


def _running(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if marker.encode() in cmdline and b"ffmpeg" in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


def _wait_gone(marker: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _running(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _running(marker) == [], "ffmpeg outlived what should have killed it"


def test_time_limit_kills_ffmpeg(tools: Tools) -> None:
    marker = uuid.uuid4().hex
    started = time.monotonic()
    with pytest.raises(FFmpegTimeout, match="time limit"):
        run_ffmpeg(_endless(tools, marker), timeout=1.5)
    assert time.monotonic() - started < 15
    _wait_gone(marker)


def test_a_hung_ffmpeg_is_killed_when_progress_stops(tools: Tools) -> None:
    marker = uuid.uuid4().hex
    # Progress is printed only every 100 s, so from the outside this ffmpeg looks hung.
    with pytest.raises(FFmpegTimeout, match="no progress"):
        run_ffmpeg(_endless(tools, marker, "-stats_period", "100"), timeout=60, stall_timeout=1.5)
    _wait_gone(marker)


def test_progress_is_parsed_and_a_callback_can_stop_ffmpeg(tools: Tools) -> None:
    marker = uuid.uuid4().hex
    seen: list[Progress] = []

    class Stop(Exception):
        pass

    def on_progress(p: Progress) -> None:
        seen.append(p)
        if p.out_seconds >= 1.0:
            raise Stop()

    with pytest.raises(Stop):
        run_ffmpeg(_endless(tools, marker, "-stats_period", "0.2"), timeout=60, on_progress=on_progress)
    assert seen[-1].out_seconds >= 1.0
    assert seen[-1].frame > 0
    # -re: never much faster than realtime; how much slower depends on how loaded the machine is.
    assert any(p.speed is not None and 0 < p.speed < 2.0 for p in seen)
    _wait_gone(marker)


def test_ffmpeg_errors_carry_its_log(tools: Tools, tmp_path: Path) -> None:
    with pytest.raises(FFmpegError) as info:
        run_ffmpeg(
            [tools.ffmpeg, "-progress", "pipe:1", "-i", str(tmp_path / "missing.mp4"), "-f", "null", "-"], timeout=30
        )
    assert info.value.returncode not in (0, None)
    assert "missing.mp4" in info.value.stderr


def test_ffmpeg_dies_with_the_worker_that_started_it(tools: Tools) -> None:
    """SIGKILL the process running ffmpeg (as when a worker is killed): ffmpeg must not live on."""
    marker = uuid.uuid4().hex
    code = (
        "import sys; from media.pipelines.runner import run_ffmpeg; "
        f"run_ffmpeg({_endless(tools, marker)!r}, timeout=600)"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    )
    try:
        deadline = time.monotonic() + 20
        while not _running(marker):
            assert time.monotonic() < deadline, "ffmpeg never started"
            time.sleep(0.1)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        _wait_gone(marker)
    finally:
        if worker.poll() is None:
            worker.kill()
