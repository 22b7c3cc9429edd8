"""Waveform peaks for the editor's player."""

from __future__ import annotations

import math

import numpy as np

from dictation.audio.decode import SAMPLE_RATE


def peaks(
    samples: np.ndarray, sample_rate: int = SAMPLE_RATE, per_second: int = 50, max_points: int = 30_000
) -> list[float]:
    """The loudest |sample| of each 1/`per_second` s window, for drawing a waveform.

    Values lie in [0, 1], scaled so the memo's loudest window is 1.0 (a quiet memo still draws
    a visible waveform; silence gives zeros). At most `max_points` values: a memo longer than
    max_points / per_second seconds gets wider windows. Rounded to 3 decimals for small JSON.
    """
    x = np.abs(np.asarray(samples, dtype=np.float32).reshape(-1))
    if not x.size:
        return []
    count = min(max(1, math.ceil(x.size * per_second / sample_rate)), max_points, x.size)
    starts = np.linspace(0, x.size, count + 1).astype(np.int64)[:-1]
    values = np.maximum.reduceat(x, starts)
    top = float(values.max())
    if top > 0:
        values = values / top
    return [round(float(v), 3) for v in np.clip(values, 0.0, 1.0)]

