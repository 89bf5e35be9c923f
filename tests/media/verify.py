"""Check a finished ladder the way a player would, with ffprobe: sizes, keyframes, durations, moov first."""

from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any

from media.pipelines import hls
from media.pipelines.tools import find_tools

DURATION_TOLERANCE = 0.1


def ffprobe(path: Path, *args: str) -> dict[str, Any]:
    cmd = [find_tools().ffprobe, "-v", "error", "-of", "json", *args, str(path)]
    out = subprocess.run(cmd, check=True, capture_output=True, timeout=120).stdout
    return dict(json.loads(out))


def streams(path: Path) -> dict[str, Any]:
    return ffprobe(path, "-show_streams", "-show_format")


def keyframe_times(path: Path) -> list[float]:
    data = ffprobe(path, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags")
    return [round(float(p["pts_time"]), 3) for p in data["packets"] if "K" in p.get("flags", "")]


def master_variants(master: Path) -> tuple[list[dict[str, str]], list[str]]:
    """(attributes of each #EXT-X-STREAM-INF, #EXT-X-MEDIA lines)."""
    variants, media = [], []
    for line in master.read_text().splitlines():
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            variants.append({k: v.strip('"') for k, v in attrs.items()})
        elif line.startswith("#EXT-X-MEDIA:"):
            media.append(line)
    return variants, media


def no_private_metadata(data: dict[str, Any]) -> None:
    tags = [data.get("format", {}).get("tags", {})] + [s.get("tags", {}) for s in data.get("streams", [])]
    for t in tags:
        for key, value in t.items():
            assert "location" not in key.lower(), f"metadata leaked: {key}={value}"
            assert "+31.2304" not in str(value), f"metadata leaked: {key}={value}"


def check_ladder(
    out: Path,
    manifest: dict[str, Any],
    *,
    source_duration: float,
    expect_audio: bool,
    expect_sizes: list[tuple[int, int]] | None = None,
    gop_seconds: float = 2.0,
    segment_seconds: float = 4.0,
) -> None:
    variants, media = master_variants(out / "master.m3u8")
    assert len(variants) == len(manifest["renditions"]) >= 1
    for v in variants:
        assert {"BANDWIDTH", "AVERAGE-BANDWIDTH", "RESOLUTION", "CODECS", "FRAME-RATE"} <= set(v), v
        assert int(v["BANDWIDTH"]) >= int(v["AVERAGE-BANDWIDTH"]) > 0
        assert v["CODECS"].startswith("avc1.")
        assert ("mp4a.40.2" in v["CODECS"]) is expect_audio
        assert float(v["FRAME-RATE"]) <= 60.0
    assert bool(media) is expect_audio

    sizes = []
    keyframes = []
    for r in manifest["renditions"]:
        d = out / r["name"]
        playlist = hls.read_playlist(d / "index.m3u8")
        whole = d.parent.parent / f"check-{r['name']}.mp4"
        hls.concat_fragments(d, playlist, whole)
        data = streams(whole)
        no_private_metadata(data)
        (v,) = [s for s in data["streams"] if s["codec_type"] == "video"]
        assert (v["codec_name"], v["pix_fmt"]) == ("h264", "yuv420p"), v
        assert (v["width"], v["height"]) == (r["width"], r["height"])
        assert v["width"] % 2 == 0
        assert v["height"] % 2 == 0
        assert v.get("sample_aspect_ratio", "1:1") in ("1:1", "0:1", "N/A")
        assert v["avg_frame_rate"] == v["r_frame_rate"], v  # constant frame rate
        assert not any("rotation" in sd for sd in v.get("side_data_list", [])), "rotation must be applied, not tagged"
        assert abs(playlist.duration - source_duration) <= DURATION_TOLERANCE, (r["name"], playlist.duration)
        assert abs(float(data["format"]["duration"]) - source_duration) <= DURATION_TOLERANCE
        # Segments are ~4 s: every one but the last is within a frame of a whole number of GOPs up to 4 s.
        for _, seg in playlist.segments[:-1]:
            assert segment_seconds - 0.1 <= seg <= segment_seconds + 0.1, playlist.segments
        k = keyframe_times(whole)
        assert k[0] == 0.0
        assert len(k) == math.ceil(source_duration / gop_seconds - 0.01), k
        assert all(abs((b - a) - gop_seconds) < 0.05 for a, b in itertools.pairwise(k)), k
        keyframes.append(k)
        sizes.append((v["width"], v["height"]))
        whole.unlink()
    assert all(k == keyframes[0] for k in keyframes), f"keyframes differ across renditions: {keyframes}"
    if expect_sizes is not None:
        assert sizes == expect_sizes

    mp4 = out / manifest["mp4"]["path"]
    boxes = hls.top_level_boxes(mp4)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    data = streams(mp4)
    no_private_metadata(data)
    assert abs(float(data["format"]["duration"]) - source_duration) <= DURATION_TOLERANCE
    audio = [s for s in data["streams"] if s["codec_type"] == "audio"]
    # Picture and sound start together (no per-output timestamp shift between the renditions).
    assert all(abs(float(s.get("start_time", 0))) < 0.01 for s in data["streams"]), data["streams"]
    if expect_audio:
        assert manifest["audio"] is not None
        (a,) = audio
        assert (a["codec_name"], a["profile"], int(a["sample_rate"]), a["channels"]) == ("aac", "LC", 48000, 2)
        audio_playlist = hls.read_playlist(out / "audio" / "index.m3u8")
        assert abs(audio_playlist.duration - source_duration) <= DURATION_TOLERANCE
    else:
        assert manifest["audio"] is None
        assert audio == []
        assert not (out / "audio").exists()

    for key in ("poster", "preview"):
        assert (out / manifest[key]["path"]).stat().st_size > 0
    sb = manifest["storyboard"]
    assert (out / sb["image"]).is_file()
    vtt = (out / sb["vtt"]).read_text()
    assert vtt.startswith("WEBVTT")
    assert vtt.count("#xywh=") == sb["count"] >= 1
    assert set(manifest["files"]) == {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
