"""Probe and validate an uploaded file before any heavy work.

`probe()` reads the container and streams with ffprobe (never trusting the file
name or the declared content type); `validate()` turns what users get wrong into
a `MediaRejected` with a stable code; `analyse()` is one cheap ffmpeg pass that
measures loudness (the first of the two EBU R128 passes) and reads the video to
its very end, so truncated files are caught before the transcode starts.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import statistics
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from media.pipelines.config import Limits, PipelineConfig
from media.pipelines.loudness import Loudness, measure_graph, parse_measurement
from media.pipelines.runner import FFmpegError, FFmpegTimeout, run_ffmpeg, run_tool
from media.pipelines.tools import Tools
from media.rejections import MediaRejected

PROBE_TIMEOUT = 60.0
# Packets read to tell constant from variable frame rate (demux only, no decoding).
VFR_SAMPLE_PACKETS = 300
IMAGE_FORMATS = ("image2", "apng", "gif_pipe")
# ISO base media (MP4/MOV) files start with one of these boxes.
ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")


@dataclass(frozen=True)
class VideoStream:
    index: int
    selector: str  # "v:N" among the container's video streams, as ffmpeg's -map wants it
    codec: str
    profile: str | None
    pix_fmt: str | None
    bit_depth: int
    width: int  # stored (coded) picture size
    height: int
    sar: Fraction
    rotation: int  # clockwise degrees the picture must be turned for display: 0, 90, 180, 270
    fps: Fraction  # average frame rate
    nominal_fps: Fraction | None  # r_frame_rate: the container's base rate
    variable_frame_rate: bool
    color_space: str | None
    color_transfer: str | None
    color_primaries: str | None
    color_range: str | None
    # 1 / the median gap between frames: the rate the camera shot at, even where a VFR clip dropped frames.
    typical_fps: Fraction | None = None

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown: square pixels, rotation applied."""
        w = round(self.width * self.sar) if self.sar != 1 else self.width
        h = self.height
        return (h, w) if self.rotation in (90, 270) else (w, h)

    @property
    def is_hdr(self) -> bool:
        return self.color_transfer in ("smpte2084", "arib-std-b67")


@dataclass(frozen=True)
class AudioStream:
    index: int
    selector: str
    codec: str
    channels: int
    layout: str | None
    sample_rate: int


@dataclass(frozen=True)
class MediaInfo:
    size: int
    format_name: str
    duration: float
    bit_rate: int | None
    video: VideoStream
    audio: AudioStream | None
    loudness: Loudness | None = field(default=None)

    def summary(self) -> dict[str, Any]:
        """What the manifest records about the source."""
        v = self.video
        dw, dh = v.display_size
        return {
            "container": self.format_name,
            "size": self.size,
            "duration": round(self.duration, 3),
            "bit_rate": self.bit_rate,
            "video": {
                "codec": v.codec,
                "profile": v.profile,
                "pix_fmt": v.pix_fmt,
                "bit_depth": v.bit_depth,
                "width": v.width,
                "height": v.height,
                "display_width": dw,
                "display_height": dh,
                "sample_aspect_ratio": f"{v.sar.numerator}:{v.sar.denominator}",
                "rotation": v.rotation,
                "frame_rate": round(float(v.fps), 3),
                "variable_frame_rate": v.variable_frame_rate,
                "color_transfer": v.color_transfer,
                "hdr": v.is_hdr,
            },
            "audio": None
            if self.audio is None
            else {
                "codec": self.audio.codec,
                "channels": self.audio.channels,
                "layout": self.audio.layout,
                "sample_rate": self.audio.sample_rate,
            },
            "loudness": None
            if self.loudness is None
            else {k: (v if math.isfinite(v) else None) for k, v in asdict(self.loudness).items()},
        }


