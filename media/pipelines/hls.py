"""After the run: read the variant playlists, write the master playlist, remux the progressive MP4.

The master playlist is ours rather than ffmpeg's so every variant carries
BANDWIDTH (the peak segment rate, as the HLS spec asks), AVERAGE-BANDWIDTH,
RESOLUTION, CODECS (read from the encoder's avcC box) and FRAME-RATE, and the
variants share one audio rendition group.

A playlist must not end in a sliver of a segment. When the clip lasts a whole
number of segments, the audio spills one AAC frame (21 ms: the encoder's
priming frame puts the audio's first timestamp 1024 samples before the
video's) into a segment of its own, and hls.js never finishes a segment that
short: playback stalled 40-100 ms before the end and `ended` never fired.
`merge_short_tail` appends such a tail's fragment (moof + mdat) to the segment
before it, which is still one valid CMAF segment (several fragments, one
`sidx` covering them).
"""

from __future__ import annotations

import shutil
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from media.pipelines.ladder import Rendition
from media.pipelines.runner import FFmpegError, run_tool

AAC_LC = "mp4a.40.2"
AUDIO_GROUP = "aac"
REMUX_TIMEOUT = 600.0
# A last segment shorter than this is merged into the one before it.
SHORTEST_TAIL_SECONDS = 0.5


@dataclass(frozen=True)
class Playlist:
    init: str
    segments: list[tuple[str, float]]  # (file name, duration)

    @property
    def duration(self) -> float:
        return sum(d for _, d in self.segments)


def read_playlist(path: Path) -> Playlist:
    init = ""
    segments: list[tuple[str, float]] = []
    pending: float | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-MAP:"):
            init = line.split('URI="', 1)[1].split('"', 1)[0]
        elif line.startswith("#EXTINF:"):
            pending = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#"):
            if pending is None:
                raise ValueError(f"{path}: segment {line} has no #EXTINF")
            segments.append((line, pending))
            pending = None
    return Playlist(init=init, segments=segments)


def top_level_boxes(path: Path) -> list[str]:
    """Top-level box types in file order, reading only headers (the `moov` before `mdat` check)."""
    kinds = []
    with open(path, "rb") as fh:
        while True:
            header = fh.read(8)
            if len(header) < 8:
                break
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", fh.read(8))[0]
                fh.seek(size - 16, 1)
            elif size == 0:
                kinds.append(kind.decode("latin-1"))
                break
            else:
                fh.seek(size - 8, 1)
            kinds.append(kind.decode("latin-1"))
    return kinds


def _box_spans(data: bytes) -> list[tuple[str, int, int]]:
    """(type, start, end) of the top-level boxes of an in-memory fragment."""
    spans = []
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size == 1:
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
        elif size == 0:
            size = len(data) - at
        if size < 8 or at + size > len(data):
            raise ValueError(f"malformed box {kind!r} at byte {at}")
        spans.append((kind.decode("latin-1"), at, at + size))
        at += size
    return spans


@dataclass(frozen=True)
class SegmentIndex:
    """Where the one `sidx` box of a media segment keeps its last reference (ISO/IEC 14496-12 8.16.3)."""

    timescale: int
    last_reference: int  # byte offset of the last reference's referenced_size field
    total_duration: int  # in timescale units, over all references


def read_sidx(data: bytes, start: int) -> SegmentIndex:
    version = data[start + 8]
    (timescale,) = struct.unpack(">I", data[start + 16 : start + 20])
    wide = 8 if version == 1 else 4  # earliest_presentation_time and first_offset
    refs = start + 20 + 2 * wide + 4  # after reserved(16) and reference_count(16)
    (count,) = struct.unpack(">H", data[refs - 2 : refs])
    if count == 0:
        raise ValueError("sidx without references")
    durations = [struct.unpack(">I", data[refs + 12 * i + 4 : refs + 12 * i + 8])[0] for i in range(count)]
    return SegmentIndex(timescale=timescale, last_reference=refs + 12 * (count - 1), total_duration=sum(durations))


