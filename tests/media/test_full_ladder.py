"""The production configuration end to end: the default 4-rung ladder from a 1080x1920 phone clip."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from core.settings import Settings
from media.pipelines.config import PipelineConfig
from media.pipelines.hls import concat_fragments, read_playlist
from media.pipelines.tools import Tools
from media.pipelines.transcode import transcode
from tests.media.verify import check_ladder, streams


def integrated_loudness(tools: Tools, path: Path) -> float:
    result = subprocess.run(
        [tools.ffmpeg, "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a", "-af", "ebur128", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", result.stderr)[-1])


@pytest.mark.slow
def test_default_ladder_from_a_1080p_phone_clip(clip: Callable[[str], Path], tools: Tools, tmp_path: Path) -> None:
    config = PipelineConfig.from_settings(Settings())
    assert config.preset == "veryfast"
    result = transcode(tools, clip("full_hd_portrait"), tmp_path / "work", config)
    m = result.manifest
    check_ladder(
        result.out_dir,
        m,
        source_duration=4.0,
        expect_audio=True,
        expect_sizes=[(1080, 1920), (720, 1280), (540, 960), (360, 640)],
    )
    caps = {"1080p": 6000, "720p": 3000, "540p": 1600, "360p": 700}
    for r in m["renditions"]:
        assert r["codecs"].startswith("avc1.64")  # High profile
        # Capped CRF: the average never exceeds the cap (plus container overhead).
        assert r["average_bandwidth"] <= caps[r["name"]] * 1000 * 1.1, r
    assert (m["mp4"]["width"], m["mp4"]["height"]) == (720, 1280)
    assert (m["poster"]["width"], m["poster"]["height"]) == (720, 1280)

    # Two-pass loudness normalisation: a quiet source comes out near -14 LUFS.
    source_lufs = m["source"]["loudness"]["input_i"]
    assert source_lufs < -35
    audio = read_playlist(result.out_dir / "audio" / "index.m3u8")
    whole = tmp_path / "audio.mp4"
    concat_fragments(result.out_dir / "audio", audio, whole)
    assert integrated_loudness(tools, whole) == pytest.approx(-14.0, abs=1.0)
    assert m["audio"]["normalised"] is True
    assert streams(whole)["streams"][0]["channel_layout"] == "stereo"