def _fraction(text: str | None) -> Fraction | None:
    if not text:
        return None
    try:
        value = Fraction(text.replace(":", "/"))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _float(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _rotation(stream: dict[str, Any]) -> int:
    degrees: float | None = None
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            # ffprobe reports the display matrix's counter-clockwise angle; keep clockwise degrees.
            degrees = (-float(side["rotation"])) % 360
    if degrees is None:
        rotate = (stream.get("tags") or {}).get("rotate")
        degrees = float(rotate) % 360 if rotate is not None and _float(rotate) is not None else 0.0
    return round(degrees / 90.0) % 4 * 90


def _bit_depth(stream: dict[str, Any]) -> int:
    raw = stream.get("bits_per_raw_sample")
    if raw and str(raw).isdigit():
        return int(raw)
    m = re.search(r"p(9|10|12|14|16)(le|be)?$", stream.get("pix_fmt") or "")
    return int(m.group(1)) if m else 8


def _typical_fps(packet_times: list[float]) -> Fraction | None:
    deltas = [b - a for a, b in itertools.pairwise(sorted(packet_times)) if b > a]
    if len(deltas) < 4:
        return None
    return Fraction(1 / statistics.median(deltas)).limit_denominator(1001)


def _is_variable(packet_times: list[float]) -> bool:
    times = sorted(packet_times)
    deltas = [b - a for a, b in itertools.pairwise(times) if b > a]
    if len(deltas) < 4:
        return False
    typical = statistics.median(deltas)
    # Timestamps are rounded to the container's time base; allow for that jitter.
    return any(abs(d - typical) > max(0.25 * typical, 0.002) for d in deltas)


def _looks_like_iso_media(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(12)
    return len(head) >= 8 and head[4:8] in ISO_BOXES


def _reject_unreadable(path: Path, stderr: str) -> MediaRejected:
    if "moov atom not found" in stderr and _looks_like_iso_media(path):
        return MediaRejected("truncated", "the MP4/MOV file is incomplete: its index (moov box) is missing")
    return MediaRejected("not_media", "the file is not a video container ffmpeg can read")


def probe(tools: Tools, path: Path) -> MediaInfo:
    """Read containers and streams; raises MediaRejected for files that are not usable video."""
    size = path.stat().st_size
    if size == 0:
        raise MediaRejected("empty", "the file is empty (0 bytes)")
    result = run_tool(
        [
            tools.ffprobe, "-v", "error", "-hide_banner", "-of", "json",
            "-show_format", "-show_streams",
            "-show_entries", "packet=stream_index,pts_time",
            "-read_intervals", f"%+#{VFR_SAMPLE_PACKETS}",
            str(path),
        ],
        timeout=PROBE_TIMEOUT,
    )  # fmt: skip
    stderr = result.stderr.decode("utf-8", "replace")
    try:
        data = json.loads(result.stdout or b"{}")
    except json.JSONDecodeError:
        data = {}
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    if result.returncode != 0 or not fmt or not streams:
        raise _reject_unreadable(path, stderr)
    format_name = str(fmt.get("format_name", ""))

    all_video = [s for s in streams if s.get("codec_type") == "video"]
    # Cover art in audio files shows up as a one-picture "video" stream.
    videos = [s for s in all_video if not (s.get("disposition") or {}).get("attached_pic")]
    audios = [s for s in streams if s.get("codec_type") == "audio" and int(s.get("channels") or 0) > 0]
    if format_name.endswith("_pipe") or format_name in IMAGE_FORMATS:
        raise MediaRejected("still_image", f"this is a still image ({format_name.removesuffix('_pipe')}), not a video")
    if not videos:
        if audios:
            raise MediaRejected("no_video_stream", "the file has audio but no video stream")
        raise MediaRejected("not_media", "the file has no video stream")
    vs = videos[0]
    a = audios[0] if audios else None
    default_audio = [s for s in audios if (s.get("disposition") or {}).get("default")]
    if default_audio:
        a = default_audio[0]

    avg = _fraction(vs.get("avg_frame_rate"))
    nominal = _fraction(vs.get("r_frame_rate"))
    packet_times = [
        t
        for p in data.get("packets") or []
        if p.get("stream_index") == vs.get("index") and (t := _float(p.get("pts_time"))) is not None
    ]
    if len(packet_times) == 1:
        # One picture with a long container (a subtitle or audio track sets its duration): a still, not a video.
        raise MediaRejected("too_short", "the video has a single frame; it needs at least a few frames")
    fps = avg if avg is not None and avg <= 1000 else nominal
    if fps is None and len(packet_times) > 1:
        span = max(packet_times) - min(packet_times)
        fps = Fraction(len(packet_times) - 1) / Fraction(span) if span > 0 else None
    duration = _float(vs.get("duration")) or _float(fmt.get("duration"))
    if fps is None or not duration:
        raise MediaRejected("undecodable", "the video stream has no usable timing (duration or frame rate)")

    video = VideoStream(
        index=int(vs["index"]),
        selector=f"v:{all_video.index(vs)}",
        codec=str(vs.get("codec_name", "unknown")),
        profile=vs.get("profile"),
        pix_fmt=vs.get("pix_fmt"),
        bit_depth=_bit_depth(vs),
        width=int(vs.get("width") or 0),
        height=int(vs.get("height") or 0),
        sar=_fraction(vs.get("sample_aspect_ratio")) or Fraction(1),
        rotation=_rotation(vs),
        fps=Fraction(fps).limit_denominator(1001),
        nominal_fps=nominal,
        typical_fps=_typical_fps(packet_times),
        variable_frame_rate=_is_variable(packet_times) or (nominal is not None and avg is not None and
                                                            abs(nominal - avg) / avg > Fraction(1, 100)),
        color_space=vs.get("color_space"),
        color_transfer=vs.get("color_transfer"),
        color_primaries=vs.get("color_primaries"),
        color_range=vs.get("color_range"),
    )  # fmt: skip
    audio = None
    if a is not None:
        audio = AudioStream(
            index=int(a["index"]),
            selector=f"a:{[s for s in streams if s.get('codec_type') == 'audio'].index(a)}",
            codec=str(a.get("codec_name", "unknown")),
            channels=int(a.get("channels") or 0),
            layout=a.get("channel_layout"),
            sample_rate=int(a.get("sample_rate") or 0),
        )
    return MediaInfo(
        size=size,
        format_name=format_name,
        duration=float(duration),
        bit_rate=int(fmt["bit_rate"]) if str(fmt.get("bit_rate", "")).isdigit() else None,
        video=video,
        audio=audio,
    )


def validate(info: MediaInfo, limits: Limits) -> None:
    v = info.video
    if v.width < 16 or v.height < 16:
        raise MediaRejected("dimensions_too_small", f"the picture is {v.width}x{v.height}; at least 16x16 is needed")
    dw, dh = v.display_size
    if max(v.width, v.height, dw, dh) > limits.max_dimension:
        raise MediaRejected(
            "dimensions_too_large",
            f"the picture is {dw}x{dh}; the limit is {limits.max_dimension} px on either side",
        )
    if float(v.fps) > limits.max_fps * 1.001:
        raise MediaRejected(
            "frame_rate_too_high", f"the frame rate is {float(v.fps):.2f} fps; the limit is {limits.max_fps:g} fps"
        )
    if info.duration > limits.max_seconds:
        raise MediaRejected(
            "too_long", f"the video is {info.duration:.1f} s long; the limit is {limits.max_seconds:g} s"
        )
    if info.duration < limits.min_seconds:
        raise MediaRejected("too_short", f"the video is {info.duration:.3f} s long; it needs at least a few frames")


_ERROR_LINE = re.compile(r"\[(error|fatal)\]")
TAIL_SECONDS = 1.0


def analyse(tools: Tools, path: Path, info: MediaInfo, config: PipelineConfig) -> MediaInfo:
    """Measure loudness and decode the end of the video in one pass; returns `info` with the loudness."""
    tail_start = max(0.0, info.duration - TAIL_SECONDS)
    args = [tools.ffmpeg, "-hide_banner", "-nostats", "-loglevel", "level+info", "-progress", "pipe:1"]
    # The tail is demuxed to the very end (a cut-off file fails there) but only its keyframes are
    # decoded, and from the keyframe before the seek point: cheap even with long phone GOPs.
    args += ["-skip_frame", "nokey", "-noaccurate_seek", "-ss", f"{tail_start:.3f}", "-i", str(path)]
    if info.audio is not None:
        args += ["-i", str(path)]
    # The decoded tail comes first so `frame=` in the progress output counts its frames.
    args += ["-map", f"0:{info.video.selector}", "-an", "-sn", "-dn", "-f", "null", "-"]
    if info.audio is not None:
        graph, loudness_out = measure_graph(f"1:{info.audio.selector}", config)
        args += ["-filter_complex", graph, "-map", f"[{loudness_out}]", "-f", "null", "-"]
    try:
        stderr, last = run_ffmpeg(args, timeout=config.timeout_for(info.duration), stall_timeout=config.stall_seconds)
    except FFmpegTimeout:
        raise
    except FFmpegError as exc:
        if exc.killed_by_signal:  # killed from outside (OOM, shutdown): not the file's fault
            raise
        raise MediaRejected("undecodable", _first_error(exc.stderr) or "ffmpeg could not decode the file") from exc
    errors = [line for line in stderr.splitlines() if _ERROR_LINE.search(line)]
    if any("partial file" in e for e in errors) or last is None or last.frame == 0:
        raise MediaRejected("truncated", "the file ends early: its last part is missing or cannot be decoded")
    loudness = parse_measurement(stderr, config) if info.audio is not None else None
    return MediaInfo(**{**info.__dict__, "loudness": loudness})


def _first_error(stderr: str) -> str | None:
    for line in stderr.splitlines():
        if _ERROR_LINE.search(line):
            return _ERROR_LINE.sub("", line).strip()[:300]
    return None
