"""Two-pass EBU R128 loudness normalisation.

Pass one runs during analysis: ffmpeg's `ebur128` meter measures the stereo
downmix (integrated loudness, its gating threshold, loudness range, true peak)
at a quarter of the cost of a loudnorm first pass, which resamples to 192 kHz.
Pass two, inside the transcode, hands those numbers to `loudnorm` in linear mode:
one gain for the whole clip (no pumping), with loudnorm falling back to dynamic
mode only where a linear gain would push the true peak over the target.
Silence is left alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from media.pipelines.config import PipelineConfig

# Below this the clip is silence (or too short for gated loudness): nothing to normalise.
SILENCE_LUFS = -70.0
DOWNMIX = "aformat=channel_layouts=stereo"


@dataclass(frozen=True)
class Loudness:
    input_i: float
    input_tp: float
    input_lra: float
    input_thresh: float
    target_offset: float


def measure_filter() -> str:
    return f"{DOWNMIX},ebur128=peak=true:framelog=quiet"


def apply_filters(
    config: PipelineConfig, measured: Loudness | None, duration: float
) -> list[tuple[str, dict[str, str]]]:
    """The audio chain of the transcode as (filter, options) pairs: downmix, normalise, resample, fit.

    The track is padded or cut to exactly `duration` (the video's), because
    loudnorm pads its last frame and a short audio track would end the MP4 early.
    """
    # The audio on the video's timeline from 0: a track that starts late (or has holes) gets silence there,
    # so every output (HLS, MP4) carries it in sync without relying on timestamps or edit lists.
    chain: list[tuple[str, dict[str, str]]] = [
        ("aresample", {"async": "1", "first_pts": "0"}),
        ("aformat", {"channel_layouts": "stereo"}),
    ]
    if measured is not None and measured.input_i > SILENCE_LUFS:
        chain.append(
            (
                "loudnorm",
                {
                    "I": f"{config.loudness_i:g}",
                    "TP": f"{config.loudness_tp:g}",
                    "LRA": f"{config.loudness_lra:g}",
                    "measured_I": f"{measured.input_i:.2f}",
                    "measured_TP": f"{measured.input_tp:.2f}",
                    "measured_LRA": f"{measured.input_lra:.2f}",
                    "measured_thresh": f"{measured.input_thresh:.2f}",
                    "offset": f"{measured.target_offset:.2f}",
                    "linear": "true",
                },
            )
        )
    # loudnorm works at 192 kHz; the ladder's audio is 48 kHz stereo float for the AAC encoder.
    chain.append(("aresample", {"out_sample_rate": str(config.audio_rate)}))
    # loudnorm's output timestamps drift from its input's (a gap of ~90 ms near the end of every clip): the
    # samples are contiguous from 0, so their count is their time.
    chain.append(("asetpts", {"expr": "N/SR/TB"}))
    chain.append(("aformat", {"sample_fmts": "fltp", "channel_layouts": "stereo"}))
    chain.append(("apad", {"whole_dur": f"{duration:.6f}"}))
    chain.append(("atrim", {"end": f"{duration:.6f}"}))
    return chain


def _number(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        return -math.inf
    return number if math.isfinite(number) else -math.inf


def parse_measurement(stderr: str) -> Loudness | None:
    """The summary ebur128 prints when pass one ends (None when there is none)."""
    at = stderr.rfind("Summary:")
    if at < 0:
        return None
    summary = stderr[at:]
    integrated = re.search(r"Integrated loudness:\s*I:\s*(\S+) LUFS\s*Threshold:\s*(\S+) LUFS", summary)
    lra = re.search(r"LRA:\s*(\S+) LU\b", summary)
    peak = re.search(r"Peak:\s*(\S+) dBFS", summary)
    if integrated is None or lra is None or peak is None:
        return None
    return Loudness(
        input_i=_number(integrated.group(1)),
        input_tp=_number(peak.group(1)),
        input_lra=max(0.0, _number(lra.group(1))),
        input_thresh=_number(integrated.group(2)),
        target_offset=0.0,
    )
