"""A perceptual fingerprint of a video: one 64-bit DCT hash per half second of picture.

    source ─ fps 2 ─ crop to the central 90 % ─ scale 32x32 ─ gray ─ raw frames ─ DCT hash each

The hash of a frame keeps only its coarse structure (the 8x8 lowest frequencies of a
32x32 gray thumbnail, each bit "above the median"), so a re-encode, a rescale or a
crop of a few percent moves few of its 64 bits, while a different picture differs in
about half. Cropping to the centre first keeps borders (letterboxing, a crop) from
weighing on it. A mirrored copy is found by hashing the query's frames mirrored too.

Frames are sampled on the clock (every 0.5 s from 0), not per frame, so copies at a
different frame rate line up; flat frames (black, a title card) say nothing about
which video they come from and are left out of both matching and lookup keys.

Matching two fingerprints aligns their frames (a copy may start up to a frame
earlier or later), counts the frames whose hashes are within `FRAME_BITS` of each
other, and calls it a match when `MATCH_SHARE` of the frames they share do. Lookup
keys (locality-sensitive: each hash cut into four 16-bit bands) let a store find
candidates without comparing against every video.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import ffmpeg
import numpy as np

from media.pipelines.runner import FFmpegError, run_tool
from media.pipelines.tools import Tools

SAMPLE_FPS = 2
SIDE = 32
LOW = 8
CENTRE = 0.9
# A frame whose thumbnail varies less than this (gray levels, standard deviation) is flat.
FLAT_STD = 6.0
# Two hashes of the same picture after re-encoding, scaling or a small crop differ in a few bits;
# unrelated pictures in about 32 of 64.
FRAME_BITS = 14
MATCH_SHARE = 0.6
# Fewer comparable frames than this (a clip of mostly flat frames) cannot be told apart from others.
MIN_FRAMES = 4
# Every KEY_EVERY-th informative frame gives lookup keys: enough for a copy to share some, few rows.
KEY_EVERY = 2
BANDS = 4


@cache
def _dct_matrix() -> np.ndarray:
    n = np.arange(SIDE)
    k = n.reshape(-1, 1)
    return np.cos(np.pi * (2 * n + 1) * k / (2 * SIDE))


def frame_hash(thumbnail: np.ndarray) -> int:
    """The 64-bit hash of one SIDE x SIDE gray frame."""
    d = _dct_matrix()
    low = (d @ thumbnail.astype(np.float64) @ d.T)[:LOW, :LOW].ravel()
    # The DC term only says how bright the frame is; the median is taken over the rest.
    bits = low > np.median(low[1:])
    return int(np.packbits(bits).view(">u8")[0])


def is_flat(thumbnail: np.ndarray) -> bool:
    return float(thumbnail.std()) < FLAT_STD


@dataclass(frozen=True)
class Fingerprint:
    """Per sample time, the frame's hash or None when the frame is flat; and the same of the mirrored picture."""

    frames: tuple[int | None, ...]
    mirrored: tuple[int | None, ...]

    @classmethod
    def from_thumbnails(cls, thumbnails: Iterable[np.ndarray]) -> Fingerprint:
        frames: list[int | None] = []
        mirrored: list[int | None] = []
        for t in thumbnails:
            flat = is_flat(t)
            frames.append(None if flat else frame_hash(t))
            mirrored.append(None if flat else frame_hash(t[:, ::-1]))
        return cls(tuple(frames), tuple(mirrored))

    @property
    def informative(self) -> int:
        return sum(h is not None for h in self.frames)

    def to_bytes(self) -> bytes:
        """What a store keeps: the frames only (a stored video is compared with a query's both ways)."""
        return b"".join((h if h is not None else 0).to_bytes(8, "big") + bytes([h is not None]) for h in self.frames)

    @classmethod
    def stored(cls, data: bytes) -> Fingerprint:
        frames = tuple(int.from_bytes(data[i : i + 8], "big") if data[i + 8] else None for i in range(0, len(data), 9))
        return cls(frames, ())


def lookup_keys(frames: Sequence[int | None]) -> set[int]:
    """Locality-sensitive keys: a band (16 bits, tagged with its position) of every KEY_EVERY-th informative hash.

    A copy's hash differs in a few bits, so it keeps most bands intact and shares keys with its original.
    """
    informative = [h for h in frames if h is not None]
    keys: set[int] = set()
    for h in informative[::KEY_EVERY]:
        for band in range(BANDS):
            keys.add(band << 16 | (h >> (16 * band)) & 0xFFFF)
    return keys


def query_keys(query: Fingerprint) -> set[int]:
    return lookup_keys(query.frames) | lookup_keys(query.mirrored)


def _aligned_share(a: Sequence[int | None], b: Sequence[int | None]) -> tuple[float, int]:
    """Share of comparable frames whose hashes are close, with each frame allowed one sample of slack."""
    close = compared = 0
    for i, h in enumerate(a):
        if h is None:
            continue
        neighbours = [b[j] for j in (i - 1, i, i + 1) if 0 <= j < len(b) and b[j] is not None]
        if not neighbours:
            continue
        compared += 1
        close += min((h ^ g).bit_count() for g in neighbours) <= FRAME_BITS  # type: ignore[operator]
    return (close / compared if compared else 0.0), compared


def similarity(query: Fingerprint, stored: Fingerprint) -> float:
    """How alike two videos are (0..1): the better of the query as it is and mirrored."""
    best = 0.0
    for frames in (query.frames, query.mirrored):
        share, compared = _aligned_share(frames, stored.frames)
        if compared >= MIN_FRAMES:
            best = max(best, share)
    return best


def matches(query: Fingerprint, stored: Fingerprint) -> bool:
    return similarity(query, stored) >= MATCH_SHARE


def sample(stream: Any) -> Any:
    """The sampling chain on an ffmpeg-python video stream: the transcode runs it as one more branch of
    its single decode, and `fingerprint_file` on its own (the benchmark, tools)."""
    return (
        stream.filter("fps", fps=SAMPLE_FPS)
        .filter("crop", f"iw*{CENTRE}", f"ih*{CENTRE}")
        .filter("scale", SIDE, SIDE, flags="area")
        .filter("format", "gray")
    )


RAW_OUTPUT = {"f": "rawvideo", "map_metadata": "-1"}


def read_raw(path: Path) -> Fingerprint:
    return Fingerprint.from_thumbnails(thumbnails_from_raw(path.read_bytes()))


def thumbnails_from_raw(raw: bytes) -> list[np.ndarray]:
    frame = SIDE * SIDE
    usable = len(raw) - len(raw) % frame
    pixels = np.frombuffer(raw[:usable], dtype=np.uint8)
    return list(pixels.reshape(-1, SIDE, SIDE))


def fingerprint_file(tools: Tools, source: Path, *, timeout: float = 300.0) -> Fingerprint:
    """Decode `source` at SAMPLE_FPS (tiny frames: the cost is the decode) and hash every sample."""
    graph = ffmpeg.output(sample(ffmpeg.input(str(source))["v:0"]), "pipe:1", **RAW_OUTPUT)
    args = graph.global_args("-nostdin", "-hide_banner", "-loglevel", "error").compile(cmd=tools.ffmpeg)
    done = run_tool(args, timeout=timeout)
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace")[-4000:]
        raise FFmpegError("fingerprinting failed", returncode=done.returncode, stderr=stderr)
    return Fingerprint.from_thumbnails(thumbnails_from_raw(done.stdout))