def merge_short_tail(directory: Path, shortest: float = SHORTEST_TAIL_SECONDS) -> Playlist:
    """Fold a last segment shorter than `shortest` into the one before it; returns the playlist as it now is.

    The tail's fragments (everything after its `styp`/`sidx`) are appended to the
    previous segment, whose `sidx` grows its last reference by the tail's bytes and
    duration (a subsegment may hold several fragments); the playlist gets the summed
    EXTINF (and a TARGETDURATION that still covers it) and the tail file is removed.
    """
    path = directory / "index.m3u8"
    playlist = read_playlist(path)
    if len(playlist.segments) < 2 or playlist.segments[-1][1] >= shortest:
        return playlist
    (prev_name, prev_duration), (tail_name, tail_duration) = playlist.segments[-2:]
    prev, tail = (directory / prev_name).read_bytes(), (directory / tail_name).read_bytes()
    tail_spans = _box_spans(tail)
    fragments_at = next(start for kind, start, _ in tail_spans if kind not in ("styp", "sidx"))
    fragments = tail[fragments_at:]
    merged = bytearray(prev + fragments)
    prev_sidx = [start for kind, start, _ in _box_spans(prev) if kind == "sidx"]
    if prev_sidx:
        index = read_sidx(prev, prev_sidx[0])
        tail_sidx = [start for kind, start, _ in tail_spans if kind == "sidx"]
        if tail_sidx:
            tail_index = read_sidx(tail, tail_sidx[0])
            extra = round(tail_index.total_duration * index.timescale / tail_index.timescale)
        else:
            extra = round(tail_duration * index.timescale)
        at = index.last_reference
        (size_field,) = struct.unpack(">I", merged[at : at + 4])
        (duration,) = struct.unpack(">I", merged[at + 4 : at + 8])
        new_size = (size_field & 0x7FFFFFFF) + len(fragments)
        struct.pack_into(">II", merged, at, (size_field & 0x80000000) | new_size, duration + extra)
    scratch = directory / f"{prev_name}.merging"
    scratch.write_bytes(bytes(merged))
    scratch.replace(directory / prev_name)

    total = prev_duration + tail_duration
    lines = path.read_text().splitlines()
    uri_rows = [i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")]
    prev_row, tail_row = uri_rows[-2], uri_rows[-1]
    extinf = [i for i in range(prev_row) if lines[i].startswith("#EXTINF:")][-1]
    tail_extinf = [i for i in range(prev_row, tail_row) if lines[i].startswith("#EXTINF:")][-1]
    lines[extinf] = f"#EXTINF:{total:.6f},"
    del lines[tail_extinf : tail_row + 1]
    longest = max(d for _, d in [*playlist.segments[:-2], (prev_name, total)])
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = int(line.split(":", 1)[1])
            lines[i] = f"#EXT-X-TARGETDURATION:{max(target, round(longest))}"
    path.write_text("\n".join(lines) + "\n")
    (directory / tail_name).unlink()
    return read_playlist(path)


def avc_codec_string(init_segment: Path) -> str:
    """RFC 6381 codec string (avc1.PPCCLL) from the avcC box of an fMP4 init segment."""
    data = init_segment.read_bytes()
    at = data.find(b"avcC")
    if at < 0 or at + 8 > len(data):
        raise ValueError(f"{init_segment}: no avcC box")
    profile, compat, level = data[at + 5], data[at + 6], data[at + 7]
    return f"avc1.{profile:02x}{compat:02x}{level:02x}"


@dataclass(frozen=True)
class Rate:
    peak_bps: int
    average_bps: int


def segment_rates(directory: Path, playlist: Playlist) -> Rate:
    total_bits = 0
    peak = 0.0
    for name, duration in playlist.segments:
        bits = (directory / name).stat().st_size * 8
        total_bits += bits
        # A very short last segment would overstate the peak; rate it over at least one second.
        peak = max(peak, bits / max(duration, 1.0))
    init_bits = (directory / playlist.init).stat().st_size * 8 if playlist.init else 0
    average = (total_bits + init_bits) / max(playlist.duration, 1e-3)
    return Rate(peak_bps=int(max(peak, average)), average_bps=int(average))


@dataclass(frozen=True)
class VariantInfo:
    rendition: Rendition
    playlist: str  # relative to the master playlist
    codecs: str
    rate: Rate
    duration: float


def write_master(
    path: Path,
    variants: list[VariantInfo],
    *,
    fps: Fraction,
    audio_playlist: str | None,
    audio_rate: Rate | None,
    start: str,
) -> None:
    """Master playlist; the variant named `start` comes first (players start with the first one)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if audio_playlist is not None:
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="default",LANGUAGE="und",'
            f'DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="{audio_playlist}"'
        )
    ordered = sorted(variants, key=lambda v: (v.rendition.name != start, -v.rate.peak_bps))
    for v in ordered:
        peak, avg = v.rate.peak_bps, v.rate.average_bps
        codecs = v.codecs
        attrs = []
        if audio_rate is not None:
            peak += audio_rate.peak_bps
            avg += audio_rate.average_bps
            codecs = f"{codecs},{AAC_LC}"
        attrs += [
            f"BANDWIDTH={peak}",
            f"AVERAGE-BANDWIDTH={avg}",
            f"RESOLUTION={v.rendition.width}x{v.rendition.height}",
            f'CODECS="{codecs}"',
            f"FRAME-RATE={float(fps):.3f}",
        ]
        if audio_playlist is not None:
            attrs.append(f'AUDIO="{AUDIO_GROUP}"')
        lines.append("#EXT-X-STREAM-INF:" + ",".join(attrs))
        lines.append(v.playlist)
    path.write_text("\n".join(lines) + "\n")


def concat_fragments(directory: Path, playlist: Playlist, dest: Path) -> None:
    """Init segment + media segments back to back is one valid fragmented MP4."""
    with open(dest, "wb") as out:
        for name in [playlist.init, *(s for s, _ in playlist.segments)]:
            with open(directory / name, "rb") as src:
                shutil.copyfileobj(src, out, 1024 * 1024)


def faststart_mp4(
    ffmpeg_bin: str,
    video_dir: Path,
    audio_dir: Path | None,
    dest: Path,
    scratch: Path,
) -> None:
    """A progressive MP4 with `moov` first, remuxed (no re-encode) from one rendition and the audio."""
    video = scratch / "mp4-video.mp4"
    concat_fragments(video_dir, read_playlist(video_dir / "index.m3u8"), video)
    args = [ffmpeg_bin, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(video)]
    maps = ["-map", "0:v:0"]
    if audio_dir is not None:
        audio = scratch / "mp4-audio.mp4"
        concat_fragments(audio_dir, read_playlist(audio_dir / "index.m3u8"), audio)
        args += ["-i", str(audio)]
        maps += ["-map", "1:a:0"]
    args += [*maps, "-c", "copy", "-map_metadata", "-1", "-movflags", "+faststart", "-f", "mp4", str(dest)]
    result = run_tool(args, timeout=REMUX_TIMEOUT)
    if result.returncode != 0:
        raise FFmpegError(
            "remuxing the progressive MP4 failed",
            returncode=result.returncode,
            stderr=result.stderr.decode("utf-8", "replace"),
        )
