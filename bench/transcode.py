"""The media pipeline against its floor and against the anchors' shape, side by side in one run.

    .venv/bin/python -m bench.transcode [CLIP ...] [--repeat N]

On a generated 30 s 1080x1920 30 fps phone-like clip (H.264 High at ~16 Mb/s,
AAC stereo, BT.709; cached under var/bench/) and on every CLIP given, measures:

  (a) this pipeline end to end: `python -m media transcode CLIP OUTDIR` — probe, validation,
      loudness analysis, the ONE ffmpeg process (ladder + audio + poster candidates + storyboard
      + preview), packaging (master playlist, faststart MP4, poster choice, sprite);
  (b) the floor: one bare ffmpeg command producing the same ladder (same graph, encoder
      settings and normalised audio, nothing else);
  (c) the anchors' shape (MediaCMS, PeerTube): the same ladder as one ffmpeg process per
      rendition, run one after another, plus one for the audio;
  (d) decode only.

Wall and CPU seconds (user + system of the process and everything it waited for), the
realtime factor (clip seconds per wall second) and peak memory (largest single process),
then a/b, c/a and the CPU saving 1 - cpu(a)/cpu(c); per rendition the SSIM against the
source scaled to that size and the achieved bitrate. With --repeat N each run is made N
times, interleaved, and the median kept. The last line is one JSON object.

Targets: a/b <= 1.10, c/a >= 1.35, CPU saving >= 25 %, every SSIM >= 0.95.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.settings import PROJECT_ROOT, VAR_DIR, Settings
from media.pipelines import graph
from media.pipelines.config import PipelineConfig
from media.pipelines.hls import concat_fragments, read_playlist
from media.pipelines.tools import Tools, find_tools
from media.pipelines.transcode import inspect, prepare
from media.probe import MediaInfo

TARGETS = {"a_over_b_max": 1.10, "c_over_a_min": 1.35, "cpu_saving_min": 0.25, "min_ssim": 0.95}
GENERATED = "phone-1080x1920-30s.mp4"


@dataclass(frozen=True)
class Measure:
    wall: float
    cpu: float
    peak_mib: float


def run_measured(args: list[str], *, stdout: Any = subprocess.DEVNULL) -> Measure:
    """Run to completion; CPU and peak memory from wait4, so every descendant it waited for counts."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=stdout, stderr=subprocess.PIPE, cwd=PROJECT_ROOT)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(args[:6])} ...\n{err.decode()[-2000:]}")
    return Measure(wall=wall, cpu=usage.ru_utime + usage.ru_stime, peak_mib=usage.ru_maxrss / 1024)


def generate_clip(tools: Tools, dest: Path, seconds: float = 30.0) -> Path:
    """A phone-like source: moving detail, sensor-like noise, a tone; encoded like a phone would."""
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".partial.mp4")
    subprocess.run(
        [
            tools.ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=s=1080x1920:r=30:d={seconds}",
            "-f", "lavfi", "-i", f"gradients=s=1080x1920:r=30:d={seconds}:speed=0.02",
            "-f", "lavfi", "-i", f"sine=f=440:d={seconds}:sample_rate=48000",
            "-filter_complex",
            "[0:v][1:v]blend=all_mode=overlay:all_opacity=0.5,noise=alls=6:allf=t,"
            "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p[v]",
            "-map", "[v]", "-map", "2:a",
            "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
            "-b:v", "16M", "-maxrate", "20M", "-bufsize", "20M",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
            "-c:a", "aac", "-b:a", "192k", "-ac", "2", str(tmp),
        ],
        check=True,
    )  # fmt: skip
    tmp.rename(dest)
    return dest


def floor_command(tools: Tools, clip: Path, info: MediaInfo, config: PipelineConfig, out: Path) -> list[str]:
    """(b): the same graph, encoders and audio as the pipeline's run, without side products."""
    return prepare(tools, clip, info, config, out, side_products=False).args


