"""Run one ffmpeg process: its own process group, `-progress` parsed, killed on timeout or when told to stop.

ffmpeg starts in a new session (its own process group) so a timeout kills it and
everything it spawned at once, and with PR_SET_PDEATHSIG so it dies with the
worker process that started it: a worker killed mid-transcode leaves no orphan
writing into its work directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

_PR_SET_PDEATHSIG = 1
STDERR_TAIL = 64 * 1024


class FFmpegError(RuntimeError):
    """ffmpeg exited with an error; `stderr` holds the tail of its log."""

    def __init__(self, message: str, *, returncode: int | None, stderr: str) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr

    @property
    def killed_by_signal(self) -> bool:
        return self.returncode is not None and self.returncode < 0


class FFmpegTimeout(FFmpegError):
    pass


@dataclass(frozen=True)
class Progress:
    """One `-progress` block: media time written so far and the encoding speed (x realtime)."""

    out_seconds: float
    speed: float | None
    frame: int
    done: bool


ProgressCallback = Callable[[Progress], None]


def _child_setup() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def parse_progress_block(fields: dict[str, str]) -> Progress:
    out_us = fields.get("out_time_us") or fields.get("out_time_ms") or "0"
    try:
        out_seconds = max(0.0, int(out_us) / 1_000_000)
    except ValueError:  # "N/A" before the first packet
        out_seconds = 0.0
    speed_text = fields.get("speed", "").rstrip("x").strip()
    try:
        speed: float | None = float(speed_text)
    except ValueError:
        speed = None
    try:
        frame = int(fields.get("frame", "0"))
    except ValueError:
        frame = 0
    return Progress(out_seconds=out_seconds, speed=speed, frame=frame, done=fields.get("progress") == "end")


class _ProgressParser:
    """Turns `-progress` output (key=value lines, blocks ending in `progress=...`) into Progress events."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.on_progress = on_progress
        self.last: Progress | None = None
        self._fields: dict[str, str] = {}
        self._buffer = b""

    def feed(self, chunk: bytes) -> None:
        *lines, self._buffer = (self._buffer + chunk).split(b"\n")
        for raw in lines:
            key, _, value = raw.decode("utf-8", "replace").strip().partition("=")
            self._fields[key] = value
            if key == "progress":
                self.last = parse_progress_block(self._fields)
                self._fields = {}
                if self.on_progress is not None:
                    self.on_progress(self.last)


def _pump(
    proc: subprocess.Popen[bytes], parser: _ProgressParser, timeout: float, stall_timeout: float | None
) -> str | None:
    """Read progress until ffmpeg closes its output; returns why it had to be stopped, if it had to."""
    assert proc.stdout is not None
    started = last_output = time.monotonic()
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if now - started > timeout:
                return f"ffmpeg exceeded its time limit of {timeout:.0f} s"
            if stall_timeout is not None and now - last_output > stall_timeout:
                return f"ffmpeg made no progress for {stall_timeout:.0f} s"
            if not sel.select(timeout=0.5):
                if proc.poll() is not None:
                    return None
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                return None
            last_output = time.monotonic()
            parser.feed(chunk)


def _tail(fh: IO[bytes]) -> str:
    fh.seek(0, os.SEEK_END)
    fh.seek(max(0, fh.tell() - STDERR_TAIL))
    return fh.read().decode("utf-8", "replace")


def run_ffmpeg(
    args: Sequence[str],
    *,
    timeout: float,
    stall_timeout: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> tuple[str, Progress | None]:
    """Run `args` (a full ffmpeg command line that includes `-progress pipe:1`).

    Returns the stderr tail and the last progress block. Raises FFmpegTimeout when
    the whole run exceeds `timeout` or no progress arrives for `stall_timeout`,
    and FFmpegError on a non-zero exit. Whatever `on_progress` raises stops
    ffmpeg (its process group is killed) and propagates.
    """
    parser = _ProgressParser(on_progress)
    started = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(  # noqa: S603 - args are built by this package, never from user text
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
            preexec_fn=_child_setup,  # noqa: PLW1509 - only calls prctl; no locks involved
        )
        try:
            stopped = _pump(proc, parser, timeout, stall_timeout)
            if stopped is None:
                try:
                    proc.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
                except subprocess.TimeoutExpired:
                    stopped = f"ffmpeg exceeded its time limit of {timeout:.0f} s"
        finally:
            if proc.poll() is None:
                _kill_group(proc)
            assert proc.stdout is not None
            proc.stdout.close()
        stderr = _tail(err)
    if stopped is not None:
        raise FFmpegTimeout(stopped, returncode=proc.returncode, stderr=stderr)
    if proc.returncode != 0:
        reason = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
        raise FFmpegError(f"ffmpeg failed ({reason})", returncode=proc.returncode, stderr=stderr)
    return stderr, parser.last


def run_tool(args: Sequence[str], *, timeout: float) -> subprocess.CompletedProcess[bytes]:
    """A short helper run (ffprobe, a remux): its own process group, dies with us, killed on timeout."""
    proc = subprocess.Popen(  # noqa: S603 - args are built by this package
        list(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_child_setup,  # noqa: PLW1509 - only calls prctl
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        raise FFmpegTimeout(
            f"{os.path.basename(args[0])} exceeded its time limit of {timeout:.0f} s", returncode=None, stderr=""
        ) from exc
    return subprocess.CompletedProcess(list(args), proc.returncode, out, err)
