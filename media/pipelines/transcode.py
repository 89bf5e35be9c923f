"""Probe → validate → analyse → one ffmpeg run → package. Used by the worker, the CLI and the benchmark.

Everything is written under a work directory; only `Layout.out` is meant to be
published, and the caller publishes it only after `transcode` returned, so a
run that fails or is killed half-way never leaves a visible half-result.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from media.pipelines import graph, hls, images
from media.pipelines.config import PIPELINE_VERSION, PipelineConfig
from media.pipelines.fingerprint import Fingerprint, read_raw
from media.pipelines.ladder import Rendition, output_frame_rate, plan
from media.pipelines.runner import FFmpegError, FFmpegTimeout, Progress, run_ffmpeg
from media.pipelines.tools import Tools
from media.probe import MediaInfo, analyse, probe, validate
from media.rejections import MediaRejected

# (stage, fraction of that stage done, speed as x realtime, seconds left in the stage)
ProgressSink = Callable[[str, float, float | None, float | None], None]

# What ffmpeg says when the input, not the pipeline, is at fault.
_INPUT_ERRORS = re.compile(
    r"Invalid data found when processing input|Error while decoding|partial file|corrupt|Invalid NAL"
    r"|moov atom not found|error reading header|decode_slice_header error",
    re.IGNORECASE,
)
# Outputs shorter than the source by more than this mean the input stopped decoding early.
SHORT_OUTPUT_SECONDS = 0.5


class TranscodeFailed(RuntimeError):
    """ffmpeg failed for a reason that is not the input's fault and that retrying will not fix."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


@dataclass(frozen=True)
class TranscodeResult:
    manifest: dict[str, Any]
    out_dir: Path
    info: MediaInfo
    fingerprint: Fingerprint


def _noop(_stage: str, _done: float, _speed: float | None, _eta: float | None) -> None:
    return None


def inspect(tools: Tools, source: Path, config: PipelineConfig) -> MediaInfo:
    """Probe, validate against the limits and analyse (loudness, decodable to the end)."""
    info = probe(tools, source)
    validate(info, config.limits)
    return analyse(tools, source, info, config)


def _classify(exc: FFmpegError) -> Exception:
    if "No space left on device" in exc.stderr:
        return OSError(28, "No space left on device while transcoding")
    match = _INPUT_ERRORS.search(exc.stderr)
    if match:
        return MediaRejected("undecodable", f"ffmpeg could not decode the input: {match.group(0)}")
    tail = " | ".join(exc.stderr.strip().splitlines()[-3:])[:500]
    return TranscodeFailed(f"{exc}: {tail}", exc.stderr)


def _progress_forwarder(duration: float, sink: ProgressSink) -> Callable[[Progress], None]:
    def forward(p: Progress) -> None:
        done = 1.0 if p.done else min(1.0, p.out_seconds / duration) if duration > 0 else 0.0
        eta = None
        if p.speed and p.speed > 0:
            eta = max(0.0, (duration - p.out_seconds) / p.speed)
        sink("transcoding", done, p.speed, eta)

    return forward


def transcode(
    tools: Tools,
    source: Path,
    workdir: Path,
    config: PipelineConfig,
    *,
    on_progress: ProgressSink | None = None,
    info: MediaInfo | None = None,
) -> TranscodeResult:
    sink = on_progress or _noop
    sink("probing", 0.0, None, None)
    if info is None:
        info = inspect(tools, source, config)
    run = prepare(tools, source, info, config, workdir)
    layout, renditions, fps, extras = run.layout, run.renditions, run.fps, run.extras
    assert extras is not None
    sink("transcoding", 0.0, None, None)
    try:
        run_ffmpeg(
            run.args,
            timeout=config.timeout_for(info.duration),
            stall_timeout=config.stall_seconds,
            on_progress=_progress_forwarder(info.duration, sink),
        )
    except FFmpegTimeout:
        raise
    except FFmpegError as exc:
        if exc.killed_by_signal:
            raise
        raise _classify(exc) from exc
    sink("packaging", 0.0, None, None)
    manifest = package(tools, layout, info, renditions=renditions, fps=fps, extras=extras, config=config)
    sink("packaging", 1.0, None, 0.0)
    return TranscodeResult(manifest=manifest, out_dir=layout.out, info=info, fingerprint=read_raw(layout.fingerprint))


@dataclass(frozen=True)
class Plan:
    """One ffmpeg run, ready to start: its command line and what it will write where."""

    args: list[str]
    layout: graph.Layout
    renditions: list[Rendition]
    fps: Fraction
    extras: graph.ExtrasPlan | None


