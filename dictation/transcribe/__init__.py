"""Transcription: memo audio in, a `Transcript` (segments, words, timings) out.

    from dictation.transcribe import TranscribeOptions, transcribe
    options = TranscribeOptions.from_settings(settings)
    transcript = transcribe("memo.m4a", options, progress=lambda f: print(f"{f:.0%}"))

Long memos are transcribed piece by piece, each cut in a pause, so memory stays flat;
each piece's speech coverage is checked (see coverage.py) before the pieces are joined.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from dictation.transcribe import heap
from dictation.transcribe.coverage import repair_coverage
from dictation.transcribe.engines import SAMPLE_RATE, Engine, Progress, load_engine
from dictation.transcribe.options import TranscribeOptions
from dictation.transcribe.result import Segment, Transcript, Word
from dictation.transcribe.segments import tidy_segments
from dictation.transcribe.vad import speech_spans

if TYPE_CHECKING:
    from dictation.audio import DecodeReport

__all__ = [
    "Engine", "Progress", "Segment", "Transcript", "TranscribeOptions", "Word",
    "load_engine", "transcribe", "transcribe_audio",
]

# A piece is cut at the quietest half second in its last quarter, so no word is split.
_CUT_SEARCH_FRACTION = 0.25
_CUT_SMOOTH_SECONDS = 0.5
# Whisper's own threshold for "this window holds no speech".
_NO_SPEECH_DOUBT = 0.6


def transcribe(
    source: str | Path | BinaryIO | bytes | np.ndarray,
    options: TranscribeOptions,
    progress: Progress | None = None,
    engine: Engine | None = None,
    decode_report: DecodeReport | None = None,
) -> Transcript:
    """Transcribe a memo file (path, file object, bytes: any format `dictation.audio`
    reads) or 16 kHz mono float32 PCM. `decode_report` collects what of the file could not be
    decoded (gaps of silence in the transcript's timeline).

    A file is decoded while it is transcribed, a piece at a time, so memory stays flat
    however long the memo. `progress(fraction)` gets the fraction of audio done, 0..1.
    """
    heap.limit()  # before the engine's threads exist: they would each get a heap of their own
    engine = engine or load_engine(options)
    heap.trim()  # a first load reads the whole model file through the heap on its way in
    if isinstance(source, np.ndarray):
        return transcribe_audio(source, engine, options, progress)
    from dictation import audio

    position = source.tell() if hasattr(source, "tell") else None
    expected = int(audio.probe(source).duration * SAMPLE_RATE)
    if position is not None:
        source.seek(position)  # type: ignore[union-attr]
    blocks = audio.iter_decode(source, chunk_seconds=options.chunk_seconds / 2, report=decode_report)
    return _transcribe_blocks(blocks, expected, engine, options, progress)


def transcribe_audio(
    audio: np.ndarray,
    engine: Engine,
    options: TranscribeOptions,
    progress: Progress | None = None,
) -> Transcript:
    """Transcribe 16 kHz mono float32 PCM already in memory with `engine`."""
    audio = np.asarray(audio, dtype=np.float32)
    return _transcribe_blocks([audio], len(audio), engine, options, progress)


def _quietest_cut(piece: np.ndarray) -> int:
    """Sample index of the quietest moment in the last quarter of `piece`."""
    begin = int(len(piece) * (1 - _CUT_SEARCH_FRACTION))
    tail = piece[begin:].astype(np.float64) ** 2
    width = int(_CUT_SMOOTH_SECONDS * SAMPLE_RATE)
    if len(tail) <= width:
        return len(piece)
    energy = np.convolve(tail, np.ones(width) / width, mode="valid")
    return begin + int(np.argmin(energy)) + width // 2


def _pieces(blocks: Iterable[np.ndarray], chunk_seconds: float) -> Iterator[tuple[int, np.ndarray]]:
    """(offset in samples, piece) covering the blocks, each at most `chunk_seconds` long, but
    the last, which may run a quarter longer.

    A cut costs the model its context and moves segment ends (a 128 s memo cut at 120 s lost a
    paragraph break), so audio is held back until the rest is clearly longer than one piece:
    a memo up to 1.25 × `chunk_seconds` is transcribed whole."""
    limit = int(chunk_seconds * SAMPLE_RATE)
    hold = limit + int(limit * _CUT_SEARCH_FRACTION)
    offset = 0
    buffer = np.zeros(0, dtype=np.float32)
    for block in blocks:
        buffer = np.concatenate([buffer, block]) if len(buffer) else block
        while len(buffer) > hold:
            cut = _quietest_cut(buffer[:limit])
            yield offset, buffer[:cut]
            offset, buffer = offset + cut, buffer[cut:]
    if len(buffer) or not offset:
        yield offset, buffer


def _shift(segments: list[Segment], seconds: float) -> list[Segment]:
    return [
        replace(
            s,
            start=s.start + seconds,
            end=s.end + seconds,
            words=[replace(w, start=w.start + seconds, end=w.end + seconds) for w in s.words],
        )
        for s in segments
    ]


def _heard(segment: Segment, spans: list[tuple[float, float]]) -> bool:
    """False for text the model doubts (no_speech_prob) where VAD heard no speech either:
    Whisper writes "You" or "Thank you." over silence when VAD is switched off."""
    if segment.no_speech_prob < _NO_SPEECH_DOUBT:
        return True
    return any(a - 0.2 < segment.end and segment.start < b + 0.2 for a, b in spans)


class _Monotonic:
    """Maps a piece's own 0..1 to the whole memo and never reports a smaller value."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, max(total, 1), 0.0

    def piece(self, offset: int, length: int) -> Progress:
        return lambda fraction: self(offset + fraction * length)

    def __call__(self, samples: float, final: bool = False) -> None:
        # 100 % only once the transcript is whole: a header's duration may be a bit short.
        fraction = 1.0 if final else float(min(0.99, samples / self.total))
        if self.progress is not None and fraction > self.done:
            self.done = fraction
            self.progress(fraction)


def _transcribe_blocks(
    blocks: Iterable[np.ndarray],
    expected: int,
    engine: Engine,
    options: TranscribeOptions,
    progress: Progress | None,
) -> Transcript:
    """Transcribe PCM arriving in blocks, piece by piece; `expected` samples in all
    (from the file's header, so progress can be shown before the end is decoded)."""
    meter = _Monotonic(progress, expected)
    total = 0
    segments: list[Segment] = []
    sparse: list[tuple[float, float]] = []
    language, probability = None, 0.0
    for offset, piece in _pieces(blocks, options.chunk_seconds):
        total = offset + len(piece)
        spans = speech_spans(piece) if options.vad or options.check_coverage else []
        if options.vad and not spans:
            meter(offset + len(piece))  # silence: nothing to decode, nothing to invent
            continue
        result = engine.transcribe(piece, options, meter.piece(offset, len(piece)), speech=spans or None)
        if options.check_coverage and spans:
            result = repair_coverage(piece, result, engine, options, spans)
        seconds = offset / SAMPLE_RATE
        judged = options.vad or options.check_coverage  # else no VAD to judge doubts by
        heard = [s for s in result.segments if _heard(s, spans)] if judged else result.segments
        segments.extend(_shift(heard, seconds))
        sparse.extend((round(a + seconds, 3), round(b + seconds, 3)) for a, b in result.sparse_spans)
        if language is None and heard:
            language, probability = result.language, result.language_probability
            if options.language == "auto" and language in ("en", "fr"):
                # The rest of the memo keeps the language its first words were heard in.
                options = replace(options, language=language)
        heap.trim()  # what this piece freed goes back before the next one allocates
    meter(total, final=True)
    segments = tidy_segments(segments)
    return Transcript(
        language=language or (options.forced_language or ""),
        duration=round(total / SAMPLE_RATE, 3),
        segments=segments,
        language_probability=probability if language else 0.0,
        no_speech=not segments,
        sparse_spans=sparse,
        engine=engine.name,
        model=engine.model_name,
    )
