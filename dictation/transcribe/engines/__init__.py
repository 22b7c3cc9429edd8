"""Transcription engines: the `Engine` protocol, and `load_engine`, which loads each model once
per process. Backends are imported only when chosen (openai-whisper pulls in PyTorch)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from dictation.errors import GpuUnusable
from dictation.transcribe.device import (
    fallback_compute_type,
    mark_gpu_unusable,
    resolve_compute_type,
    resolve_device,
)
from dictation.transcribe.engines.base import SAMPLE_RATE, Engine, Progress
from dictation.transcribe.options import TranscribeOptions
from dictation.transcribe.weights import resolve_faster_whisper, resolve_openai_whisper

if TYPE_CHECKING:
    from dictation.transcribe.engines.faster_whisper import FasterWhisperEngine

__all__ = ["SAMPLE_RATE", "Engine", "Progress", "load_engine"]


log = logging.getLogger(__name__)

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
                faster = _faster_whisper(options, resolved, device, compute_type)
                # Kept under where it really runs: after a fall-back, `auto` resolves to the CPU.
                key = ("faster-whisper", str(resolved), faster.device, faster.compute_type, options.cpu_threads)
                engine = _engines.get(key, faster)
            _engines[key] = engine
    return engine


def _faster_whisper(options: TranscribeOptions, resolved: Path | str, device: str,
                    compute_type: str) -> FasterWhisperEngine:
    from dictation.transcribe.engines.faster_whisper import FasterWhisperEngine

    try:
        return FasterWhisperEngine(resolved, options.model, options.model_cache_dir,
                                   compute_type, options.cpu_threads, device=device)
    except GpuUnusable as exc:
        if options.device != "auto":
            raise  # `cuda` was asked for: refusing beats running ten times slower unasked
        # `auto` promised the GPU when there is a usable one, the CPU otherwise: memos still get
        # transcribed, and the operator reads why in the log and in `dictation doctor`.
        mark_gpu_unusable(exc.message)
        log.warning("transcribing on the CPU: %s", exc.message)
        return FasterWhisperEngine(resolved, options.model, options.model_cache_dir,
                                   fallback_compute_type(options.compute_type), options.cpu_threads,
                                   device="cpu")