def prepare(
    tools: Tools, source: Path, info: MediaInfo, config: PipelineConfig, workdir: Path, *, side_products: bool = True
) -> Plan:
    """Plan the ladder for this source and build the command; `side_products=False` gives the bare
    ladder (the benchmark's floor)."""
    dw, dh = info.video.display_size
    renditions = plan(dw, dh, config.ladder)
    fps = output_frame_rate(info.video.fps, info.video.nominal_fps, config.limits.max_fps, info.video.typical_fps)
    extras = graph.plan_extras((dw, dh), info.duration, config) if side_products else None
    layout = graph.Layout(workdir)
    layout.make(renditions, with_audio=info.audio is not None)
    args = graph.build(
        tools.ffmpeg,
        source,
        info,
        renditions=renditions,
        fps=fps,
        config=config,
        layout=layout,
        extras=extras,
        loudness=info.loudness,
    )
    return Plan(args, layout, renditions, fps, extras)


def _check_duration(name: str, produced: float, expected: float) -> None:
    if produced < expected - max(SHORT_OUTPUT_SECONDS, 0.05 * expected):
        raise MediaRejected(
            "truncated",
            f"the {name} rendition stops at {produced:.2f} s but the file claims {expected:.2f} s: "
            "the rest could not be decoded",
        )


def package(
    tools: Tools,
    layout: graph.Layout,
    info: MediaInfo,
    *,
    renditions: list[Rendition],
    fps: Fraction,
    extras: graph.ExtrasPlan,
    config: PipelineConfig,
) -> dict[str, Any]:
    """Master playlist (after folding short last segments into the one before), progressive MP4, poster,
    storyboard; returns the manifest (paths relative to out)."""
    out = layout.out
    variants = []
    for r in renditions:
        d = layout.rendition_dir(r.name)
        playlist = hls.merge_short_tail(d)
        _check_duration(r.name, playlist.duration, info.duration)
        variants.append(
            hls.VariantInfo(
                rendition=r,
                playlist=f"{r.name}/index.m3u8",
                codecs=hls.avc_codec_string(d / playlist.init),
                rate=hls.segment_rates(d, playlist),
                duration=playlist.duration,
            )
        )
    audio_rate = None
    if info.audio is not None:
        audio_playlist = hls.merge_short_tail(layout.audio_dir)
        audio_rate = hls.segment_rates(layout.audio_dir, audio_playlist)
    # The shareable MP4 and the first variant a player tries: the rung closest to 720p from below.
    start = min(
        renditions, key=lambda r: (r.short_side > config.mp4_short_side, abs(r.short_side - config.mp4_short_side))
    )
    hls.write_master(
        out / "master.m3u8",
        variants,
        fps=fps,
        audio_playlist="audio/index.m3u8" if info.audio is not None else None,
        audio_rate=audio_rate,
        start=start.name,
    )
    hls.faststart_mp4(
        tools.ffmpeg,
        layout.rendition_dir(start.name),
        layout.audio_dir if info.audio is not None else None,
        out / "video.mp4",
        layout.scratch,
    )

    candidates = sorted(layout.scratch.glob("poster_*.jpg"))
    best, _score = images.choose_poster(candidates)
    pw, ph = images.save_jpeg(candidates[best], out / "poster.jpg")
    tiles = sorted(layout.scratch.glob("tile_*.jpg"))
    tiles = tiles[: max(1, math.ceil(info.duration / extras.storyboard_interval - 1e-6))]
    board = images.build_storyboard(
        tiles,
        out,
        interval=extras.storyboard_interval,
        duration=info.duration,
        columns=config.storyboard_columns,
    )
    top = renditions[0]
    return {
        "pipeline_version": PIPELINE_VERSION,
        "duration": round(info.duration, 3),
        "width": top.width,
        "height": top.height,
        "frame_rate": round(float(fps), 3),
        "hls": "master.m3u8",
        "renditions": [
            {
                "name": v.rendition.name,
                "width": v.rendition.width,
                "height": v.rendition.height,
                "max_kbps": v.rendition.kbps,
                "bandwidth": v.rate.peak_bps,
                "average_bandwidth": v.rate.average_bps,
                "codecs": v.codecs,
                "playlist": v.playlist,
                "duration": round(v.duration, 3),
            }
            for v in variants
        ],
        "audio": None
        if info.audio is None or audio_rate is None
        else {
            "playlist": "audio/index.m3u8",
            "codecs": hls.AAC_LC,
            "channels": 2,
            "sample_rate": config.audio_rate,
            "average_bandwidth": audio_rate.average_bps,
            "loudness_target": config.loudness_i,
            "normalised": info.loudness is not None and info.loudness.input_i > -70.0,
        },
        "mp4": {"path": "video.mp4", "width": start.width, "height": start.height},
        "poster": {"path": "poster.jpg", "width": pw, "height": ph, "time": round(extras.poster_time(best), 3)},
        "storyboard": {
            "vtt": board.vtt,
            "image": board.image,
            "tile_width": board.tile_width,
            "tile_height": board.tile_height,
            "columns": board.columns,
            "rows": board.rows,
            "count": board.count,
            "interval": board.interval,
        },
        "preview": {
            "path": "preview.webp",
            "width": extras.preview_size[0],
            "height": extras.preview_size[1],
            "duration": round(extras.preview_seconds, 3),
        },
        "source": info.summary(),
        "files": {p.relative_to(out).as_posix(): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()},
    }
