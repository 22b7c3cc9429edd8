"""Where speech is: Silero VAD spans (engine-independent), and the clips the engines decode."""

from __future__ import annotations

import numpy as np

# The 16 kHz audio decodes at and the engines take; from audio, as the engines import this module.
from dictation.audio import SAMPLE_RATE
from dictation.transcribe import heap
from dictation.transcribe.options import TranscribeOptions

# Short pauses split spans (sentence level); coarse spans (VAD's defaults) hide a
# swallowed 20 s inside a 28 s paragraph that is otherwise well transcribed.
FINE_SILENCE_MS = 500
FINE_PAD_MS = 200
# A re-decode may widen across pauses shorter than this (a breath, a comma), not across
# a long silence.
WIDEN_ACROSS_SECONDS = 2.0


def speech_spans(audio: np.ndarray) -> list[tuple[float, float]]:
    """Seconds (start, end) where Silero VAD hears speech, split at pauses of 0.5 s;
    engine-independent (faster-whisper's copy of Silero works on any numpy audio)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if len(audio) == 0:
        return []
    vad = VadOptions(min_silence_duration_ms=FINE_SILENCE_MS, speech_pad_ms=FINE_PAD_MS)
    spans = [
        (s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE)
        for s in get_speech_timestamps(audio, vad)
    ]
    # Silero's buffers (~0.4 MB per second of audio) would otherwise stay in glibc's heap
    # and add to the worker's peak while Whisper decodes.
    heap.trim()
    return spans


def decoding_spans(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Fine spans joined across short pauses: what the engines decode when VAD is on.

    Whisper needs the context of the neighbouring sentence; only silences of 2 s or
    more (VAD's usual threshold) are skipped.
    """
    return merge_spans(spans, WIDEN_ACROSS_SECONDS)


def merge_spans(spans: list[tuple[float, float]], gap: float) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in spans:
        if merged and a - merged[-1][1] < gap:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def clips(
    audio: np.ndarray, options: TranscribeOptions, speech: list[tuple[float, float]] | None
) -> list[float] | None:
    """Flat [start, end, start, end...] of the speech to decode; [] when there is none,
    None when the whole audio is to be decoded (VAD off)."""
    if not options.vad:
        return None
    spans = decoding_spans(speech_spans(audio) if speech is None else speech)
    return [round(edge, 3) for span in spans for edge in span]


