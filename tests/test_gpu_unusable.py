"""A GPU that CTranslate2 sees but cannot run on (the CUDA libraries of another major version,
a driver too old for its runtime): `auto` transcribes on the CPU and says why where operators
look, `cuda` refuses with a sentence, and no memo's job is the first to find out.

Where no GPU is visible, one is made to look visible (the only fake here: the device count);
CTranslate2's own load on `cuda` then fails for real ("CUDA driver version is insufficient"),
exactly as it does on a machine whose driver or libraries do not match.
"""

from __future__ import annotations

import pytest

from dictation.audio import decode
from dictation.errors import GpuUnusable
from dictation.ops import doctor as checks
from dictation.transcribe import TranscribeOptions, engines, load_engine, transcribe_audio
from dictation.transcribe import device as gpu
from tests.conftest import need, shared_file
from tests.support.wer import word_error_rate


@pytest.fixture
def visible_but_unusable_gpu(monkeypatch, tmp_path) -> TranscribeOptions:
    need(gpu.cuda_device_count() == 0, "this machine has a GPU: its real behaviour is checked by bench/gpu.py")
    monkeypatch.setattr(gpu, "cuda_device_count", lambda: 1)
    monkeypatch.setattr(gpu, "_unusable", None)
    monkeypatch.setattr(engines, "_engines", {})  # this test's loads neither reuse nor leave engines
    return TranscribeOptions(model="tiny.en", device="auto", compute_type="auto", language="en",
                             model_cache_dir=tmp_path)


def test_load_engine_auto_falls_back_to_cpu_when_gpu_unusable(visible_but_unusable_gpu, caplog):
    options = visible_but_unusable_gpu
    assert gpu.resolve_device("auto") == "cuda"  # what a visible GPU made of `auto` until now

    engine = load_engine(options)

    assert (engine.device, engine.compute_type) == ("cpu", "int8")  # type: ignore[attr-defined]
    reason = gpu.gpu_unusable()
    assert reason is not None and "could not run on it" in reason and "DICTATION_DEVICE=cpu" in reason
    assert "CUDA" in reason  # CTranslate2's own words about what failed
    assert any("transcribing on the CPU" in r.getMessage() for r in caplog.records)
    # From now on `auto` means the CPU in this process: the metrics' label and the next load agree,
    # and the next load is the same engine, not a second copy of the model.
    assert gpu.resolve_device("auto") == "cpu"
    assert load_engine(options) is engine
    audio = decode(shared_file("audio/real/jfk.flac"))
    text = transcribe_audio(audio, engine, options).text
    reference = shared_file("audio/real/jfk.txt").read_text(encoding="utf-8")
    assert word_error_rate(reference, text) < 0.15, text


def test_load_engine_cuda_refuses_unusable_gpu_with_a_sentence(visible_but_unusable_gpu):
    from dataclasses import replace

    with pytest.raises(GpuUnusable) as refused:
        load_engine(replace(visible_but_unusable_gpu, device="cuda"))
    assert refused.value.status == 503 and refused.value.code == "gpu_unusable"
    assert "sees 1 CUDA GPU(s) but could not run on it" in refused.value.message
    assert "nvidia-cublas-cu12" in refused.value.message and "Traceback" not in refused.value.message
    assert gpu.gpu_unusable() is None  # asked for `cuda`: nothing silently moved to the CPU


def with_device(monkeypatch, device: str):
    from dictation.settings import get_settings

    monkeypatch.setenv("DICTATION_DEVICE", device)
    monkeypatch.setenv("DICTATION_COMPUTE_TYPE", "auto")
    get_settings.cache_clear()
    return get_settings()


def test_doctor_model_check_fails_naming_the_gpu_when_auto_fell_back(visible_but_unusable_gpu, settings,
                                                                      monkeypatch):
    found = checks._safely("model check", checks.check_model_loads, with_device(monkeypatch, "auto"))

    assert not found.ok
    assert "but on the CPU" in found.detail and "could not run on it" in found.detail
    assert "DICTATION_DEVICE=cpu" in found.hint


def test_doctor_model_check_fails_with_gpu_hint_when_cuda_refused(visible_but_unusable_gpu, settings,
                                                                   monkeypatch):
    found = checks._safely("model check", checks.check_model_loads, with_device(monkeypatch, "cuda"))

    assert not found.ok and "could not run on it" in found.detail
    assert found.hint == checks._GPU_HINT  # not the model hint: the model is fine


def test_is_gpu_failure_tells_gpu_errors_from_model_errors():
    assert gpu.is_gpu_failure(RuntimeError("Library libcublas.so.12 is not found or cannot be loaded"))
    assert gpu.is_gpu_failure(RuntimeError("CUDA failed with error CUDA driver version is insufficient"))
    assert not gpu.is_gpu_failure(RuntimeError("Unable to open file 'model.bin' in model '/models/x'"))
    assert gpu.fallback_compute_type("float16") == "int8"
    assert gpu.fallback_compute_type("int8_float32") == "int8_float32"
