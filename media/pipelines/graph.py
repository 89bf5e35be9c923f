"""The ONE ffmpeg process: decode the source once and split it into every output.

    source ─ fps (CFR) ─ [HDR → SDR] ─ split ─┬─ scale 1080 ─┬─ x264 ─ HLS fMP4
                                              │              └─ scale 720 ─┬─ x264 ─ HLS fMP4
                                              │                            └─ scale 540 ─ ... (cascade)
                                              ├─ fps N/dur ─ scale ─ JPEG   (poster candidates)
                                              ├─ fps 1/interval ─ scale ─ JPEG (storyboard tiles)
                                              ├─ trim ─ fps ─ scale ─ animated WebP (preview)
                                              └─ fps 2 ─ crop ─ 32x32 gray ─ raw  (fingerprint frames)
    source audio ─ stereo downmix ─ gain (measured) ─ 192 kHz ─ true-peak limiter ─ 48 kHz ─ AAC ─ HLS fMP4

Every rung gets the same fixed GOP and forced keyframes on the same timestamps,
so segments line up across renditions; rotation is applied by ffmpeg's
autorotate, pixels are made square by scaling to explicit display sizes, and
metadata (GPS, device tags) is dropped from every output.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg

from media.pipelines import fingerprint
from media.pipelines.config import PipelineConfig
from media.pipelines.ladder import Rendition, fit, gop_frames
from media.pipelines.loudness import Loudness, apply_filters
from media.probe import MediaInfo

# Matrices swscale knows by name, keyed by ffprobe's color_space.
_MATRICES = {
    "bt709": "bt709",
    "smpte170m": "bt601",
    "bt470bg": "bt601",
    "fcc": "fcc",
    "smpte240m": "smpte240m",
    "bt2020nc": "bt2020",
    "bt2020c": "bt2020",
}
SDR_TAGS = {"colorspace": "bt709", "color_primaries": "bt709", "color_trc": "bt709", "color_range": "tv"}
NO_METADATA = {"map_metadata": "-1", "map_chapters": "-1", "max_muxing_queue_size": "4096"}
# Keep every output on the source's timeline (first frame at 0, B-frame delay as negative decode
# times): shifting each output separately would put video and audio renditions tens of ms apart.
SAME_TIMELINE = {"avoid_negative_ts": "disabled"}


@dataclass(frozen=True)
class Layout:
    """Where one run writes: `out` is published as is, `scratch` holds intermediates."""

    root: Path

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def scratch(self) -> Path:
        return self.root / "scratch"

    def rendition_dir(self, name: str) -> Path:
        return self.out / name

    @property
    def audio_dir(self) -> Path:
        return self.out / "audio"

    @property
    def fingerprint(self) -> Path:
        return self.scratch / "fingerprint.gray"

    def make(self, renditions: list[Rendition], with_audio: bool) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        for r in renditions:
            self.rendition_dir(r.name).mkdir(parents=True, exist_ok=True)
        if with_audio:
            self.audio_dir.mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class ExtrasPlan:
    poster_size: tuple[int, int]
    poster_rate: Fraction  # candidates per second, spread evenly over the clip
    poster_start: float
    storyboard_size: tuple[int, int]
    storyboard_interval: float
    preview_size: tuple[int, int]
    preview_seconds: float

    def poster_time(self, i: int) -> float:
        return self.poster_start + i / float(self.poster_rate)


def plan_extras(display: tuple[int, int], duration: float, config: PipelineConfig) -> ExtrasPlan:
    dw, dh = display
    short = min(dw, dh)
    n = max(1, config.poster_candidates)
    rate = Fraction(n) / Fraction(duration).limit_denominator(1000)
    interval = max(duration / config.storyboard_max_tiles, 1.0)
    interval = min(interval, duration)
    return ExtrasPlan(
        poster_size=fit(min(config.poster_short_side, short - short % 2), dw, dh),
        poster_rate=rate,
        poster_start=duration / (2 * n),
        storyboard_size=fit(config.storyboard_short_side, dw, dh),
        storyboard_interval=round(interval, 3),
        preview_size=fit(min(config.preview_short_side, short - short % 2), dw, dh),
        preview_seconds=min(config.preview_seconds, duration),
    )


@dataclass(frozen=True)
class Picture:
    """What a filter chain carries at some point: frame size, colour matrix, full or limited range."""

    size: tuple[int, int]
    matrix: str
    full_range: bool = False


def _scale(stream: Any, picture: Picture, size: tuple[int, int], pix_fmt: str = "yuv420p") -> Any:
    """Scale to `size`, BT.709 limited range, square pixels. When the picture already is all of
    that, no scaler runs at all (ffmpeg's scale filter would copy every frame once asked for a
    colour matrix, even to the same size)."""
    to_full = pix_fmt == "yuvj420p"
    if size != picture.size or picture.matrix != "bt709" or picture.full_range != to_full:
        options: dict[str, Any] = {"w": size[0], "h": size[1], "flags": "bicubic"}
        if picture.matrix != "bt709":
            options.update(in_color_matrix=picture.matrix, out_color_matrix="bt709")
        if picture.full_range != to_full:
            options["out_range"] = "pc" if to_full else "tv"
        stream = stream.filter("scale", **options)
    return stream.filter("setsar", "1").filter("format", pix_fmt)


def source_picture(info: MediaInfo) -> Picture:
    """The decoded picture after autorotate: stored size (turned), its matrix and range."""
    v = info.video
    size = (v.height, v.width) if v.rotation in (90, 270) else (v.width, v.height)
    full = v.color_range in ("pc", "jpeg") or (v.pix_fmt or "").startswith("yuvj")
    return Picture(size=size, matrix=input_matrix(info), full_range=full)


def input_matrix(info: MediaInfo) -> str:
    tagged = _MATRICES.get(info.video.color_space or "")
    if tagged:
        return tagged
    # Untagged: HD and larger is BT.709 in practice, SD is BT.601 (swscale would assume 601 for all).
    w, h = info.video.display_size
    return "bt709" if max(w, h) >= 1280 or min(w, h) >= 720 else "bt601"


def _hdr_to_sdr(stream: Any) -> Any:
    # PQ/HLG (phones shoot HLG by default) tone-mapped to BT.709, or it plays washed out.
    return (
        stream.filter("zscale", t="linear", npl=100)
        .filter("format", "gbrpf32le")
        .filter("zscale", p="bt709")
        .filter("tonemap", tonemap="hable", desat=0)
        .filter("zscale", t="bt709", m="bt709", r="tv")
        .filter("format", "yuv420p")
    )


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def thread_budget(renditions: list[Rendition], cores: int) -> dict[str, int]:
    """Encoder threads per rung when several encoders share one process.

    They run side by side, so the process keeps every core busy without each
    x264 spreading itself over all of them (frame threads cost compression and
    synchronisation); each rung gets cores in proportion to its pixels, and at
    least two where there are two cores: a one-thread rung encodes its frames
    strictly in turn, and the shared decode and filter chain then waits on it
    while a core idles (on 2 cores, one thread for the small rungs took 34 s
    wall for the 30 s 1080p bench clip, two took 28 s, for the same CPU).
    A lone encoder keeps x264's own default.
    """
    if len(renditions) < 2:
        return {}
    total = sum(r.width * r.height for r in renditions)
    least = min(2, cores)
    return {r.name: max(least, math.ceil(cores * r.width * r.height / total - 1e-9)) for r in renditions}


def hls_options(directory: Path, config: PipelineConfig) -> dict[str, Any]:
    return {
        "f": "hls",
        "hls_time": f"{config.segment_seconds:g}",
        "hls_playlist_type": "vod",
        "hls_list_size": 0,
        "hls_segment_type": "fmp4",
        "hls_fmp4_init_filename": "init.mp4",
        "hls_segment_filename": str(directory / "seg_%04d.m4s"),
        "hls_flags": "independent_segments",
    }


def video_options(r: Rendition, fps: Fraction, config: PipelineConfig) -> dict[str, Any]:
    g = gop_frames(fps, config.gop_seconds)
    return {
        "c:v": "libx264",
        "preset": config.preset,
        "profile:v": "high",
        "crf": config.crf,
        "maxrate": f"{r.kbps}k",
        "bufsize": f"{r.bufsize_kbps}k",
        "g": g,
        "keyint_min": g,
        "sc_threshold": 0,
        # Same keyframe timestamps in every rendition: segments align for ABR switching.
        "force_key_frames": f"expr:gte(t,n_forced*{config.gop_seconds:g})",
        **SDR_TAGS,
        **NO_METADATA,
        **SAME_TIMELINE,
    }


def audio_options(config: PipelineConfig) -> dict[str, Any]:
    return {
        "c:a": "aac",
        "profile:a": "aac_low",
        "b:a": f"{config.audio_kbps}k",
        "ar": config.audio_rate,
        "ac": 2,
        **NO_METADATA,
        **SAME_TIMELINE,
    }


def build(
    tools_ffmpeg: str,
    source: Path,
    info: MediaInfo,
    *,
    renditions: list[Rendition],
    fps: Fraction,
    config: PipelineConfig,
    layout: Layout,
    extras: ExtrasPlan | None,
    loudness: Loudness | None,
) -> list[str]:
    """The full ffmpeg command line for one run (ladder + audio + side products when `extras`)."""
    src = ffmpeg.input(str(source))
    video = src[info.video.selector].filter("fps", fps=f"{fps.numerator}/{fps.denominator}")
    picture = source_picture(info)
    if info.video.is_hdr:
        video = _hdr_to_sdr(video)
        picture = replace(picture, matrix="bt709", full_range=False)
    # The extras branch off the full-rate picture; the rungs cascade (below).
    fan_out = video.filter_multi_output("split", 5) if extras is not None else None
    top = fan_out.stream(0) if fan_out is not None else video
    threads = thread_budget(renditions, cpu_count())
    current = picture
    outputs = []
    for i, r in enumerate(renditions):
        # Each rung is scaled from the one above it (half the pixels or fewer to read) rather than from
        # the source: something only a single process can do. Bicubic in steps of at most 1.5x costs
        # nothing measurable in quality (SSIM 0.998 against a direct downscale).
        scaled = _scale(top, current, (r.width, r.height))
        current = Picture((r.width, r.height), "bt709")
        if i < len(renditions) - 1:
            pair = scaled.filter_multi_output("split", 2)
            scaled, top = pair.stream(0), pair.stream(1)
        d = layout.rendition_dir(r.name)
        options = {**video_options(r, fps, config), **hls_options(d, config)}
        if r.name in threads:
            options["threads"] = threads[r.name]
        outputs.append(ffmpeg.output(scaled, str(d / "index.m3u8"), **options))
    if info.audio is not None:
        audio = src[info.audio.selector]
        for name, options in apply_filters(config, loudness, info.duration):
            audio = audio.filter(name, **options)
        d = layout.audio_dir
        outputs.append(ffmpeg.output(audio, str(d / "index.m3u8"), **audio_options(config), **hls_options(d, config)))
    if extras is not None and fan_out is not None:
        posters = fan_out.stream(1).filter(
            "fps",
            fps=f"{extras.poster_rate.numerator}/{extras.poster_rate.denominator}",
            start_time=extras.poster_start,
        )
        outputs.append(
            ffmpeg.output(
                _scale(posters, picture, extras.poster_size, "yuvj420p"),
                str(layout.scratch / "poster_%02d.jpg"),
                **{"c:v": "mjpeg", "q:v": 2, "f": "image2", **NO_METADATA},
            )
        )
        tiles = fan_out.stream(2).filter("fps", fps=f"{Fraction(1) / Fraction(str(extras.storyboard_interval))}")
        outputs.append(
            ffmpeg.output(
                _scale(tiles, picture, extras.storyboard_size, "yuvj420p"),
                str(layout.scratch / "tile_%04d.jpg"),
                **{"c:v": "mjpeg", "q:v": 4, "f": "image2", **NO_METADATA},
            )
        )
        clip = (
            fan_out.stream(3)
            .filter("trim", duration=f"{extras.preview_seconds:.3f}")
            .filter("setpts", "PTS-STARTPTS")
            .filter("fps", fps=config.preview_fps)
        )
        outputs.append(
            ffmpeg.output(
                _scale(clip, picture, extras.preview_size),
                str(layout.out / "preview.webp"),
                **{"c:v": "libwebp_anim", "quality": 60, "compression_level": 3, "loop": 0, **NO_METADATA},
            )
        )
        outputs.append(
            ffmpeg.output(fingerprint.sample(fan_out.stream(4)), str(layout.fingerprint), **fingerprint.RAW_OUTPUT)
        )
    cmd = ffmpeg.merge_outputs(*outputs).global_args(
        "-hide_banner", "-nostats", "-loglevel", "level+error", "-progress", "pipe:1", "-stats_period", "0.5"
    )
    return list(cmd.overwrite_output().compile(cmd=tools_ffmpeg))
