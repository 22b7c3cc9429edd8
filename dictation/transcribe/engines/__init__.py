"""Transcription engines: the `Engine` protocol, and `load_engine`, which loads each model once
per process. Backends are imported only when chosen (openai-whisper pulls in PyTorch)."""

from __future__ import annotations

import threading

from dictation.transcribe.device import resolve_compute_type, resolve_device
from dictation.transcribe.engines.base import SAMPLE_RATE, Engine, Progress
from dictation.transcribe.options import TranscribeOptions
from dictation.transcribe.weights import resolve_faster_whisper, resolve_openai_whisper

__all__ = ["SAMPLE_RATE", "Engine", "Progress", "load_engine"]


_engines: dict[tuple[object, ...], Engine] = {}
_lock = threading.Lock()


def load_engine(options: TranscribeOptions) -> Engine:
    """The engine for `options`, loaded once per process and shared afterwards."""
    if options.engine == "openai-whisper":
        resolved = resolve_openai_whisper(options.model)
        key: tuple[object, ...] = ("openai-whisper", str(resolved), options.cpu_threads)
    else:
        resolved = resolve_faster_whisper(options.model, options.model_cache_dir)
        device = resolve_device(options.device)
        compute_type = resolve_compute_type(device, options.compute_type)
        key = ("faster-whisper", str(resolved), device, compute_type, options.cpu_threads)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            if options.engine == "openai-whisper":
                from dictation.transcribe.engines.openai_whisper import (
                    OpenAIWhisperEngine,
                )

                engine = OpenAIWhisperEngine(
                    resolved, options.model, options.model_cache_dir, options.cpu_threads
                )
            else:
                from dictation.transcribe.engines.faster_whisper import (
                    FasterWhisperEngine,
                )

                engine = FasterWhisperEngine(
                    resolved, options.model, options.model_cache_dir,
                    compute_type, options.cpu_threads, device=device,
                )
            _engines[key] = engine
    return engine


