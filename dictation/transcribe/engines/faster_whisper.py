"""faster-whisper (CTranslate2): the default engine, int8 on CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dictation.errors import ModelUnavailable
from dictation.transcribe.device import is_gpu_failure, unusable_gpu
from dictation.transcribe.engines.base import (
    SAMPLE_RATE,
    Progress,
    check_language,
    report,
)
from dictation.transcribe.options import TranscribeOptions
from dictation.transcribe.result import Segment, Transcript, Word
from dictation.transcribe.vad import clips


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(
        self,
        model: Path | str,
        model_name: str,
        cache_dir: Path,
        compute_type: str = "int8",
        cpu_threads: int = 0,
        device: str = "cpu",
    ) -> None:
        from faster_whisper import WhisperModel

        self.model_name = model_name
        self.device, self.compute_type = device, compute_type
        try:
            self._model = WhisperModel(
                str(model),
                device=device,
                compute_type=compute_type,
                cpu_threads=cpu_threads,
                download_root=str(Path(cache_dir) / "hub"),
            )
            if device == "cuda":
                self._run_once_on_gpu()
        except Exception as exc:  # huggingface_hub and CTranslate2 raise many kinds
            if device == "cuda" and is_gpu_failure(exc):
                raise unusable_gpu(exc) from exc
            from dictation.transcribe.weights import download_hint

            where = "load" if isinstance(model, Path) else "download"
            raise ModelUnavailable(
                f"faster-whisper could not {where} the model {model_name!r} "
                f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}). {download_hint()}"
            ) from exc
        from dictation.transcribe.engines.features import BlockFeatureExtractor

        # The same features, 10 s at a time rather than the whole piece at once (features.py).
        self._model.feature_extractor = BlockFeatureExtractor(**self._model.feat_kwargs)
        self.english_only = not self._model.model.is_multilingual

    def _run_once_on_gpu(self) -> None:
        """One 30 s window of silence through the encoder: CTranslate2 loads cuBLAS and cuDNN
        only now, so a GPU it cannot use fails here, at load, rather than in every memo's job."""
        frames = self._model.feature_extractor.nb_max_frames
        self._model.encode(np.zeros((self._model.model.n_mels, frames), dtype=np.float32))

    def transcribe(
        self,
        audio: np.ndarray,
        options: TranscribeOptions,
        progress: Progress | None = None,
        speech: list[tuple[float, float]] | None = None,
    ) -> Transcript:
        language = check_language(self.model_name, self.english_only, options.language)
        duration = len(audio) / SAMPLE_RATE
        # VAD runs once, here or in the caller, rather than again in vad_filter (~40 MB).
        speech_clips = clips(audio, options, speech)
        if speech_clips == []:
            report(progress, 1.0)
            return Transcript(language=language or "", duration=duration, no_speech=True,
                              engine=self.name, model=self.model_name)
        segments_iter, info = self._model.transcribe(
            audio,
            language=language,
            beam_size=options.beam_size,
            best_of=options.best_of,
            word_timestamps=options.word_timestamps,
            clip_timestamps=speech_clips or "0",
            initial_prompt=options.prompt_beside_hotwords,
            hotwords=options.hotwords,
        )
        segments: list[Segment] = []
        for raw in segments_iter:  # a generator: decoding happens while we iterate
            words = [Word(w.start, w.end, w.word, w.probability) for w in raw.words or []]
            segments.append(
                Segment(
                    id=len(segments),
                    start=raw.start,
                    end=raw.end,
                    text=raw.text,
                    avg_logprob=raw.avg_logprob,
                    no_speech_prob=raw.no_speech_prob,
                    words=words,
                )
            )
            report(progress, raw.end / duration if duration else 1.0)
        report(progress, 1.0)
        return Transcript(
            language=info.language,
            duration=duration,
            segments=segments,
            language_probability=info.language_probability,
            engine=self.name,
            model=self.model_name,
        )
