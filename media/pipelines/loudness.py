"""Two-pass EBU R128 loudness normalisation with ffmpeg's loudnorm.

Pass one runs during analysis and measures the stereo downmix; pass two, inside
the transcode, applies a linear gain computed from those numbers (no pumping),
falling back to loudnorm's dynamic mode only where a linear gain would push the
true peak over the target. Silence is left alone.
"""

from __future__ import annotations

import json
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


def _targets(config: PipelineConfig) -> str:
    return f"I={config.loudness_i:g}:TP={config.loudness_tp:g}:LRA={config.loudness_lra:g}"


def measure_filter(config: PipelineConfig) -> str:
    return f"{DOWNMIX},loudnorm={_targets(config)}:print_format=json"


def apply_filters(
    config: PipelineConfig, measured: Loudness | None, duration: float
) -> list[tuple[str, dict[str, str]]]:
    """The audio chain of the transcode as (filter, options) pairs: downmix, normalise, resample, fit.

    The track is padded or cut to exactly `duration` (the video's), because
    loudnorm pads its last frame and a short audio track would end the MP4 early.
    """
    chain: list[tuple[str, dict[str, str]]] = [("aformat", {"channel_layouts": "stereo"})]
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
    chain.append(("aformat", {"sample_fmts": "fltp", "channel_layouts": "stereo"}))
    chain.append(("apad", {"whole_dur": f"{duration:.6f}"}))
    chain.append(("atrim", {"end": f"{duration:.6f}"}))
    return chain


def _number(value: object) -> float:
    try:
        number = float(str(value))
    except ValueError:
        return -math.inf
    return number if math.isfinite(number) else -math.inf


def parse_measurement(stderr: str) -> Loudness | None:
    """The JSON block loudnorm prints at the end of pass one (None when there is none)."""
    match = None
    for match in re.finditer(r"\{[^{}]*\"input_i\"[^{}]*\}", stderr):  # noqa: B007 - we want the last block
        pass
    if match is None:
        return None
    data = json.loads(match.group(0))
    return Loudness(
        input_i=_number(data.get("input_i")),
        input_tp=_number(data.get("input_tp")),
        input_lra=max(0.0, _number(data.get("input_lra"))),
        input_thresh=_number(data.get("input_thresh")),
        target_offset=_number(data.get("target_offset")) if math.isfinite(_number(data.get("target_offset"))) else 0.0,
    )
