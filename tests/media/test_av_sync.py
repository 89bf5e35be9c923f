"""Picture and sound stay together in every output: a white flash and a beep at the same instants, near the start
and near the end of the clip, measured after transcoding in the HLS renditions and in the progressive MP4."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from media.pipelines.hls import concat_fragments, read_playlist
from media.pipelines.tools import Tools
from media.pipelines.transcode import transcode
from tests.media.conftest import SMALL

MARKS = (1.5, 5.0)  # seconds: one early, one in the last second and a half (where loudnorm's gap was)
DURATION = 6.0
TOLERANCE = 0.020


def _source(tools: Tools, out: Path, *, audio_late_by: float) -> Path:
    flashes = "+".join(f"between(t,{t},{t + 0.1})" for t in MARKS)
    # The beep is written on the audio's own clock, which starts `audio_late_by` after the picture.
    beeps = "+".join(f"between(t,{t - audio_late_by},{t - audio_late_by + 0.1})" for t in MARKS)
    video = f"color=black:s=360x640:r=30:d={DURATION},drawbox=enable='{flashes}':c=white:t=fill"
    audio = f"aevalsrc='if({beeps},0.5*sin(2*PI*1000*t),0)':s=48000:d={DURATION - audio_late_by}"
    subprocess.run(
        [tools.ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", video,
         "-itsoffset", f"{audio_late_by}", "-f", "lavfi", "-i", audio,
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return out


def _onsets(tools: Tools, path: Path, *, audio: bool) -> list[float]:
    """When each flash (or beep) begins, on the file's presentation timeline."""
    if audio:
        args = ["-map", "0:a:0", "-af", "asetnsamples=n=96,astats=metadata=1:reset=1,"
                "ametadata=print:key=lavfi.astats.Overall.RMS_level"]  # fmt: skip
        key, threshold = "RMS_level", -30.0
    else:
        args = ["-map", "0:v:0", "-vf", "signalstats,metadata=print:key=lavfi.signalstats.YAVG"]
        key, threshold = "YAVG", 100.0
    result = subprocess.run([tools.ffmpeg, "-hide_banner", "-nostats", "-i", str(path), *args, "-f", "null", "-"],
                            capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    onsets: list[float] = []
    now, on = 0.0, False
    for line in result.stderr.splitlines():
        if m := re.search(r"pts_time:(-?[\d.]+)", line):
            now = float(m.group(1))
        if m := re.search(rf"{key}=(-?[\d.]+|-inf)", line):
            loud = m.group(1) != "-inf" and float(m.group(1)) > threshold
            if loud and not on:
                onsets.append(now)
            on = loud
    return onsets


def _offsets(tools: Tools, picture: Path, sound: Path) -> list[float]:
    flashes, beeps = _onsets(tools, picture, audio=False), _onsets(tools, sound, audio=True)
    assert len(flashes) == len(beeps) == len(MARKS), (flashes, beeps)
    return [beep - flash for flash, beep in zip(flashes, beeps, strict=True)]


@pytest.mark.parametrize("audio_late_by", [0.0, 1.0])
def test_sound_and_picture_stay_within_20_ms_in_hls_and_mp4(tools: Tools, tmp_path: Path, audio_late_by: float) -> None:
    source = _source(tools, tmp_path / "marks.mp4", audio_late_by=audio_late_by)
    assert all(abs(o) <= 0.005 for o in _offsets(tools, source, source))  # the source itself is in sync
    result = transcode(tools, source, tmp_path / "work", SMALL)
    out = result.out_dir
    # HLS: each playlist's fragments joined, as a player reads them (their timestamps are what it plays).
    rendition = sorted(p for p in out.iterdir() if p.is_dir() and p.name != "audio")[0]
    hls_video, hls_audio = tmp_path / "hls-video.mp4", tmp_path / "hls-audio.mp4"
    concat_fragments(rendition, read_playlist(rendition / "index.m3u8"), hls_video)
    concat_fragments(out / "audio", read_playlist(out / "audio" / "index.m3u8"), hls_audio)
    for name, (picture, sound) in {"hls": (hls_video, hls_audio), "mp4": (out / "video.mp4",) * 2}.items():
        offsets = _offsets(tools, picture, sound)
        assert all(abs(o) <= TOLERANCE for o in offsets), f"{name}: beep - flash = {offsets} s"
