"""Editing decoded audio with pydub: loudness normalisation and joining recordings.

pydub only ever sees PCM that PyAV decoded: its `from_file` calls an ffprobe that is not installed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np

from dictation.audio.decode import SAMPLE_RATE, Source, decode

with warnings.catch_warnings():
    # pydub warns at import that ffmpeg is missing (we never let it call ffmpeg) and, on
    # Python 3.11-3.12, that audioop is deprecated.
    warnings.simplefilter("ignore", RuntimeWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment


def _segment(samples: np.ndarray, sample_rate: int) -> AudioSegment:
    pcm = np.round(np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767).astype("<i2")
    return AudioSegment(data=pcm.tobytes(), sample_width=2, frame_rate=sample_rate, channels=1)


def _samples(segment: AudioSegment) -> np.ndarray:
    return np.frombuffer(segment.raw_data, dtype="<i2").astype(np.float32) / 32768.0


def normalize(samples: np.ndarray, target_dbfs: float = -20.0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The samples with a gain that brings `loudness_dbfs` to `target_dbfs` (via pydub, 16-bit).

    Peaks the gain pushes past full scale are clipped, as pydub does; at -20 dBFS speech
    rarely gets there. Silence comes back unchanged.
    """
    segment = _segment(samples, sample_rate)
    if segment.rms == 0:
        return np.asarray(samples, dtype=np.float32).copy()
    return _samples(segment.apply_gain(target_dbfs - segment.dBFS))


def join(sources: Iterable[Source], gap_seconds: float = 0.75, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Several memos as one, in order, with `gap_seconds` of silence between them."""
    joined = None
    gap = AudioSegment.silent(duration=round(gap_seconds * 1000), frame_rate=sample_rate)
    for source in sources:
        segment = _segment(decode(source, sample_rate), sample_rate)
        joined = segment if joined is None else joined + gap + segment
    return np.zeros(0, dtype=np.float32) if joined is None else _samples(joined)

