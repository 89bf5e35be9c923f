"""Duplicate-upload detection, measured: recall on edited copies and false matches between different clips.

    .venv/bin/python -m bench.fingerprint [--clips N] [--seconds S]

Generates N distinct vertical clips (default 36, 8 s, 360x640 at 30 fps: a drifting
two-colour gradient with moving shapes, each clip from its own seed), then six edited
copies of each, as a re-uploader makes them:

  reencode  H.264 at a much lower quality (CRF 34)
  scale     half the size
  crop      4 % off every side
  mirror    flipped left to right
  fps24     re-timed to 24 fps
  combo     mirrored, cropped 3 %, scaled to 3/4 and re-encoded at CRF 30

It fingerprints every original and copy (`media.pipelines.fingerprint`), then reports:

  recall         copies whose lookup keys find their own original, which the
                 frame comparison then matches (target >= 0.95)
  false matches  copies and originals matched to a different clip (target <= 0.01)
  the similarity of the worst true pair and of the best false pair (the margin)

and the cost side by side: fingerprinting vs decoding the same file with nothing else
(the floor), as a ratio. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from media.pipelines import fingerprint as fp
from media.pipelines.tools import Tools, find_tools

TARGETS = {"recall_min": 0.95, "false_match_max": 0.01}
WIDTH, HEIGHT, FPS = 360, 640, 30
EDITS = {
    "reencode": ["-c:v", "libx264", "-crf", "34"],
    "scale": ["-vf", "scale=180:320", "-c:v", "libx264", "-crf", "23"],
    "crop": ["-vf", "crop=iw*0.92:ih*0.92", "-c:v", "libx264", "-crf", "23"],
    "mirror": ["-vf", "hflip", "-c:v", "libx264", "-crf", "23"],
    "fps24": ["-vf", "fps=24", "-c:v", "libx264", "-crf", "23"],
    "combo": ["-vf", "hflip,crop=iw*0.94:ih*0.94,scale=270:480", "-c:v", "libx264", "-crf", "30"],
}


def _frames(seed: int, seconds: float) -> np.ndarray:
    """One clip's frames: every seed gives a different palette, layout and motion."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    angle0, spin = rng.uniform(0, 2 * np.pi), rng.uniform(-0.4, 0.4)
    shapes = [
        (rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT), rng.uniform(-60, 60), rng.uniform(-60, 60),
         rng.uniform(30, 110), rng.uniform(0, 255, 3), rng.integers(0, 2))
        for _ in range(rng.integers(4, 9))
    ]  # fmt: skip
    out = np.empty((n, HEIGHT, WIDTH, 3), dtype=np.uint8)
    for i in range(n):
        t = i / FPS
        a = angle0 + spin * t
        ramp = ((xs * np.cos(a) + ys * np.sin(a)) / (WIDTH + HEIGHT) + 0.5).clip(0, 1)[..., None]
        img = c0 * (1 - ramp) + c1 * ramp
        for x0, y0, vx, vy, r, colour, square in shapes:
            cx, cy = (x0 + vx * t) % WIDTH, (y0 + vy * t) % HEIGHT
            inside = (
                (np.abs(xs - cx) < r) & (np.abs(ys - cy) < r) if square else (xs - cx) ** 2 + (ys - cy) ** 2 < r * r
            )
            img[inside] = colour
        out[i] = img.astype(np.uint8)
    return out


def make_clip(tools: Tools, seed: int, seconds: float, path: Path) -> None:
    raw = _frames(seed, seconds).tobytes()
    subprocess.run(
        [tools.ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}",
         "-r", str(FPS), "-i", "pipe:0", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(path)],
        input=raw, check=True,
    )  # fmt: skip


