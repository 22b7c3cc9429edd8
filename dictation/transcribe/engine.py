"""The Engine protocol every transcription backend implements, and helpers they share."""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np

from dictation.errors import InvalidInput
from dictation.transcribe.options import TranscribeOptions
from dictation.transcribe.result import Segment, Transcript, Word

# Called with the fraction (0..1) of the audio done, never decreasing.
Progress = Callable[[float], None]
SAMPLE_RATE = 16_000


@runtime_checkable
class Engine(Protocol):
    name: str  # "faster-whisper" or "openai-whisper"
    model_name: str  # as the user asked for it: "base", "tiny.en", a path

    def transcribe(
        self,
        audio: np.ndarray,
        options: TranscribeOptions,
        progress: Progress | None = None,
        speech: list[tuple[float, float]] | None = None,
    ) -> Transcript:
        """Transcribe 16 kHz mono float32 audio; timestamps are seconds from its start.

        With `options.vad`, only `speech` (seconds, as `coverage.speech_spans` finds it)
        is decoded; None means the engine runs VAD itself.
        """
        ...


def check_language(model_name: str, english_only: bool, language: str) -> str | None:
    """The language to force on the model, refusing French on an English-only model."""
    if english_only:
        if language == "fr":
            raise InvalidInput(
                f"The model {model_name} understands English only; use base for French memos."
            )
        return "en"
    return None if language == "auto" else language


def _sec(value: float) -> float:
    return float(round(value, 3))  # plain floats: numpy scalars leak out of the engines


def tidy_segments(segments: list[Segment]) -> list[Segment]:
    """Make timestamps safe for the editor: in order without overlap, start <= end,
    words inside their segment.

    Whisper's word alignment may put a word a few milliseconds outside its segment or
    overlap the previous one; the editor's click-to-seek needs a strict order.
    """
    tidy: list[Segment] = []
    last = 0.0
    for segment in segments:
        if not segment.text.strip():
            continue
        start = max(segment.start, last)
        end = max(segment.end, start)
        words: list[Word] = []
        cursor = start
        for word in segment.words:
            w_start = min(max(word.start, cursor), end)
            w_end = min(max(word.end, w_start), end)
            words.append(Word(_sec(w_start), _sec(w_end), word.word, float(word.probability)))
            cursor = w_end
        tidy.append(
            Segment(
                id=len(tidy),
                start=_sec(start),
                end=_sec(end),
                text=segment.text,
                avg_logprob=float(segment.avg_logprob),
                no_speech_prob=float(segment.no_speech_prob),
                words=words,
            )
        )
        last = end
    return tidy


def clips(
    audio: np.ndarray, options: TranscribeOptions, speech: list[tuple[float, float]] | None
) -> list[float] | None:
    """Flat [start, end, start, end...] of the speech to decode; [] when there is none,
    None when the whole audio is to be decoded (VAD off)."""
    if not options.vad:
        return None
    from dictation.transcribe.coverage import decoding_spans, speech_spans

    spans = decoding_spans(speech_spans(audio) if speech is None else speech)
    return [round(edge, 3) for span in spans for edge in span]


def report(progress: Progress | None, fraction: float) -> None:
    if progress is not None:
        progress(float(min(1.0, max(0.0, fraction))))
