"""Generated test inputs: every kind of file a phone, an editor or a confused user might upload.

Each maker writes a small file (a second or two, at most 540x960) with ffmpeg's
lavfi sources, so the whole matrix stays fast; `make_clip(kind, dir)` caches by
kind within a directory.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from media.pipelines.tools import find_tools

GPS = "+31.2304+121.4737/"  # a phone's ISO 6709 location tag; it must not survive the pipeline


def ffmpeg(*args: str) -> None:
    cmd = [find_tools().ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)


def _video(size: str, seconds: float, rate: int = 30, src: str = "testsrc2") -> list[str]:
    return ["-f", "lavfi", "-i", f"{src}=s={size}:r={rate}:d={seconds}"]


def _tone(seconds: float, layout: str = "stereo", volume_db: float = -20.0) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=f=440:d={seconds}:sample_rate=48000,volume={volume_db}dB,"
            f"aformat=channel_layouts={layout}"]  # fmt: skip


H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
AAC = ["-c:a", "aac", "-b:a", "96k"]


def portrait(out: Path) -> None:
    # Long enough for three keyframes and two segments, so alignment and segmenting are checked.
    ffmpeg(*_video("540x960", 5.0), *_tone(5.0), *H264, *AAC, "-metadata", f"location={GPS}", str(out))


def landscape(out: Path) -> None:
    ffmpeg(*_video("960x540", 4.5), *_tone(4.5), *H264, *AAC, str(out))


def square(out: Path) -> None:
    ffmpeg(*_video("480x480", 1.5), *_tone(1.5), *H264, *AAC, str(out))


def rotated(out: Path) -> None:
    """Stored landscape 640x360 with a display matrix saying 'turn 90°': a phone held upright."""
    plain = out.with_suffix(".plain.mp4")
    ffmpeg(*_video("640x360", 2.0), *_tone(2.0), *H264, *AAC, str(plain))
    ffmpeg("-display_rotation", "90", "-i", str(plain), "-c", "copy", str(out))
    plain.unlink()


def variable_frame_rate(out: Path) -> None:
    """30 fps with every fifth frame dropped and timestamps kept: 24 fps on average, uneven gaps."""
    ffmpeg(*_video("360x640", 2.5), *_tone(2.5), "-vf", "select='not(eq(mod(n\\,5)\\,4))'",
           "-fps_mode", "vfr", *H264, *AAC, str(out))  # fmt: skip


def odd_dimensions(out: Path) -> None:
    # 4:2:0 needs even sizes, so odd-sized sources come as 4:4:4 (screen recorders, editors).
    ffmpeg(*_video("361x641", 1.5), *_tone(1.5), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p",
           *AAC, str(out))  # fmt: skip


def anamorphic(out: Path) -> None:
    """270x640 stored with 4:3 pixels: shown as 360x640."""
    ffmpeg(*_video("360x640", 1.5), *_tone(1.5), "-vf", "scale=270:640,setsar=4/3", *H264, *AAC, str(out))


def full_range(out: Path) -> None:
    """Full-range (0-255) luma as some Android phones and screen recorders write it, with pure black and white."""
    bars = "drawbox=x=0:y=0:w=90:h=640:color=black:t=fill,drawbox=x=270:y=0:w=90:h=640:color=white:t=fill"
    ffmpeg(*_video("360x640", 1.5), *_tone(1.5), "-vf", f"{bars},scale=out_range=pc:out_color_matrix=bt709",
           "-pix_fmt", "yuvj420p", "-c:v", "libx264", "-preset", "ultrafast", "-color_range", "pc",
           "-colorspace", "bt709", *AAC, str(out))  # fmt: skip


def hevc_10bit(out: Path) -> None:
    ffmpeg(*_video("360x640", 1.5), *_tone(1.5), "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le",
           "-x265-params", "log-level=error", "-tag:v", "hvc1", *AAC, str(out))  # fmt: skip


def hdr_hlg(out: Path) -> None:
    """10-bit HEVC tagged BT.2020 HLG, as iPhones record by default."""
    ffmpeg(*_video("360x640", 1.5), *_tone(1.5), "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le",
           "-x265-params", "log-level=error", "-color_primaries", "bt2020", "-color_trc", "arib-std-b67",
           "-colorspace", "bt2020nc", "-tag:v", "hvc1", *AAC, str(out))  # fmt: skip


def vp9_webm(out: Path) -> None:
    ffmpeg(*_video("360x640", 1.5), *_tone(1.5), "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
           "-b:v", "500k", "-c:a", "libopus", "-b:a", "64k", str(out))  # fmt: skip


def no_audio(out: Path) -> None:
    ffmpeg(*_video("360x640", 1.5), *H264, str(out))


def surround(out: Path) -> None:
    ffmpeg(*_video("360x640", 1.5), *_tone(1.5, "5.1"), *H264, "-c:a", "aac", "-b:a", "192k", str(out))


def short_clip(out: Path) -> None:
    ffmpeg(*_video("360x640", 0.4), *_tone(0.4), *H264, *AAC, str(out))


def single_frame(out: Path) -> None:
    """One picture shown for a second, in a container a five-second subtitle track makes look five seconds long."""
    subtitle = out.with_suffix(".srt")
    subtitle.write_text("1\n00:00:00,000 --> 00:00:05,000\n你好\n", encoding="utf-8")
    ffmpeg(*_video("360x640", 1.0, rate=1), "-i", str(subtitle), "-map", "0:v", "-map", "1", "-frames:v", "1", *H264,
           "-c:s", "mov_text", str(out))  # fmt: skip
    subtitle.unlink()


def over_long(out: Path) -> None:
    """Ten minutes and a bit: tiny and at 1 fps so it is cheap to make, but longer than the 600 s limit."""
    ffmpeg(*_video("64x112", 601.0, rate=1), *H264, "-g", "600", str(out))


def oversize(out: Path) -> None:
    ffmpeg(*_video("4112x64", 0.5, rate=4), *H264, str(out))


def high_frame_rate(out: Path) -> None:
    ffmpeg(*_video("64x112", 0.5, rate=120), *H264, str(out))


def truncated(out: Path) -> None:
    """A phone upload cut off half-way: the index (moov) at the end never arrived."""
    whole = out.with_suffix(".whole.mp4")
    ffmpeg(*_video("360x640", 2.0), *_tone(2.0), *H264, *AAC, str(whole))
    data = whole.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    whole.unlink()


def truncated_faststart(out: Path) -> None:
    """Index first, media data cut off: ffprobe believes the full duration; decoding runs out."""
    whole = out.with_suffix(".whole.mp4")
    ffmpeg(*_video("360x640", 2.0), *_tone(2.0), *H264, *AAC, "-movflags", "+faststart", str(whole))
    data = whole.read_bytes()
    out.write_bytes(data[: len(data) * 6 // 10])
    whole.unlink()


def empty(out: Path) -> None:
    out.write_bytes(b"")


def image_renamed(out: Path) -> None:
    png = out.with_suffix(".png")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=360x640", "-frames:v", "1", str(png))
    png.rename(out)


def text_renamed(out: Path) -> None:
    out.write_text("这不是视频。This is a shopping list, not a video.\n" * 20)


def audio_only(out: Path) -> None:
    ffmpeg(*_tone(2.0), *AAC, "-f", "mp4", str(out))


def poster_trap(out: Path) -> None:
    """Black for the first second, blurred for the next, sharp only at the end: the poster must come from the end."""
    ffmpeg(
        "-f", "lavfi", "-i", "color=c=black:s=360x640:r=30:d=1",
        "-f", "lavfi", "-i", "testsrc2=s=360x640:r=30:d=1",
        "-f", "lavfi", "-i", "testsrc2=s=360x640:r=30:d=1",
        "-filter_complex", "[1:v]boxblur=20:5[b];[0:v][b][2:v]concat=n=3:v=1:a=0[v]",
        "-map", "[v]", *H264, str(out),
    )  # fmt: skip


def full_hd_portrait(out: Path) -> None:
    """1080x1920 like a phone, 4 s, a quiet tone (about -41 LUFS) that normalisation must lift to -14."""
    ffmpeg(*_video("1080x1920", 4.0), *_tone(4.0, volume_db=-20.0), *H264, "-b:v", "12M", *AAC, str(out))


MAKERS: dict[str, Callable[[Path], None]] = {
    f.__name__: f
    for f in (
        portrait, landscape, square, rotated, variable_frame_rate, odd_dimensions, anamorphic, hevc_10bit, hdr_hlg,
        vp9_webm, no_audio, surround, full_range, short_clip, single_frame, over_long, oversize, high_frame_rate,
        truncated, truncated_faststart, empty, image_renamed, text_renamed, audio_only, poster_trap, full_hd_portrait,
    )
}  # fmt: skip


def make_clip(kind: str, directory: Path) -> Path:
    out = directory / (f"{kind}.webm" if kind == "vp9_webm" else f"{kind}.mp4")
    if not out.exists():
        directory.mkdir(parents=True, exist_ok=True)
        MAKERS[kind](out)
    return out
