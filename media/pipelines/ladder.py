"""Which renditions a source gets, at what size, rate and frame rate.

Rungs are named by their short side, so portrait, landscape and square sources
share one ladder; a rung is used only when the source's short side reaches it
(never upscale), and a source smaller than every rung gets one rendition at its
own size. Sizes keep the source's display aspect ratio with even dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from media.pipelines.config import Rung

STANDARD_RATES = tuple(
    Fraction(r) for r in (Fraction(24000, 1001), 24, 25, Fraction(30000, 1001), 30, 48, 50, Fraction(60000, 1001), 60)
)
MIN_SIDE = 16


@dataclass(frozen=True)
class Rendition:
    name: str
    width: int
    height: int
    kbps: int  # the cap (maxrate); the buffer is twice that

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    @property
    def bufsize_kbps(self) -> int:
        return 2 * self.kbps


def even(value: float) -> int:
    return max(2, round(value / 2.0) * 2)


def even_floor(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def fit(short: int, display_w: int, display_h: int) -> tuple[int, int]:
    """(width, height) with the given short side and the display's aspect, never larger than the display."""
    long_side = max(display_w, display_h)
    other = min(even(short * long_side / min(display_w, display_h)), even_floor(long_side))
    return (short, other) if display_w <= display_h else (other, short)


def plan(display_w: int, display_h: int, ladder: tuple[Rung, ...]) -> list[Rendition]:
    """Renditions for a source of this display size, largest first."""
    short = min(display_w, display_h)
    out = []
    for rung in sorted(ladder, key=lambda r: -r.short_side):
        if rung.short_side <= short:
            w, h = fit(rung.short_side, display_w, display_h)
            out.append(Rendition(rung.name, w, h, rung.kbps))
    if not out:
        smallest = min(ladder, key=lambda r: r.short_side)
        side = max(MIN_SIDE, even_floor(short))
        w, h = fit(side, display_w, display_h)
        # Fewer pixels need fewer bits: scale the smallest rung's cap by area, with a floor.
        kbps = max(100, round(smallest.kbps * (side / smallest.short_side) ** 2))
        out.append(Rendition(f"{side}p", w, h, kbps))
    return out


def output_frame_rate(
    source_fps: Fraction, nominal_fps: Fraction | None, max_fps: float, typical_fps: Fraction | None = None
) -> Fraction:
    """Constant output rate: the source's frame rate class, capped.

    The class is the standard rate the frames were shot at: the one within 2 %
    of the typical gap between frames (a variable-frame-rate phone clip that
    dropped frames averages 24 but was shot at 30, and plays at 30), else the
    one within 2 % of the average, never above the container's base rate.
    """
    cap = Fraction(max_fps).limit_denominator(1001)
    shot = _standard_near(typical_fps, ceiling=cap) if typical_fps is not None else None
    if shot is not None and (nominal_fps is None or shot <= nominal_fps * Fraction(102, 100)):
        return nominal_fps if nominal_fps is not None and _same_class(nominal_fps, shot) else shot
    fps = min(source_fps, cap)
    ceiling = min(max(source_fps, nominal_fps or source_fps), cap)
    near = [std for std in STANDARD_RATES if _same_class(std, fps) and std <= ceiling]
    if nominal_fps in near:  # the camera's own rate (30, not 29.97, for a phone's 29.6 average)
        return nominal_fps
    if near:
        return min(near, key=lambda std: abs(std - fps))
    return max(Fraction(1), fps.limit_denominator(1001))


def _same_class(std: Fraction, fps: Fraction) -> bool:
    return abs(std - fps) / std <= Fraction(2, 100)


def _standard_near(fps: Fraction, *, ceiling: Fraction) -> Fraction | None:
    near = [std for std in STANDARD_RATES if _same_class(std, fps) and std <= ceiling]
    return min(near, key=lambda std: abs(std - fps)) if near else None


def gop_frames(fps: Fraction, gop_seconds: float) -> int:
    return max(1, round(float(fps) * gop_seconds))
