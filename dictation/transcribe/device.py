"""Where faster-whisper runs: a CUDA GPU or the CPU, with the compute type that suits each.

Workers on GPU machines and on CPU machines share one queue; each resolves its own device at
start. `cuda` asked for where no GPU is visible is refused with a sentence, never a silent
fall-back to a CPU ten times slower.

A visible GPU is not a usable one: CTranslate2 counts GPUs through the driver, but loads cuBLAS
and cuDNN only at the first model run, so on a machine with CUDA libraries of another major
version a model loads and then every transcription fails ("Library libcublas.so.12 is not found
or cannot be loaded"). The engine runs a window of silence once at load (engines/faster_whisper.py);
when that fails, `auto` runs on the CPU for the rest of the process, and says so where operators
look (the worker's log, `dictation doctor`, the metrics' device label).
"""

from __future__ import annotations

from dictation.errors import GpuUnusable, ModelUnavailable

DEVICES = ("auto", "cpu", "cuda")
# float16 is what GPUs run Whisper fastest in; int8 keeps CPUs fast and memory small.
COMPUTE_TYPES = {"cuda": "float16", "cpu": "int8"}
# What CTranslate2 runs on a CPU; a GPU type asked for (float16, int8_float16) is refused there.
CPU_COMPUTE_TYPES = ("int8", "int8_float32", "int16", "float32")
# What CTranslate2's own messages name when the GPU side failed, not the model's files.
_GPU_WORDS = ("cuda", "cublas", "cudnn", "cudart", "nvrtc", "gpu")

# Why the GPU could not be used in this process (None: it could, or was not tried).
_unusable: str | None = None


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
    if requested == "cpu" or (requested == "auto" and _unusable is not None):
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


def fallback_compute_type(requested: str) -> str:
    """The compute type on the CPU after the GPU failed: the setting if a CPU runs it."""
    return requested if requested in CPU_COMPUTE_TYPES else COMPUTE_TYPES["cpu"]


def gpu_unusable() -> str | None:
    """Why this process runs `auto` on the CPU although a GPU is visible; None when it does not."""
    return _unusable


def mark_gpu_unusable(reason: str) -> None:
    """From now on `auto` resolves to the CPU in this process (a worker restart tries again)."""
    global _unusable
    _unusable = reason


def is_gpu_failure(exc: BaseException) -> bool:
    """Whether a CTranslate2 error on `cuda` came from the GPU side (driver, runtime, libraries)."""
    text = str(exc).lower()
    return any(word in text for word in _GPU_WORDS)


def unusable_gpu(exc: BaseException) -> GpuUnusable:
    """The sentence for a GPU that CTranslate2 sees but cannot run on."""
    try:
        import ctranslate2

        built = f"CTranslate2 {ctranslate2.__version__}"
    except ImportError:  # pragma: no cover - faster-whisper depends on it
        built = "CTranslate2"
    said = " ".join(str(exc).split())[:240]
    return GpuUnusable(
        f"{built} sees {cuda_device_count()} CUDA GPU(s) but could not run on it ({type(exc).__name__}: {said}). "
        "It needs the CUDA libraries it was built for (CTranslate2 4.x: CUDA 12's cuBLAS and cuDNN 9, e.g. "
        "`pip install nvidia-cublas-cu12 nvidia-cudnn-cu12==9.*` with their lib folders on LD_LIBRARY_PATH), "
        "or set DICTATION_DEVICE=cpu.",
        library_error=said,
    )
