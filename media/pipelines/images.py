"""Poster choice and the storyboard sprite, from frames the transcode wrote beside the ladder.

The poster is the best of several candidate frames spread over the clip: dark,
washed-out, flat or blurred frames score low (fade-ins, motion blur, a hand over
the lens). The storyboard sprite is assembled here so its WebVTT index lists
exactly the tiles that exist, each at the video's own aspect ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFilter, ImageStat

# Analysis runs on a small copy: enough for brightness, contrast and edges.
SCORE_SIZE = 160


@dataclass(frozen=True)
class FrameScore:
    path: Path
    brightness: float
    contrast: float
    sharpness: float

    @property
    def score(self) -> float:
        s = self.sharpness * min(self.contrast, 48.0) / 48.0
        if self.brightness < 24 or self.brightness > 232:  # black or blown-out frames
            s *= 0.05
        if self.contrast < 8:  # flat: a title card colour, a covered lens
            s *= 0.1
        return s


def score_frame(path: Path) -> FrameScore:
    with Image.open(path) as img:
        gray = img.convert("L")
        gray.thumbnail((SCORE_SIZE, SCORE_SIZE))
        stat = ImageStat.Stat(gray)
        edges = ImageStat.Stat(gray.filter(ImageFilter.FIND_EDGES))
        return FrameScore(path, brightness=stat.mean[0], contrast=stat.stddev[0], sharpness=edges.var[0])


def choose_poster(candidates: list[Path]) -> tuple[int, FrameScore]:
    """Index and score of the best candidate; ties go to the earlier frame."""
    if not candidates:
        raise ValueError("no poster candidates were written")
    scores = [score_frame(p) for p in candidates]
    best = max(range(len(scores)), key=lambda i: (scores[i].score, -i))
    return best, scores[best]


def save_jpeg(src: Path, dest: Path, quality: int = 85) -> tuple[int, int]:
    """Re-encode without any metadata (no EXIF, no comments)."""
    with Image.open(src) as img:
        clean = img.convert("RGB")
        clean.save(dest, "JPEG", quality=quality, optimize=True, progressive=True)
        return clean.size


@dataclass(frozen=True)
class Storyboard:
    image: str
    vtt: str
    tile_width: int
    tile_height: int
    columns: int
    rows: int
    count: int
    interval: float


def _timestamp(seconds: float) -> str:
    ms = round(seconds * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def build_storyboard(
    tiles: list[Path],
    out_dir: Path,
    *,
    interval: float,
    duration: float,
    columns: int,
    image_name: str = "storyboard.jpg",
    vtt_name: str = "storyboard.vtt",
) -> Storyboard:
    """One sprite (row-major tiles) and a WebVTT file mapping time ranges to `sprite#xywh=...`."""
    if not tiles:
        raise ValueError("no storyboard tiles were written")
    with Image.open(tiles[0]) as first:
        tw, th = first.size
    cols = min(columns, len(tiles))
    rows = -(-len(tiles) // cols)
    sprite = Image.new("RGB", (cols * tw, rows * th))
    for i, path in enumerate(tiles):
        with Image.open(path) as tile:
            sprite.paste(tile.convert("RGB").resize((tw, th)), ((i % cols) * tw, (i // cols) * th))
    sprite.save(out_dir / image_name, "JPEG", quality=70, optimize=True)
    cues = ["WEBVTT", ""]
    for i in range(len(tiles)):
        start = i * interval
        end = duration if i == len(tiles) - 1 else min((i + 1) * interval, duration)
        if start >= duration:
            break
        x, y = (i % cols) * tw, (i // cols) * th
        cues += [f"{_timestamp(start)} --> {_timestamp(end)}", f"{image_name}#xywh={x},{y},{tw},{th}", ""]
    (out_dir / vtt_name).write_text("\n".join(cues))
    return Storyboard(image_name, vtt_name, tw, th, cols, rows, len(tiles), interval)
