"""Two-pass EBU R128 loudness normalisation: one gain for the whole clip, then a true-peak limiter.

Pass one runs during analysis, on the decode it already makes: ffmpeg's
`ebur128` meter measures the stereo downmix (integrated loudness, its gating
threshold, loudness range, true peak), and beside it one meter per candidate
gain measures the audio as pass two would make it with that gain (gain, then
the limiter). The gain that lands on the target is read off those points.
Pass two, inside the transcode, applies that one gain (no pumping) and limits
the peaks it pushes over the true-peak target with `alimiter` at 4x the
output rate (192 kHz), where sample peaks are the true peaks (BS.1770 measures
true peak by the same 4x oversampling).

Why not `loudnorm`: in linear mode it applies one gain only if that keeps the
true peak under the target, and otherwise silently switches to its dynamic
mode, which limits poorly: on audio with sharp peaks (claps, clicks, plosives)
clips landed 2.5-3.5 LU under -14 LUFS, and the AAC encode still peaked at
-0.7 dBTP against -1.5 (issue 12.12; a click track here: -17.1 LUFS, a tone
with clicks: -0.5 dBTP). Why not simply gain = target - measured: the limiter
takes the peaks' energy out with them, which was 2-3 LU of the click track's
measured loudness (-16.1 to -17.1 LUFS out, by the release time); the candidate
meters see that loss.
Why the limiter sits under the target: AAC rebuilds a limited transient up to
~1 dB higher than the PCM it was given.
Silence is left alone.
"""

from __future__ import annotations

import itertools
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
    gain_db: float  # what pass two applies before its limiter


# The limiter works at 4x the output rate so the peaks between samples (what true peak measures, and what
# the resampling and the AAC decoder rebuild) are samples it sees.
OVERSAMPLE = 4
# Lookahead (ms): long enough to bring the gain down smoothly before a transient, short enough to leave the
# attack of the sound around it; the release (ms) recovers the gain without audible pumping.
LIMITER_ATTACK_MS = 5.0
LIMITER_RELEASE_MS = 50.0
# The limiter's ceiling sits this far under the true-peak target: the AAC encoder rebuilds a limited
# transient up to ~1 dB over the PCM it was given (measured on click tracks at 128 kb/s).
CODEC_HEADROOM_DB = 1.0
# alimiter's own range for `limit` (linear amplitude).
_LIMIT_RANGE = (0.0625, 1.0)
# Pass one meters the clip as pass two would make it at each of these gains (dB): from taming a loud master
# to lifting a quiet phone recording, 6 dB apart: the loudness after the limiter is smooth in the gain, and
# reading between two points lands within 0.1 LU of what a 3 dB grid finds, at half the cost (each point
# costs about 1/500 of real time: the nine add ~1.1 s to the analysis of a minute of audio).
GAIN_GRID: tuple[float, ...] = tuple(float(g) for g in range(-12, 40, 6))
# At most this much gain over the plain (target - measured) one: past it the loudness is in peaks the limiter
# has to flatten (a click track), and more gain would only lift the noise under them.
MAX_MAKEUP_DB = 6.0


def peak_limit(config: PipelineConfig) -> float:
    """The limiter's ceiling (under the true-peak target by the codec's headroom) as alimiter's linear `limit`."""
    low, high = _LIMIT_RANGE
    return min(high, max(low, 10 ** ((config.loudness_tp - CODEC_HEADROOM_DB) / 20)))


def limiter(config: PipelineConfig) -> tuple[str, dict[str, str]]:
    return (
        "alimiter",
        {
            "limit": f"{peak_limit(config):.6f}",
            "attack": f"{LIMITER_ATTACK_MS:g}",
            "release": f"{LIMITER_RELEASE_MS:g}",
            # No make-up gain: the level is the measured gain's, the limiter only takes peaks down.
            "level": "disabled",
            # Its lookahead would delay the sound by `attack` (and drop the last `attack` at the end).
            "latency": "enabled",
        },
    )


def _filter(name: str, options: dict[str, str]) -> str:
    return name + "=" + ":".join(f"{k}={v}" for k, v in options.items())


def measure_graph(source: str, config: PipelineConfig) -> tuple[str, str]:
    """Pass one as a -filter_complex on the `source` pad: (graph, the label of its one output).

    The plain meter's output goes on to the null muxer; each candidate's chain ends in a sink. The
    candidates limit at the input rate: the loudness they read does not need the 4x of the real limiter.
    """
    labels = [f"gain{i}" for i in range(len(GAIN_GRID))]
    parts = [f"[{source}]{DOWNMIX},asplit={len(labels) + 1}[plain]" + "".join(f"[{x}]" for x in labels)]
    parts.append("[plain]ebur128=peak=true:framelog=quiet[loudness]")
    for label, gain in zip(labels, GAIN_GRID, strict=True):
        volume = _filter("volume", {"volume": f"{gain:g}dB", "precision": "float"})
        parts.append(f"[{label}]{volume},{_filter(*limiter(config))},ebur128=framelog=quiet,anullsink")
    return ";".join(parts), "loudness"