def per_rendition_commands(
    tools: Tools, clip: Path, info: MediaInfo, config: PipelineConfig, out: Path
) -> list[list[str]]:
    """(c): one process per rendition, each decoding the whole source, and one for the audio."""
    ladder = prepare(tools, clip, info, config, out / "plan", side_products=False)
    commands = []
    for r in ladder.renditions:
        layout = graph.Layout(out / r.name)
        layout.make([r], with_audio=False)
        commands.append(
            graph.build(
                tools.ffmpeg,
                clip,
                replace(info, audio=None),
                renditions=[r],
                fps=ladder.fps,
                config=config,
                layout=layout,
                extras=None,
                loudness=None,
            )
        )
    if info.audio is not None:
        layout = graph.Layout(out / "audio")
        layout.make([], with_audio=True)
        commands.append(
            graph.build(
                tools.ffmpeg,
                clip,
                info,
                renditions=[],
                fps=ladder.fps,
                config=config,
                layout=layout,
                extras=None,
                loudness=info.loudness,
            )
        )
    return commands


def measure_sequence(commands: list[list[str]]) -> Measure:
    parts = [run_measured(c) for c in commands]
    return Measure(
        wall=sum(p.wall for p in parts), cpu=sum(p.cpu for p in parts), peak_mib=max(p.peak_mib for p in parts)
    )