def edit(tools: Tools, source: Path, args: list[str], path: Path) -> None:
    subprocess.run(
        [tools.ffmpeg, "-y", "-loglevel", "error", "-i", str(source), *args, "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )


def _cpu_of_children() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def decode_only(tools: Tools, path: Path) -> None:
    subprocess.run(
        [tools.ffmpeg, "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:v:0", "-f", "null", "-"],
        check=True,
    )


@dataclass
class Corpus:
    originals: list[fp.Fingerprint]
    copies: list[dict[str, fp.Fingerprint]]
    fingerprint_cpu: list[float]
    decode_cpu: list[float]


def build_corpus(tools: Tools, clips: int, seconds: float) -> Corpus:
    corpus = Corpus([], [], [], [])
    with tempfile.TemporaryDirectory(prefix="bench-fingerprint-") as tmp:
        work = Path(tmp)
        for seed in range(clips):
            clip = work / f"{seed}.mp4"
            make_clip(tools, seed, seconds, clip)
            before = _cpu_of_children()
            corpus.originals.append(fp.fingerprint_file(tools, clip))
            corpus.fingerprint_cpu.append(_cpu_of_children() - before)
            before = _cpu_of_children()
            decode_only(tools, clip)
            corpus.decode_cpu.append(_cpu_of_children() - before)
            mine: dict[str, fp.Fingerprint] = {}
            for name, edit_args in EDITS.items():
                copy = work / f"{seed}-{name}.mp4"
                edit(tools, clip, edit_args, copy)
                mine[name] = fp.fingerprint_file(tools, copy)
            corpus.copies.append(mine)
            print(f"clip {seed:>3}: {corpus.originals[-1].informative} informative frames", flush=True)
    return corpus


@dataclass
class Scores:
    true_sims: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in EDITS})
    found: dict[str, list[bool]] = field(default_factory=lambda: {name: [] for name in EDITS})
    false_sims: list[float] = field(default_factory=list)
    seconds: float = 0.0


def score(corpus: Corpus) -> Scores:
    """Every copy against its original and every other clip; every original against the other clips.

    `found` is what the product does: the original must be among the candidates its lookup keys
    give (as `media.duplicates` finds them) and then pass the frame-by-frame comparison.
    """
    started = time.perf_counter()
    keys = [fp.lookup_keys(o.frames) for o in corpus.originals]
    stored = [fp.Fingerprint.stored(o.to_bytes()) for o in corpus.originals]  # what the database gives back
    out = Scores()
    for i, mine in enumerate(corpus.copies):
        queries = [(name, copy) for name, copy in mine.items()] + [("", corpus.originals[i])]
        for name, query in queries:
            if name:
                sim = fp.similarity(query, stored[i])
                out.true_sims[name].append(sim)
                out.found[name].append(bool(fp.query_keys(query) & keys[i]) and sim >= fp.MATCH_SHARE)
            out.false_sims.extend(fp.similarity(query, stored[j]) for j in range(len(stored)) if j != i)
    out.seconds = time.perf_counter() - started
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=36)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    corpus = build_corpus(find_tools(), args.clips, args.seconds)
    s = score(corpus)

    all_true = [x for sims in s.true_sims.values() for x in sims]
    all_found = [x for hits in s.found.values() for x in hits]
    recall = sum(all_found) / len(all_found)
    false_matches = sum(x >= fp.MATCH_SHARE for x in s.false_sims)
    false_rate = false_matches / len(s.false_sims)
    print()
    print(f"{'edit':<10} {'recall':>7} {'worst':>6}")
    for name, sims in s.true_sims.items():
        print(f"{name:<10} {sum(s.found[name]) / len(sims):>7.3f} {min(sims):>6.2f}")
    print(f"\nrecall {recall:.3f} over {len(all_true)} copies, found through lookup keys and compared "
          f"(target >= {TARGETS['recall_min']})")  # fmt: skip
    print(f"false matches {false_rate:.4f}: {false_matches} of {len(s.false_sims)} pairs of different clips "
          f"(target <= {TARGETS['false_match_max']})")  # fmt: skip
    print(f"margin: worst true pair {min(all_true):.2f}, best false pair {max(s.false_sims):.2f}, "
          f"threshold {fp.MATCH_SHARE}")  # fmt: skip
    fp_cpu, decode_cpu = statistics.median(corpus.fingerprint_cpu), statistics.median(corpus.decode_cpu)
    ratio = fp_cpu / decode_cpu
    print(f"CPU per clip: fingerprint {fp_cpu:.3f} s vs decode only {decode_cpu:.3f} s (x{ratio:.2f}); "
          f"{len(s.false_sims) + len(all_true)} comparisons in {s.seconds:.2f} s")  # fmt: skip
    result = {
        "bench": "fingerprint",
        "clips": args.clips,
        "copies": len(all_true),
        "recall": round(recall, 4),
        "recall_by_edit": {k: round(sum(v) / len(v), 4) for k, v in s.found.items()},
        "false_match_rate": round(false_rate, 5),
        "different_pairs": len(s.false_sims),
        "worst_true_similarity": round(min(all_true), 3),
        "best_false_similarity": round(max(s.false_sims), 3),
        "fingerprint_over_decode_cpu": round(ratio, 3),
        "targets_met": recall >= TARGETS["recall_min"] and false_rate <= TARGETS["false_match_max"],
    }
    print(json.dumps(result))
    return 0 if result["targets_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
