"""Playback reaches the end (issue 12.9): a clip whose length is a multiple of the segment length used to get an
audio playlist ending in one ~21 ms AAC frame of its own, which hls.js never finished: the player stalled 0.1 s
before the end and `ended` never fired."""

from __future__ import annotations

import functools
import json
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.settings import PROJECT_ROOT
from media.pipelines import hls
from media.pipelines.tools import Tools
from media.pipelines.transcode import TranscodeResult, transcode
from tests.browser import launch_chromium
from tests.media.clips import AAC, H264, _tone, _video, ffmpeg
from tests.media.conftest import SMALL
from tests.media.verify import check_ladder

SECONDS = 4.0  # one segment exactly (SMALL keeps the 4 s segments)


@pytest.fixture(scope="module")
def four_seconds(tools: Tools, tmp_path_factory: pytest.TempPathFactory) -> TranscodeResult:
    root = tmp_path_factory.mktemp("segment-multiple")
    source = root / "four.mp4"
    ffmpeg(*_video("360x640", SECONDS), *_tone(SECONDS), *H264, *AAC, str(source))
    return transcode(tools, source, root / "work", SMALL)


def _playlists(out: Path) -> dict[str, hls.Playlist]:
    return {d.name: hls.read_playlist(d / "index.m3u8") for d in sorted(out.iterdir()) if d.is_dir()}


def _sidx_covers_the_rest(segment: Path) -> None:
    """The segment index says how many bytes follow it: after a merge it must still cover every fragment."""
    data = segment.read_bytes()
    at = data.find(b"sidx") - 4
    assert at >= 0, segment
    size, _kind, version = struct.unpack(">I4sB", data[at : at + 9])
    wide = 8 if version == 1 else 4  # earliest_presentation_time and first_offset
    times = at + 20  # header, version/flags, reference_ID, timescale
    first_offset = int.from_bytes(data[times + wide : times + 2 * wide], "big")
    refs = times + 2 * wide + 4  # reserved, reference_count
    (count,) = struct.unpack(">H", data[refs - 2 : refs])
    referenced = sum(struct.unpack(">I", data[refs + 12 * i : refs + 12 * i + 4])[0] & 0x7FFFFFFF for i in range(count))
    assert at + size + first_offset + referenced == len(data), (segment, count, referenced, len(data) - at - size)


def test_no_playlist_ends_in_a_sliver_and_the_audio_ends_with_the_video(
    tools: Tools, four_seconds: TranscodeResult
) -> None:
    out = four_seconds.out_dir
    playlists = _playlists(out)
    assert "audio" in playlists, playlists
    for name, playlist in playlists.items():
        assert playlist.segments[-1][1] >= hls.SHORTEST_TAIL_SECONDS, (name, playlist.segments)
        for segment, _ in playlist.segments:
            _sidx_covers_the_rest(out / name / segment)
    video = [p for name, p in playlists.items() if name != "audio"]
    for playlist in video:
        assert abs(playlists["audio"].duration - playlist.duration) <= 0.050, (playlists["audio"], playlist)
    # The merged segment still decodes to the whole track, and nothing points at a removed file.
    joined = out.parent / "audio-joined.mp4"
    hls.concat_fragments(out / "audio", playlists["audio"], joined)
    probe = subprocess.run(
        [tools.ffprobe, "-v", "error", "-of", "json", "-show_entries", "format=duration", str(joined)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert abs(float(json.loads(probe.stdout)["format"]["duration"]) - SECONDS) <= 0.050
    joined.unlink()
    check_ladder(out, four_seconds.manifest, source_duration=SECONDS, expect_audio=True)


PAGE = """<!doctype html><meta charset="utf-8"><video id="v" muted playsinline></video>
<script src="hls.min.js"></script>
<script>
  const v = document.getElementById("v");
  window.report = {ended: false, errors: []};
  v.addEventListener("ended", () => { window.report.ended = true; });
  // The feed's player settings (web/static/feed/feed.js).
  const hls = new Hls({maxBufferLength: 12, capLevelToPlayerSize: true});
  hls.on(Hls.Events.ERROR, (_e, data) => { window.report.errors.push(data.details + (data.fatal ? " (fatal)" : "")); });
  hls.loadSource("out/master.m3u8");
  hls.attachMedia(v);
  hls.on(Hls.Events.MANIFEST_PARSED, () => { v.play(); });
</script>
"""


@pytest.fixture
def served(four_seconds: TranscodeResult) -> Iterator[str]:
    """The work directory (its `out/` as the CDN would serve it) plus a bare hls.js page, on a local port."""
    root = four_seconds.out_dir.parent
    shutil.copy(PROJECT_ROOT / "web" / "static" / "vendor" / "hls.min.js", root / "hls.min.js")
    (root / "play.html").write_text(PAGE)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/play.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
def test_hls_js_plays_a_segment_multiple_clip_to_the_end(served: str) -> None:
    with launch_chromium() as browser:
        page = browser.new_page()
        page.goto(served)
        try:
            # Four seconds of playback; the generous wait only bounds a hung run.
            page.wait_for_function("window.report.ended", timeout=30_000)
        finally:
            state = page.evaluate(
                """() => { const v = document.getElementById("v"); const b = v.buffered; const ranges = [];
                for (let i = 0; i < b.length; i++) ranges.push([b.start(i), b.end(i)]);
                return {t: v.currentTime, duration: v.duration, paused: v.paused, buffered: ranges,
                        ...window.report}; }"""
            )
            print(state)
        assert state["ended"], state
        assert state["t"] >= SECONDS - 0.05, state