def ssim(tools: Tools, rendition: Path, source: Path, *, width: int, height: int, fps: str) -> float:
    graph_ = (
        f"[0:v]format=yuv420p,setsar=1[d];"
        f"[1:v]fps={fps},scale={width}:{height}:flags=bicubic,format=yuv420p,setsar=1[r];[d][r]ssim"
    )
    result = subprocess.run(
        [tools.ffmpeg, "-hide_banner", "-nostats", "-i", str(rendition), "-i", str(source),
         "-lavfi", graph_, "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(re.findall(r"All:([\d.]+)", result.stderr)[-1])


def bench_clip(tools: Tools, clip: Path, config: PipelineConfig, repeat: int, work: Path) -> dict[str, Any]:
    info = inspect(tools, clip, config)  # for (b) and (c): the numbers (a) measures for itself
    runs: dict[str, list[Measure]] = {"a": [], "b": [], "c": [], "d": []}
    a_out = work / "a"
    for i in range(repeat):
        for d in ("a", "b", "c"):
            shutil.rmtree(work / d, ignore_errors=True)
        with open(work / "manifest.json", "w") as manifest_file:
            runs["a"].append(
                run_measured([sys.executable, "-m", "media", "transcode", str(clip), str(a_out)], stdout=manifest_file)
            )
        runs["b"].append(run_measured(floor_command(tools, clip, info, config, work / "b")))
        runs["c"].append(measure_sequence(per_rendition_commands(tools, clip, info, config, work / "c")))
        decode = [tools.ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(clip)]
        runs["d"].append(run_measured([*decode, "-map", "0:v:0", "-map", "0:a?", "-f", "null", "-"]))
        print(f"  round {i + 1}/{repeat} done", file=sys.stderr)

    def median(key: str) -> Measure:
        ms = runs[key]
        return Measure(
            wall=statistics.median(m.wall for m in ms),
            cpu=statistics.median(m.cpu for m in ms),
            peak_mib=max(m.peak_mib for m in ms),
        )

    a, b, c, d = (median(k) for k in "abcd")
    manifest = json.loads((work / "manifest.json").read_text())
    renditions = []
    fps = f"{manifest['frame_rate']}"
    for r in manifest["renditions"]:
        whole = work / f"{r['name']}.mp4"
        concat_fragments(a_out / r["name"], read_playlist(a_out / r["playlist"]), whole)
        video_bytes = sum(
            (a_out / r["name"] / name).stat().st_size for name, _ in read_playlist(a_out / r["playlist"]).segments
        )
        renditions.append(
            {
                "name": r["name"],
                "width": r["width"],
                "height": r["height"],
                "ssim": round(ssim(tools, whole, clip, width=r["width"], height=r["height"], fps=fps), 4),
                "kbps": round(video_bytes * 8 / manifest["duration"] / 1000),
                "cap_kbps": r["max_kbps"],
            }
        )
    return {
        "clip": clip.name,
        "duration": info.duration,
        "source": f"{info.video.display_size[0]}x{info.video.display_size[1]} {info.video.codec} "
        f"{(info.bit_rate or 0) / 1e6:.1f} Mb/s, audio {info.audio.codec if info.audio else 'none'}",
        "runs": {k: vars(m) for k, m in zip("abcd", (a, b, c, d), strict=True)},
        "a_over_b": round(a.wall / b.wall, 3),
        "c_over_a": round(c.wall / a.wall, 3),
        "cpu_saving": round(1 - a.cpu / c.cpu, 3),
        # The same ratios in CPU seconds: steadier than wall time when other work shares the machine.
        "cpu_a_over_b": round(a.cpu / b.cpu, 3),
        "cpu_c_over_a": round(c.cpu / a.cpu, 3),
        "min_ssim": min(r["ssim"] for r in renditions),
        "renditions": renditions,
    }


LABELS = {
    "a": "(a) pipeline end to end",
    "b": "(b) one bare ffmpeg, same ladder",
    "c": "(c) one ffmpeg per rendition, in turn",
    "d": "(d) decode only",
}


def report(result: dict[str, Any]) -> None:
    print(f"\nclip: {result['clip']} ({result['duration']:.1f} s, {result['source']})")
    print(f"{'run':40s} {'wall s':>8s} {'cpu s':>8s} {'x realtime':>11s} {'peak MiB':>9s}")
    for key, label in LABELS.items():
        m = result["runs"][key]
        realtime = result["duration"] / m["wall"]
        print(f"{label:40s} {m['wall']:8.2f} {m['cpu']:8.2f} {realtime:11.2f} {m['peak_mib']:9.0f}")
    t = TARGETS
    print(
        f"a/b = {result['a_over_b']:.3f} (target <= {t['a_over_b_max']})   "
        f"c/a = {result['c_over_a']:.3f} (target >= {t['c_over_a_min']})   "
        f"cpu saving = {result['cpu_saving'] * 100:.1f} % (target >= {t['cpu_saving_min'] * 100:.0f} %)"
    )
    print(f"in CPU seconds: a/b = {result['cpu_a_over_b']:.3f}   c/a = {result['cpu_c_over_a']:.3f}")
    print(f"{'rendition':10s} {'size':>10s} {'SSIM':>7s} {'kb/s':>7s} {'cap':>7s}")
    for r in result["renditions"]:
        size = f"{r['width']}x{r['height']}"
        print(f"{r['name']:10s} {size:>10s} {r['ssim']:7.4f} {r['kbps']:7d} {r['cap_kbps']:7d}")
    print(f"min SSIM = {result['min_ssim']:.4f} (target >= {t['min_ssim']})")


def meets_targets(r: dict[str, Any]) -> bool:
    t = TARGETS
    return (
        r["a_over_b"] <= t["a_over_b_max"]
        and r["c_over_a"] >= t["c_over_a_min"]
        and r["cpu_saving"] >= t["cpu_saving_min"]
        and r["min_ssim"] >= t["min_ssim"]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.transcode", description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="*", type=Path, help="more clips to measure after the generated one")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each kind, interleaved; the median is kept")
    args = parser.parse_args(argv)
    tools = find_tools()
    config = PipelineConfig.from_settings(Settings())
    clips = [generate_clip(tools, VAR_DIR / "bench" / GENERATED), *args.clips]
    print(f"ffmpeg: {tools.ffmpeg}; ladder {[r.name for r in config.ladder]}, x264 {config.preset}, crf {config.crf}")
    load_start = os.getloadavg()[0]
    print(f"cpus: {os.cpu_count()}, load average at start: {load_start:.2f} (other work skews wall times)")
    results = []
    for clip in clips:
        with tempfile.TemporaryDirectory(prefix="bench-transcode-") as work:
            results.append(bench_clip(tools, clip, config, args.repeat, Path(work)))
        report(results[-1])
    first = results[0]
    summary = {
        "a_over_b": first["a_over_b"],
        "c_over_a": first["c_over_a"],
        "cpu_saving": first["cpu_saving"],
        "min_ssim": first["min_ssim"],
        "cpu_a_over_b": first["cpu_a_over_b"],
        "cpu_c_over_a": first["cpu_c_over_a"],
        "meets_targets": all(meets_targets(r) for r in results),
        "targets": TARGETS,
        "load_average_start": round(load_start, 2),
        "load_average_end": round(os.getloadavg()[0], 2),
        "clips": results,
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
