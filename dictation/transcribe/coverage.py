"""Nothing said may be silently dropped: compare speech heard by VAD with words written.

Greedy decoding was seen here to swallow 20 s of French speech into one short segment.
Speech spans found by VAD are cut into short windows; a run of windows holding
implausibly few words per second is decoded again on its own (beam search, no VAD) and
the result with more words is spliced in. A run that stays sparse is recorded in
`Transcript.sparse_spans` so the editor can show it rather than hide it. Audio that could
not be decoded at all (`DecodeReport.gaps`) is unheard speech too, and joins them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from dictation.transcribe.engines.base import SAMPLE_RATE, Engine
from dictation.transcribe.options import TranscribeOptions
from dictation.transcribe.result import Segment, Transcript
from dictation.transcribe.segments import tidy_segments
from dictation.transcribe.vad import (
    FINE_SILENCE_MS,
    WIDEN_ACROSS_SECONDS,
    merge_spans,
    speech_spans,
)

# Windows this long inside a span are compared on their own; real speech here runs at
# ~3 words per second, so even a 1.5 s hesitation leaves a window well above 0.6.
WINDOW_SECONDS = 4.0
# Audio kept either side of a span that is decoded again, so its edge words are whole.
REDECODE_PAD_SECONDS = 0.5


def _word_times(segments: list[Segment]) -> np.ndarray:
    """Midpoint of every word; segments without word timings spread their words evenly."""
    times: list[float] = []
    for segment in segments:
        if segment.words:
            times.extend((w.start + w.end) / 2 for w in segment.words)
        else:
            count = len(segment.text.split())
            step = (segment.end - segment.start) / max(count, 1)
            times.extend(segment.start + step * (i + 0.5) for i in range(count))
    return np.array(sorted(times))


def _windows(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    windows: list[tuple[float, float]] = []
    for start, end in spans:
        count = max(1, int((end - start) // WINDOW_SECONDS))
        edges = np.linspace(start, end, count + 1)
        windows.extend(zip(edges[:-1], edges[1:], strict=True))
    return windows


def _count(times: np.ndarray, start: float, end: float) -> int:
    return int(np.searchsorted(times, end) - np.searchsorted(times, start))


def find_sparse(
    spans: list[tuple[float, float]], segments: list[Segment], options: TranscribeOptions
) -> list[tuple[float, float]]:
    """Runs of adjacent speech windows below `min_words_per_second`, holding at least
    `min_sparse_seconds` of speech, as (start, end) seconds."""
    times = _word_times(segments)
    regions: list[tuple[float, float, float]] = []  # start, end, seconds of speech
    for start, end in _windows(spans):
        if _count(times, start, end) / (end - start) >= options.min_words_per_second:
            continue
        if regions and start - regions[-1][1] <= FINE_SILENCE_MS / 1000 * 2 + 0.01:
            first, _, seconds = regions[-1]
            regions[-1] = (first, end, seconds + end - start)
        else:
            regions.append((start, end, end - start))
    return [
        (float(start), float(end))
        for start, end, seconds in regions
        if seconds >= options.min_sparse_seconds
        and _count(times, start, end) / seconds < options.min_words_per_second
    ]


def _timings(segments: list[Segment]) -> list[tuple[float, float]]:
    """(start, end) of every word, or of the segment when it has no word timings."""
    return [
        (w.start, w.end) for s in segments for w in s.words
    ] + [(s.start, s.end) for s in segments if not s.words]


def _splice(
    segments: list[Segment], start: float, end: float, spans: list[tuple[float, float]],
    engine: Engine, audio: np.ndarray, options: TranscribeOptions,
) -> tuple[list[Segment], bool]:
    """Decode [start, end] again; return the segments with the better version, and
    whether the span is still sparse."""
    # Widen to the words either side, within the speech around the gap, so speech lost
    # at the window edges comes back too without decoding long silences (where Whisper
    # invents text); then to every segment touching it, so none is kept half-replaced.
    talk = merge_spans(spans, WIDEN_ACROSS_SECONDS)
    outer_lo = min([start] + [a for a, b in talk if a <= start < b])
    outer_hi = max([end] + [b for a, b in talk if a < end <= b])
    timed = _timings(segments)
    lo = max([outer_lo] + [b for a, b in timed if b <= start])
    hi = min([outer_hi] + [a for a, b in timed if a >= end])
    overlapping = [s for s in segments if s.start < hi and s.end > lo]
    lo = min([lo] + [s.start for s in overlapping])
    hi = max([hi] + [s.end for s in overlapping])
    first = max(0.0, lo - REDECODE_PAD_SECONDS)
    piece = audio[int(first * SAMPLE_RATE) : int((hi + REDECODE_PAD_SECONDS) * SAMPLE_RATE)]
    again = engine.transcribe(piece, options)
    fresh = [
        replace(
            s,
            start=s.start + first,
            end=s.end + first,
            words=[replace(w, start=w.start + first, end=w.end + first) for w in s.words],
        )
        for s in again.segments
        if lo <= first + (s.start + s.end) / 2 <= hi
    ]
    old_count = _count(_word_times(overlapping), start, end)
    new_count = _count(_word_times(fresh), start, end)
    if new_count > old_count:
        dropped = {id(s) for s in overlapping}
        kept = [s for s in segments if id(s) not in dropped]
        segments = sorted(kept + fresh, key=lambda s: s.start)
        best = new_count
    else:
        best = old_count
    still_sparse = best / (end - start) < options.min_words_per_second
    return segments, still_sparse


def repair_coverage(
    audio: np.ndarray,
    transcript: Transcript,
    engine: Engine,
    options: TranscribeOptions,
    spans: list[tuple[float, float]] | None = None,
) -> Transcript:
    """Re-decode sparse spans of `transcript` and record those that stay sparse."""
    spans = speech_spans(audio) if spans is None else spans
    sparse = find_sparse(spans, transcript.segments, options)
    if not sparse:
        return transcript
    language = transcript.language if transcript.language in ("en", "fr") else options.language
    again = replace(
        options, vad=False, beam_size=max(5, options.beam_size), language=language,
        check_coverage=False,
    )
    segments = list(transcript.segments)
    flagged = list(transcript.sparse_spans)
    for start, end in sparse:
        segments, still_sparse = _splice(segments, start, end, spans, engine, audio, again)
        if still_sparse:
            flagged.append((round(start, 3), round(end, 3)))
    return replace(transcript, segments=tidy_segments(segments), sparse_spans=flagged)


def with_decode_gaps(transcript: Transcript, gaps: list[tuple[float, float]]) -> Transcript:
    """`transcript` with the audio that could not be decoded counted among its sparse spans:
    nothing was written there, and nobody can tell whether something was said."""
    if not gaps:
        return transcript
    spans = sorted([tuple(s) for s in transcript.sparse_spans] + [(round(a, 3), round(b, 3)) for a, b in gaps])
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return replace(transcript, sparse_spans=merged)
