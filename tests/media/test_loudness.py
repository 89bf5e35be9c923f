"""Loudness on audio with sharp peaks (issue 12.12): the output lands on -14 LUFS and stays under the true-peak
target in every output, measured the way a loudness meter reads them (ffmpeg's ebur128 with true peak)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from media.pipelines.hls import concat_fragments, read_playlist
from media.pipelines.tools import Tools
from media.pipelines.transcode import transcode
from tests.media.clips import H264, _video, ffmpeg
from tests.media.conftest import SMALL

SECONDS = 6.0
# A quiet tone under sharp clicks near full scale: lifting the tone to -14 LUFS needs 10-13 dB of gain, which
# would put the clicks 9-12 dB over the true-peak target. (On loudnorm: the click track came out at
# -17.1 LUFS, the tone with clicks at -0.5 dBTP.)
SOURCES = {
    "click-track": "0.05*sin(2*PI*440*t)+if(lt(mod(t\\,0.25)\\,0.0001)\\,0.95\\,0)",
    "tone-with-clicks": "0.1*sin(2*PI*440*t)+if(lt(mod(t\\,0.5)\\,0.0003)\\,0.9\\,0)",
}


def ebur128(tools: Tools, path: Path) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP) of the file's first audio track."""
    result = subprocess.run(
        [tools.ffmpeg, "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true",
         "-f", "null", "-"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    summary = result.stderr[result.stderr.rfind("Summary:") :]
    integrated = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert integrated is not None, summary
    assert peak is not None, summary
    return float(integrated.group(1)), float(peak.group(1))


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_peaky_audio_lands_on_the_target_under_the_true_peak_limit(tools: Tools, tmp_path: Path, kind: str) -> None:
    source = tmp_path / "peaky.mp4"
    expr = SOURCES[kind]
    ffmpeg(*_video("360x640", SECONDS), "-f", "lavfi", "-i", f"aevalsrc='{expr}|{expr}':s=48000:d={SECONDS}",
           *H264, "-c:a", "aac", "-b:a", "192k", str(source))  # fmt: skip
    before_i, before_tp = ebur128(tools, source)
    assert before_i < -19.0, before_i  # quiet,
    assert before_tp > -1.0, before_tp  # and peaking near full scale

    result = transcode(tools, source, tmp_path / "work", SMALL)
    out = result.out_dir
    hls_audio = tmp_path / "hls-audio.mp4"
    concat_fragments(out / "audio", read_playlist(out / "audio" / "index.m3u8"), hls_audio)
    for name, path in {"hls": hls_audio, "mp4": out / "video.mp4"}.items():
        integrated, true_peak = ebur128(tools, path)
        assert integrated == pytest.approx(SMALL.loudness_i, abs=1.0), (name, integrated, true_peak)
        assert true_peak <= -1.0, (name, integrated, true_peak)
    assert result.manifest["audio"]["normalised"] is True
