"""Pure pieces of the pipeline: ladder planning, frame rates, loudness numbers, playlists, tool discovery."""

from __future__ import annotations

import os
import stat
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from media.pipelines import hls
from media.pipelines.config import DEFAULT_LADDER, PipelineConfig, Rung, parse_ladder
from media.pipelines.ladder import Rendition, gop_frames, output_frame_rate, plan
from media.pipelines.loudness import GAIN_GRID, apply_filters, parse_measurement, solve_gain
from media.pipelines.runner import parse_progress_block
from media.pipelines.tools import STATIC_SUBDIR, ToolMissing, find_tool
from media.videos import normalise_hashtags


def sizes(display: tuple[int, int]) -> list[tuple[int, int, int]]:
    return [(r.width, r.height, r.kbps) for r in plan(*display, DEFAULT_LADDER)]


def test_full_ladder_for_a_1080p_portrait_source() -> None:
    assert sizes((1080, 1920)) == [
        (1080, 1920, 6000),
        (720, 1280, 3000),
        (540, 960, 1600),
        (360, 640, 700),
    ]


def test_1080p_rung_only_when_the_source_is_that_large() -> None:
    assert sizes((1078, 1916))[0] == (720, 1280, 3000)
    assert [s[:2] for s in sizes((720, 1280))] == [(720, 1280), (540, 960), (360, 640)]


def test_landscape_and_square_get_the_same_rungs_by_short_side() -> None:
    assert [s[:2] for s in sizes((1920, 1080))] == [(1920, 1080), (1280, 720), (960, 540), (640, 360)]
    assert [s[:2] for s in sizes((1080, 1080))] == [(1080, 1080), (720, 720), (540, 540), (360, 360)]
    assert [s[2] for s in sizes((1920, 1080))] == [6000, 3000, 1600, 700]


def test_other_aspect_ratios_keep_their_shape_with_even_sizes() -> None:
    # 3:4 portrait and an ultra-wide 21:9 phone clip.
    assert sizes((1080, 1440))[0][:2] == (1080, 1440)
    assert sizes((2560, 1080))[1][:2] == (1706, 720)
    for w, h, _ in sizes((1081, 1921)) + sizes((2560, 1080)):
        assert w % 2 == 0
        assert h % 2 == 0


def test_never_upscale_and_tiny_sources_get_one_rendition_at_their_size() -> None:
    assert plan(201, 357, DEFAULT_LADDER) == [Rendition("200p", 200, 356, 216)]
    for r in plan(361, 641, DEFAULT_LADDER):
        assert r.width <= 361
        assert r.height <= 641


@pytest.mark.parametrize(
    ("avg", "nominal", "typical", "expected"),
    [
        (Fraction(30), Fraction(30), None, Fraction(30)),
        (Fraction(30000, 1001), Fraction(30000, 1001), Fraction(30000, 1001), Fraction(30000, 1001)),
        (Fraction(2960, 100), Fraction(30), None, Fraction(30)),  # phone VFR dips: back to the nominal 30
        (Fraction(24), Fraction(30), None, Fraction(24)),  # no frame gaps known: CFR at the average
        (Fraction(24), Fraction(30), Fraction(30), Fraction(30)),  # shot at 30, dropped frames: stays 30
        (Fraction(24), Fraction(90000), Fraction(30), Fraction(30)),  # a time-base "rate": the gaps decide
        (Fraction(20), Fraction(25), Fraction(30), Fraction(20)),  # gaps above the base rate: not trusted
        (Fraction(120), Fraction(120), Fraction(120), Fraction(60)),  # capped
        (Fraction(1250, 100), Fraction(90000), None, Fraction(25, 2)),  # odd rates stay, never rounded up
    ],
)
def test_output_frame_rate(avg: Fraction, nominal: Fraction, typical: Fraction | None, expected: Fraction) -> None:
    assert output_frame_rate(avg, nominal, 60.0, typical) == expected


def test_gop_is_two_seconds_of_frames() -> None:
    assert gop_frames(Fraction(30), 2.0) == 60
    assert gop_frames(Fraction(30000, 1001), 2.0) == 60
    assert gop_frames(Fraction(24), 2.0) == 48


def test_ladder_setting_is_parsed_and_checked() -> None:
    assert parse_ladder("720:3000, 1080:6000") == (Rung(1080, 6000), Rung(720, 3000))
    for bad in ("", "720", "721:3000", "720:-1", "x:y"):
        with pytest.raises(ValueError, match="ladder"):
            parse_ladder(bad)


EBUR128_SUMMARY = """[Parsed_ebur128_1 @ 0x3b995380] [info] Summary:

  Integrated loudness:
    I:         -27.6 LUFS
    Threshold: -38.2 LUFS

  Loudness range:
    LRA:        18.1 LU
    Threshold: -48.3 LUFS
    LRA low:   -35.0 LUFS
    LRA high:  -16.9 LUFS

  True peak:
    Peak:       -4.5 dBFS
"""


def _candidate_summaries(loudness: list[float]) -> str:
    """What the candidate meters print (ebur128 without true peak), one per gain of the grid."""
    return "".join(
        f"[Parsed_ebur128_{5 + 4 * i} @ 0x3b9a{i:04x}] [info] Summary:\n\n  Integrated loudness:\n"
        f"    I:         {value:.1f} LUFS\n    Threshold: {value - 10:.1f} LUFS\n\n"
        for i, value in enumerate(loudness)
    )


