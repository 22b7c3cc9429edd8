"""Where faster-whisper runs: a CUDA GPU or the CPU, with the compute type that suits each.

Workers on GPU machines and on CPU machines share one queue; each resolves its own device at
start. `cuda` asked for where no GPU is visible is refused with a sentence, never a silent
fall-back to a CPU ten times slower.
"""

from __future__ import annotations

from dictation.errors import ModelUnavailable

DEVICES = ("auto", "cpu", "cuda")
# float16 is what GPUs run Whisper fastest in; int8 keeps CPUs fast and memory small.
COMPUTE_TYPES = {"cuda": "float16", "cpu": "int8"}


def cuda_device_count() -> int:
    """GPUs CTranslate2 can use here (0 when its CUDA runtime or the driver is missing)."""
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # noqa: BLE001 - a broken CUDA install means "no GPU" to us
        return 0


def resolve_device(requested: str) -> str:
    """`cpu` or `cuda` for a setting of auto, cpu or cuda."""
    if requested not in DEVICES:
        raise ModelUnavailable(f"Unknown device {requested!r}; choose auto, cpu or cuda.")
    if requested == "cpu":
        return "cpu"
    gpus = cuda_device_count()
    if requested == "cuda" and gpus == 0:
        raise ModelUnavailable(
            "DICTATION_DEVICE is cuda, but this machine has no CUDA GPU that CTranslate2 can use "
            "(it found none). Install the NVIDIA driver and CUDA libraries, or set DICTATION_DEVICE "
            "to auto or cpu."
        )
    return "cuda" if gpus else "cpu"


def resolve_compute_type(device: str, requested: str) -> str:
    """The compute type for `device`: the setting when it names one, else what suits the device."""
    return COMPUTE_TYPES[device] if requested in ("auto", "", None) else requested
