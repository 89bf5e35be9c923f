"""What the pipeline makes: the ladder, encoder settings, limits and the side products.

Plain values only, so the command line, the worker and the benchmark build the
same `PipelineConfig` (from `Settings` or by hand) without touching the web app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings

# Bumped whenever the outputs change shape; renditions live under `.../v<PIPELINE_VERSION>/`.
PIPELINE_VERSION = 1


@dataclass(frozen=True)
class Rung:
    """One ladder step, named by the short side of the picture (9:16 at 1080 is 1080x1920)."""

    short_side: int
    kbps: int

    @property
    def name(self) -> str:
        return f"{self.short_side}p"


DEFAULT_LADDER: tuple[Rung, ...] = (Rung(1080, 6000), Rung(720, 3000), Rung(540, 1600), Rung(360, 700))


def parse_ladder(text: str) -> tuple[Rung, ...]:
    """'1080:6000,720:3000' -> rungs, largest first."""
    rungs = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        side, _, kbps = item.partition(":")
        try:
            rung = Rung(int(side), int(kbps))
        except ValueError as exc:
            raise ValueError(f"ladder entries look like short_side:kbps, got {item!r}") from exc
        if rung.short_side < 16 or rung.short_side % 2 or rung.kbps <= 0:
            raise ValueError(f"invalid ladder rung {item!r}: even short side >= 16 and a positive bitrate")
        rungs.append(rung)
    if not rungs:
        raise ValueError("the ladder needs at least one rung")
    return tuple(sorted(set(rungs), key=lambda r: -r.short_side))


@dataclass(frozen=True)
class Limits:
    max_seconds: float = 600.0
    max_dimension: int = 4096
    max_fps: float = 60.0
    min_seconds: float = 0.1


@dataclass(frozen=True)
class PipelineConfig:
    ladder: tuple[Rung, ...] = DEFAULT_LADDER
    preset: str = "veryfast"
    crf: int = 21
    gop_seconds: float = 2.0
    segment_seconds: float = 4.0
    audio_kbps: int = 128
    audio_rate: int = 48000
    # EBU R128 targets (integrated loudness, true peak, loudness range).
    loudness_i: float = -14.0
    loudness_tp: float = -1.5
    loudness_lra: float = 11.0
    limits: Limits = field(default_factory=Limits)
    # The progressive MP4 is a remux of the rung closest to this short side (no extra encode).
    mp4_short_side: int = 720
    poster_short_side: int = 720
    poster_candidates: int = 8
    storyboard_short_side: int = 90
    storyboard_max_tiles: int = 100
    storyboard_columns: int = 10
    preview_seconds: float = 3.0
    preview_fps: int = 10
    preview_short_side: int = 180
    timeout_base_seconds: float = 300.0
    timeout_per_second: float = 8.0
    # Without progress output for this long, ffmpeg is considered hung and killed.
    stall_seconds: float = 180.0

    def timeout_for(self, duration: float) -> float:
        return self.timeout_base_seconds + self.timeout_per_second * duration

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineConfig:
        return cls(
            ladder=parse_ladder(settings.media_ladder),
            preset=settings.media_x264_preset,
            crf=settings.media_crf,
            limits=Limits(
                max_seconds=settings.video_max_seconds,
                max_dimension=settings.video_max_dimension,
                max_fps=settings.video_max_fps,
            ),
            timeout_base_seconds=settings.media_timeout_base_seconds,
            timeout_per_second=settings.media_timeout_per_second,
            stall_seconds=float(settings.media_stall_seconds),
        )
