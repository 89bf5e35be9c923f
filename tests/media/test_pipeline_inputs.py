"""Every kind of input either becomes a playable, correct ladder or is rejected with its own reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from media.pipelines.tools import Tools
from media.pipelines.transcode import transcode
from media.probe import probe
from media.rejections import MediaRejected
from tests.media.conftest import SMALL
from tests.media.verify import check_ladder, streams

PORTRAIT = [(540, 960), (360, 640)]
P360 = [(360, 640)]

ACCEPTED: dict[str, tuple[list[tuple[int, int]], bool]] = {
    "portrait": (PORTRAIT, True),
    "landscape": ([(960, 540), (640, 360)], True),
    "square": ([(360, 360)], True),
    "rotated": (P360, True),  # stored 640x360 + display matrix: shown upright
    "variable_frame_rate": (P360, True),
    "odd_dimensions": (P360, True),  # 361x641 -> even, never larger than the source
    "anamorphic": (P360, True),  # 270x640 with 4:3 pixels -> square pixels 360x640
    "hevc_10bit": (P360, True),
    "hdr_hlg": (P360, True),
    "full_range": (P360, True),
    "vp9_webm": (P360, True),
    "no_audio": (P360, False),
    "surround": (P360, True),
    "short_clip": (P360, True),
}

REJECTED = {
    "over_long": "too_long",
    "single_frame": "too_short",
    "oversize": "dimensions_too_large",
    "high_frame_rate": "frame_rate_too_high",
    "truncated": "truncated",
    "truncated_faststart": "truncated",
    "empty": "empty",
    "image_renamed": "still_image",
    "text_renamed": "not_media",
    "audio_only": "no_video_stream",
}


def _video_duration(path: Path) -> float:
    data = streams(path)
    (v,) = [s for s in data["streams"] if s["codec_type"] == "video"]
    return float(v.get("duration") or data["format"]["duration"])


@pytest.mark.parametrize("kind", sorted(ACCEPTED))
def test_accepted_inputs_become_a_correct_ladder(
    kind: str, clip: Callable[[str], Path], tools: Tools, tmp_path: Path
) -> None:
    source = clip(kind)
    sizes, audio = ACCEPTED[kind]
    result = transcode(tools, source, tmp_path / "work", SMALL)
    check_ladder(
        result.out_dir,
        result.manifest,
        source_duration=_video_duration(source),
        expect_audio=audio,
        expect_sizes=sizes,
    )
    facts = result.manifest["source"]
    if kind == "portrait":  # the phone's GPS tag was there, and check_ladder saw none of it in the outputs
        assert streams(source)["format"]["tags"]["location"].startswith("+31.2304")
    if kind == "rotated":
        assert facts["video"]["rotation"] in (90, 270)
        assert (facts["video"]["width"], facts["video"]["height"]) == (
            640,
            360,
        )
    if kind == "variable_frame_rate":
        assert facts["video"]["variable_frame_rate"] is True
        # Constant, in the rate class it was shot in (30: the gap between its frames), not its 24 fps average.
        assert result.manifest["frame_rate"] == 30.0
        (mp4_video,) = [s for s in streams(result.out_dir / "video.mp4")["streams"] if s["codec_type"] == "video"]
        assert mp4_video["avg_frame_rate"] == "30/1"
    if kind == "anamorphic":
        assert facts["video"]["sample_aspect_ratio"] == "4:3"
    if kind in ("hevc_10bit", "hdr_hlg"):
        assert facts["video"]["bit_depth"] == 10
        assert facts["video"]["codec"] == "hevc"
        assert facts["video"]["hdr"] is (kind == "hdr_hlg")
    if kind == "surround":
        assert facts["audio"]["channels"] == 6
    if kind == "short_clip":
        assert result.manifest["duration"] == pytest.approx(0.4, abs=0.05)
    if kind == "vp9_webm":
        assert facts["video"]["codec"] == "vp9"
        assert facts["audio"]["codec"] == "opus"


def test_hdr_is_tone_mapped_to_bt709(clip: Callable[[str], Path], tools: Tools, tmp_path: Path) -> None:
    result = transcode(tools, clip("hdr_hlg"), tmp_path / "work", SMALL)
    mp4 = streams(result.out_dir / "video.mp4")
    (v,) = [s for s in mp4["streams"] if s["codec_type"] == "video"]
    assert (v["color_transfer"], v["color_primaries"], v["color_space"]) == ("bt709", "bt709", "bt709")


def _luma_range(tools: Tools, path: Path) -> tuple[float, float]:
    import re
    import subprocess

    args = [tools.ffmpeg, "-hide_banner", "-nostats", "-i", str(path), "-vf", "signalstats,metadata=print"]
    result = subprocess.run([*args, "-f", "null", "-"], capture_output=True, text=True, timeout=120, check=True)
    lows = [float(v) for v in re.findall(r"signalstats.YMIN=([\d.]+)", result.stderr)]
    highs = [float(v) for v in re.findall(r"signalstats.YMAX=([\d.]+)", result.stderr)]
    return min(lows), max(highs)


def test_full_range_sources_become_limited_range(clip: Callable[[str], Path], tools: Tools, tmp_path: Path) -> None:
    source = clip("full_range")
    assert _luma_range(tools, source) == (0.0, 255.0)  # the source really uses 0-255
    result = transcode(tools, source, tmp_path / "work", SMALL)
    low, high = _luma_range(tools, result.out_dir / "video.mp4")
    assert low >= 8  # 16-235, give or take ringing at the bars' edges; unconverted it would be 0-255
    assert high <= 245
    (v,) = [s for s in streams(result.out_dir / "video.mp4")["streams"] if s["codec_type"] == "video"]
    assert v["color_range"] == "tv"


@pytest.mark.parametrize("kind", sorted(REJECTED))
def test_bad_inputs_are_rejected_with_their_reason(
    kind: str, clip: Callable[[str], Path], tools: Tools, tmp_path: Path
) -> None:
    source = clip(kind)
    before = source.read_bytes()
    with pytest.raises(MediaRejected) as info:
        transcode(tools, source, tmp_path / "work", SMALL)
    assert info.value.code == REJECTED[kind], info.value.detail
    assert info.value.detail  # a specific sentence, not just a code
    assert source.read_bytes() == before  # the original is never touched


def test_poster_skips_black_and_blurred_frames(clip: Callable[[str], Path], tools: Tools, tmp_path: Path) -> None:
    """One black second, one blurred second, one sharp second: the poster comes from the sharp one."""
    result = transcode(tools, clip("poster_trap"), tmp_path / "work", SMALL)
    assert result.manifest["poster"]["time"] >= 2.0
    from PIL import Image, ImageStat

    with Image.open(result.out_dir / "poster.jpg") as img:
        assert img.size == (360, 640)
        assert not img.info.get("exif")
        assert ImageStat.Stat(img.convert("L")).mean[0] > 40  # not black


def test_storyboard_tiles_keep_the_aspect_ratio(clip: Callable[[str], Path], tools: Tools, tmp_path: Path) -> None:
    from PIL import Image

    for kind, tile in (("portrait", (90, 160)), ("landscape", (160, 90))):
        result = transcode(tools, clip(kind), tmp_path / kind, SMALL)
        sb = result.manifest["storyboard"]
        assert (sb["tile_width"], sb["tile_height"]) == tile
        with Image.open(result.out_dir / sb["image"]) as img:
            assert img.size == (sb["columns"] * tile[0], sb["rows"] * tile[1])
        cues = [line for line in (result.out_dir / sb["vtt"]).read_text().splitlines() if "-->" in line]
        assert cues[0].startswith("00:00:00.000")
        assert cues[-1].endswith(("00:00:05.000", "00:00:04.500"))
        with Image.open(result.out_dir / "preview.webp") as preview:
            assert preview.is_animated
            assert preview.n_frames >= 10
            assert preview.size == ((180, 320) if kind == "portrait" else (320, 180))


def test_one_ffmpeg_process_decodes_the_source_once_for_everything(
    clip: Callable[[str], Path], tools: Tools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from media.pipelines import transcode as module

    runs: list[list[str]] = []
    real = module.run_ffmpeg

    def spy(args: list[str], **kw: object) -> object:
        runs.append(list(args))
        return real(args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "run_ffmpeg", spy)
    result = module.transcode(tools, clip("portrait"), tmp_path / "work", SMALL)
    (args,) = runs  # the analysis pass runs before (probe.analyse); the transcode is this one process
    inputs = [args[i + 1] for i, a in enumerate(args) if a == "-i"]
    assert inputs == [str(clip("portrait"))]  # decoded once
    ends = [i for i, a in enumerate(args) if a.endswith(("index.m3u8", ".jpg", ".webp"))]
    assert len(ends) == 2 + 1 + 3  # two rungs, the audio, poster candidates, storyboard tiles, preview
    # Capped CRF with a buffer of twice the cap, a fixed 2 s GOP and no scene-cut keyframes, on every rung.
    for rung, cap in (("540p", 1600), ("360p", 700)):
        i = args.index(str(result.out_dir / rung / "index.m3u8"))
        opts = args[max([e for e in ends if e < i], default=args.index("-filter_complex") + 1) + 1 : i]
        assert opts[0] == "-map"  # exactly this output's options
        assert opts[opts.index("-maxrate") + 1] == f"{cap}k"
        assert opts[opts.index("-bufsize") + 1] == f"{2 * cap}k"
        assert opts[opts.index("-crf") + 1] == "21"
        assert opts[opts.index("-g") + 1] == opts[opts.index("-keyint_min") + 1] == "60"
        assert opts[opts.index("-sc_threshold") + 1] == "0"


def test_the_time_limit_scales_with_the_clips_duration(
    clip: Callable[[str], Path], tools: Tools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from media.pipelines import transcode as module

    limits: list[object] = []
    real = module.run_ffmpeg

    def spy(args: list[str], **kw: object) -> object:
        limits.append(kw.get("timeout"))
        return real(args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "run_ffmpeg", spy)
    config = replace(SMALL, timeout_base_seconds=60.0, timeout_per_second=4.0)
    short, long = clip("short_clip"), clip("portrait")
    for source in (short, long):
        module.transcode(tools, source, tmp_path / source.stem, config)
    durations = [probe(tools, source).duration for source in (short, long)]
    assert limits == [pytest.approx(60.0 + 4.0 * d) for d in durations]
    assert durations[1] > durations[0]
    assert limits[1] > limits[0]  # type: ignore[operator]
