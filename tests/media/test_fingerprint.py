"""Perceptual fingerprints: what survives an edit, what tells clips apart, and the transcode's own copy.

The recall and false-match figures over a corpus are measured by `bench.fingerprint`; these tests
pin the properties each figure rests on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from media.pipelines import fingerprint as fp
from media.pipelines.tools import Tools
from media.pipelines.transcode import transcode
from tests.media.clips import H264, ffmpeg
from tests.media.conftest import SMALL


def picture(seed: int) -> np.ndarray:
    """A SIDE x SIDE gray frame with coarse structure (blobs at random places), as a thumbnail of a real frame."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0 : fp.SIDE, 0 : fp.SIDE]
    img = np.full((fp.SIDE, fp.SIDE), 90.0)
    for _ in range(5):
        cx, cy, r, level = rng.uniform(0, fp.SIDE), rng.uniform(0, fp.SIDE), rng.uniform(4, 10), rng.uniform(0, 255)
        img[(xs - cx) ** 2 + (ys - cy) ** 2 < r * r] = level
    return img.astype(np.uint8)


def _distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def test_a_noisy_or_brighter_copy_of_a_frame_keeps_its_hash_and_another_picture_does_not() -> None:
    rng = np.random.default_rng(7)
    for seed in range(20):
        img = picture(seed)
        noisy = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
        brighter = np.clip(img.astype(np.int16) * 1.2 + 15, 0, 255).astype(np.uint8)
        h = fp.frame_hash(img)
        assert _distance(h, fp.frame_hash(noisy)) <= fp.FRAME_BITS
        assert _distance(h, fp.frame_hash(brighter)) <= fp.FRAME_BITS
        assert _distance(h, fp.frame_hash(picture(seed + 100))) > fp.FRAME_BITS


def clip_of(seeds: list[int]) -> fp.Fingerprint:
    return fp.Fingerprint.from_thumbnails(picture(s) for s in seeds)


def test_a_mirrored_copy_matches_and_a_different_clip_does_not() -> None:
    original = clip_of(list(range(12)))
    mirrored = fp.Fingerprint.from_thumbnails(picture(s)[:, ::-1] for s in range(12))
    stored = fp.Fingerprint.stored(original.to_bytes())
    assert fp.similarity(mirrored, stored) == 1.0
    assert fp.matches(mirrored, stored)
    assert not fp.matches(clip_of(list(range(50, 62))), stored)


def test_a_copy_that_starts_a_sample_later_still_lines_up() -> None:
    stored = fp.Fingerprint.stored(clip_of(list(range(12))).to_bytes())
    assert fp.matches(clip_of(list(range(1, 12))), stored)


def test_flat_frames_count_for_nothing() -> None:
    black = np.zeros((fp.SIDE, fp.SIDE), dtype=np.uint8)
    title_card = np.full((fp.SIDE, fp.SIDE), 200, dtype=np.uint8)
    blank = fp.Fingerprint.from_thumbnails([black, title_card] * 6)
    assert blank.informative == 0
    assert fp.lookup_keys(blank.frames) == set()
    assert fp.similarity(blank, fp.Fingerprint.stored(blank.to_bytes())) == 0.0  # two blank clips are not copies
    # A clip too short to judge (fewer than MIN_FRAMES informative frames) matches nothing either.
    short = clip_of([1, 2, 3])
    assert not fp.matches(short, fp.Fingerprint.stored(short.to_bytes()))


def test_stored_form_round_trips_and_copies_share_lookup_keys() -> None:
    original = fp.Fingerprint.from_thumbnails([picture(1), np.zeros((fp.SIDE, fp.SIDE), np.uint8), picture(2)])
    assert fp.Fingerprint.stored(original.to_bytes()).frames == original.frames
    rng = np.random.default_rng(3)
    noisy = fp.Fingerprint.from_thumbnails(
        np.clip(picture(s) + rng.normal(0, 4, (fp.SIDE, fp.SIDE)), 0, 255).astype(np.uint8) for s in range(8)
    )
    assert fp.query_keys(noisy) & fp.lookup_keys(clip_of(list(range(8))).frames)


@pytest.fixture(scope="module")
def copies(clip: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The portrait test clip, edited as re-uploaders do, and an unrelated clip."""
    d = tmp_path_factory.mktemp("copies")
    source = clip("portrait")
    out = {"original": source}
    for name, vf in {"mirror_scaled": "hflip,scale=270:480", "cropped": "crop=iw*0.93:ih*0.93"}.items():
        out[name] = d / f"{name}.mp4"
        ffmpeg("-i", str(source), "-vf", vf, *H264, "-crf", "30", str(out[name]))
    out["other"] = d / "other.mp4"
    ffmpeg("-f", "lavfi", "-i", "cellauto=s=540x960:r=30:rule=110,scale=540:960", "-t", "5", *H264, str(out["other"]))
    return out


def test_real_edited_files_match_their_original_and_not_another_clip(tools: Tools, copies: dict[str, Path]) -> None:
    prints = {name: fp.fingerprint_file(tools, path) for name, path in copies.items()}
    assert prints["original"].informative >= 8  # 5 s at 2 samples a second
    stored = fp.Fingerprint.stored(prints["original"].to_bytes())
    assert fp.matches(prints["mirror_scaled"], stored)
    assert fp.matches(prints["cropped"], stored)
    assert not fp.matches(prints["other"], stored)


def test_the_transcode_makes_the_same_fingerprint_in_its_single_decode(
    tools: Tools, copies: dict[str, Path], tmp_path: Path
) -> None:
    run = transcode(tools, copies["original"], tmp_path / "work", SMALL)
    alone = fp.fingerprint_file(tools, copies["original"])
    assert run.fingerprint.informative == alone.informative
    assert fp.similarity(run.fingerprint, fp.Fingerprint.stored(alone.to_bytes())) >= 0.9
