"""Waveform peaks for the editor's player, measured as the audio streams past."""

from __future__ import annotations

import numpy as np

from dictation.audio.decode import SAMPLE_RATE


class PeakMeter:
    """The loudest |sample| of each 1/`per_second` s window, fed block by block.

    Keeps one float per window (an hour at 50 a second is 180,000 floats), never the audio.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, per_second: int = 50) -> None:
        self.window = max(1, round(sample_rate / per_second))
        self._maxima: list[np.ndarray] = []
        self._carry = np.zeros(0, dtype=np.float32)

    def add(self, samples: np.ndarray) -> None:
        x = np.abs(np.asarray(samples, dtype=np.float32).reshape(-1))
        if self._carry.size:
            x = np.concatenate([self._carry, x])
        whole = x.size // self.window * self.window
        if whole:
            self._maxima.append(x[:whole].reshape(-1, self.window).max(axis=1))
        self._carry = x[whole:]

    def values(self, max_points: int = 30_000) -> list[float]:
        """In [0, 1], scaled so the loudest window is 1.0 (a quiet memo still draws a visible
        waveform; silence gives zeros); at most `max_points` (longer memos get wider windows);
        rounded to 3 decimals for small JSON."""
        parts = self._maxima + ([self._carry.max(keepdims=True)] if self._carry.size else [])
        if not parts:
            return []
        values = np.concatenate(parts)
        if values.size > max_points:
            starts = np.linspace(0, values.size, max_points + 1).astype(np.int64)[:-1]
            values = np.maximum.reduceat(values, starts)
        top = float(values.max())
        if top > 0:
            values = values / top
        return [round(float(v), 3) for v in np.clip(values, 0.0, 1.0)]


def peaks(
    samples: np.ndarray, sample_rate: int = SAMPLE_RATE, per_second: int = 50, max_points: int = 30_000
) -> list[float]:
    """The loudest |sample| of each 1/`per_second` s window of PCM in memory (see PeakMeter)."""
    meter = PeakMeter(sample_rate, per_second)
    meter.add(samples)
    return meter.values(max_points)