def apply_filters(
    config: PipelineConfig, measured: Loudness | None, duration: float
) -> list[tuple[str, dict[str, str]]]:
    """The audio chain of the transcode as (filter, options) pairs: downmix, gain, limit, resample, fit.

    The track is padded or cut to exactly `duration` (the video's), because a
    short audio track would end the MP4 early.
    """
    # The audio on the video's timeline from 0: a track that starts late (or has holes) gets silence there,
    # so every output (HLS, MP4) carries it in sync without relying on timestamps or edit lists.
    chain: list[tuple[str, dict[str, str]]] = [
        ("aresample", {"async": "1", "first_pts": "0"}),
        ("aformat", {"channel_layouts": "stereo"}),
    ]
    if measured is not None and measured.input_i > SILENCE_LUFS:
        chain += [
            ("volume", {"volume": f"{measured.gain_db:.2f}dB", "precision": "float"}),
            ("aresample", {"out_sample_rate": str(OVERSAMPLE * config.audio_rate)}),
            limiter(config),
        ]
    # The ladder's audio is 48 kHz stereo float for the AAC encoder.
    chain.append(("aresample", {"out_sample_rate": str(config.audio_rate)}))
    # The samples are contiguous from 0 (aresample async=1 filled any hole), so their count is their time:
    # rebuilding the timestamps from it keeps the rate round trip and the limiter's lookahead flush from
    # leaving any drift or gap (loudnorm, used before, left one of ~90 ms near the end of every clip).
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


_SUMMARY = re.compile(r"\[Parsed_ebur128_(\d+) @ [^\]]*\](?: \[info\])? Summary:")
_INTEGRATED = re.compile(r"Integrated loudness:\s*I:\s*(\S+) LUFS\s*Threshold:\s*(\S+) LUFS")


def _summaries(stderr: str) -> list[str]:
    """Each meter's summary, in graph order. A meter whose graph was configured twice prints twice;
    the last one counts."""
    found = list(_SUMMARY.finditer(stderr))
    last: dict[int, str] = {}
    for i, match in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(stderr)
        last[int(match.group(1))] = stderr[match.end() : end]
    return [last[k] for k in sorted(last)]


def solve_gain(config: PipelineConfig, input_i: float, candidates: list[tuple[float, float]]) -> float:
    """The gain whose limited output lands on the target, read between the metered (gain, loudness) points;
    never under the plain (target - measured) gain nor more than MAX_MAKEUP_DB over it."""
    plain = config.loudness_i - input_i
    gain = plain
    for (g0, l0), (g1, l1) in itertools.pairwise(candidates):
        if l0 <= config.loudness_i <= l1 and l1 > l0:
            gain = g0 + (config.loudness_i - l0) * (g1 - g0) / (l1 - l0)
            break
    else:
        if candidates and candidates[-1][1] < config.loudness_i:
            # Quieter than the grid reaches: the plain gain plus the loss the limiter showed at its top.
            top, loudness = candidates[-1]
            gain = plain + max(0.0, top + input_i - loudness)
    return min(plain + MAX_MAKEUP_DB, max(plain, gain))


def parse_measurement(stderr: str, config: PipelineConfig) -> Loudness | None:
    """Pass one's numbers from the summaries its meters print at the end (None when there are none)."""
    summaries = _summaries(stderr)
    if not summaries:
        return None
    plain, rest = summaries[0], summaries[1:]
    integrated = _INTEGRATED.search(plain)
    lra = re.search(r"LRA:\s*(\S+) LU\b", plain)
    peak = re.search(r"Peak:\s*(\S+) dBFS", plain)
    if integrated is None or lra is None or peak is None:
        return None
    input_i = _number(integrated.group(1))
    candidates = []
    for gain, text in zip(GAIN_GRID, rest, strict=False):
        if (m := _INTEGRATED.search(text)) and math.isfinite(_number(m.group(1))):
            candidates.append((gain, _number(m.group(1))))
    return Loudness(
        input_i=input_i,
        input_tp=_number(peak.group(1)),
        input_lra=max(0.0, _number(lra.group(1))),
        input_thresh=_number(integrated.group(2)),
        gain_db=round(solve_gain(config, input_i, candidates), 2) if input_i > SILENCE_LUFS else 0.0,
    )
