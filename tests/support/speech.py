"""Short real speech for tests and benchmarks that need many distinct memos: JFK's inaugural
line, each copy at a slightly different gain, so every recording has its own bytes (the same
bytes from the same author would be one memo)."""

from __future__ import annotations

import io
import wave

import numpy as np

from tests.conftest import SHARED

JFK = SHARED / "audio" / "real" / "jfk.flac"


def jfk_clips(count: int, last_seconds: float | None = None) -> list[bytes]:
    """`count` 16 kHz mono 16-bit WAV recordings of jfk.flac (or of its last seconds)."""
    from dictation import audio

    samples = audio.decode(JFK)
    if last_seconds:
        samples = samples[-int(last_seconds * audio.SAMPLE_RATE):]
    out = []
    for i in range(count):
        pcm = (np.clip(samples * (0.95 - 0.004 * i), -1, 1) * 32767).astype("<i2")
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(audio.SAMPLE_RATE)
            wav.writeframes(pcm.tobytes())
        out.append(buffer.getvalue())
    return out
