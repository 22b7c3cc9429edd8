"""The Engine protocol every transcription backend implements, and the small helpers they share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from dictation.errors import InvalidInput
from dictation.transcribe.options import TranscribeOptions
from dictation.transcribe.result import Transcript

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

        With `options.vad`, only `speech` (seconds, as `vad.speech_spans` finds it)
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


def report(progress: Progress | None, fraction: float) -> None:
    if progress is not None:
        progress(float(min(1.0, max(0.0, fraction))))