def test_loudness_measurement_and_second_pass() -> None:
    config = PipelineConfig()
    # The candidates lose 2 LU to the limiter around the gain the target wants (+13.6 plain): +15.6 lands on it.
    candidates = [g - 27.6 - max(0.0, min(2.0, g - 9.0)) for g in GAIN_GRID]
    m = parse_measurement("[info] size=N/A time=00:00:30.00\n" + EBUR128_SUMMARY + _candidate_summaries(candidates),
                          config)  # fmt: skip
    assert m is not None
    assert (m.input_i, m.input_thresh, m.input_lra, m.input_tp) == (-27.6, -38.2, 18.1, -4.5)
    assert m.gain_db == pytest.approx(15.6)
    chain = dict(apply_filters(config, m, 3.0))
    assert "loudnorm" not in chain
    assert chain["volume"]["volume"] == "15.60dB"
    # A true-peak limiter at 4x the output rate, its ceiling under -1.5 dBTP, with no make-up gain or delay.
    assert chain["aresample"]["out_sample_rate"] == "48000"  # the last resample: back to the output rate
    assert 10 ** (-2.6 / 20) < float(chain["alimiter"]["limit"]) < 10 ** (-1.5 / 20)
    assert (chain["alimiter"]["level"], chain["alimiter"]["latency"]) == ("disabled", "enabled")
    names = [name for name, _ in apply_filters(config, m, 3.0)]
    assert names.index("volume") < names.index("alimiter") < names.index("asetpts")
    assert ("aresample", {"out_sample_rate": "192000"}) in apply_filters(config, m, 3.0)
    assert chain["atrim"]["end"] == "3.000000"  # the track is cut or padded to the video's length
    # No limiting anywhere (no candidates lose anything): the plain gain; a click track: at most 6 dB over it.
    assert solve_gain(config, -27.6, [(g, g - 27.6) for g in GAIN_GRID]) == pytest.approx(13.6)
    assert solve_gain(config, -27.6, [(g, -30.0) for g in GAIN_GRID]) == pytest.approx(19.6)
    # Quieter than the grid reaches: the plain gain plus the loss at the top of the grid.
    assert solve_gain(config, -60.0, [(g, g - 61.0) for g in GAIN_GRID]) == pytest.approx(47.0)
    silent = parse_measurement(
        EBUR128_SUMMARY.replace("-27.6 LUFS", "-70.0 LUFS").replace("-4.5 dBFS", "-inf dBFS"), config
    )
    assert silent is not None
    assert silent.gain_db == 0.0
    assert not {"volume", "alimiter"} & set(dict(apply_filters(config, silent, 3.0)))
    assert parse_measurement("no summary here", config) is None


def test_progress_block_parsing() -> None:
    p = parse_progress_block({"frame": "120", "out_time_us": "4000000", "speed": "2.5x", "progress": "continue"})
    assert (p.out_seconds, p.speed, p.frame, p.done) == (4.0, 2.5, 120, False)
    q = parse_progress_block({"out_time_us": "N/A", "speed": "N/A", "progress": "end"})
    assert (q.out_seconds, q.speed, q.done) == (0.0, None, True)


def test_master_playlist_lists_every_attribute(tmp_path: Path) -> None:
    hd, sd = Rendition("720p", 720, 1280, 3000), Rendition("360p", 360, 640, 700)
    v = [
        hls.VariantInfo(hd, "720p/index.m3u8", "avc1.64001f", hls.Rate(3_100_000, 2_000_000), 4.0),
        hls.VariantInfo(sd, "360p/index.m3u8", "avc1.64001e", hls.Rate(800_000, 500_000), 4.0),
    ]
    hls.write_master(
        tmp_path / "m.m3u8",
        v,
        fps=Fraction(30),
        audio_playlist="audio/index.m3u8",
        audio_rate=hls.Rate(130_000, 128_000),
        start="360p",
    )
    text = (tmp_path / "m.m3u8").read_text()
    assert text.index("360p/index.m3u8") < text.index("720p/index.m3u8")  # the start rung comes first
    assert (
        "BANDWIDTH=3230000,AVERAGE-BANDWIDTH=2128000,RESOLUTION=720x1280,"
        'CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=30.000,AUDIO="aac"' in text
    )
    assert '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac"' in text


def test_hashtags_are_normalised() -> None:
    assert normalise_hashtags(["#Summer", " summer ", "＃夏日穿搭", "", "#"]) == ["summer", "夏日穿搭"]


def _fake_tool(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_tool_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = _fake_tool(tmp_path / "explicit", "ffmpeg")
    on_path = _fake_tool(tmp_path / "bin", "ffmpeg")
    static = _fake_tool(tmp_path / "venv" / STATIC_SUBDIR, "ffmpeg")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    monkeypatch.setattr("media.pipelines.tools.PROJECT_ROOT", tmp_path / "nowhere")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert find_tool("ffmpeg", str(explicit)) == str(explicit)
    assert find_tool("ffmpeg") == str(on_path)  # the system's binary wins over the bundled one
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_tool("ffmpeg") == str(static)  # no system ffmpeg: the pip-installed static build
    os.remove(static)
    with pytest.raises(ToolMissing, match="make install"):
        find_tool("ffmpeg")
    with pytest.raises(ToolMissing):
        find_tool("ffmpeg", str(tmp_path / "nope"))


def test_encoder_threads_follow_each_rungs_share_of_the_pixels() -> None:
    from media.pipelines.graph import thread_budget

    ladder = plan(1080, 1920, DEFAULT_LADDER)
    assert thread_budget(ladder, 2) == {"1080p": 2, "720p": 2, "540p": 2, "360p": 2}
    assert thread_budget(ladder, 16) == {"1080p": 9, "720p": 4, "540p": 3, "360p": 2}
    assert thread_budget(ladder, 1) == {"1080p": 1, "720p": 1, "540p": 1, "360p": 1}
    assert thread_budget(ladder[:1], 16) == {}  # a lone encoder keeps x264's default
