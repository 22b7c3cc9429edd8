"""What the command groups share: the migrated database, and secrets read without echo."""

from __future__ import annotations

import getpass
import os
import sys

from dictation.db import Database


def open_database() -> Database:
    from dictation.migrations import upgrade
    from dictation.settings import get_settings

    database = Database(get_settings())
    upgrade(database)
    return database


def read_secret(from_stdin: bool, prompt: str) -> str | None:
    if from_stdin:
        value = sys.stdin.readline().rstrip("\n")
        return value or None
    if sys.stdin.isatty():
        return getpass.getpass(prompt) or None
    return None


# The native pools that size themselves from the core count unless told: OpenMP (CTranslate2,
# onnxruntime's VAD) and the BLAS under numpy. Each reads its variable once, when first loaded.
NATIVE_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_native_threads(cpu_threads: int) -> None:
    """Hold a worker process to `cpu_threads` cores (0: leave the libraries their default).

    DICTATION_CPU_THREADS=1 alone still let a worker use ~1.1 cores (helper pools beside the
    transcription thread), so two such processes on two cores reached only 1.6x one. Call it
    before the libraries load; spawned worker processes inherit it. A value the operator set
    in the environment wins."""
    if cpu_threads <= 0:
        return
    for name in NATIVE_THREAD_VARIABLES:
        os.environ.setdefault(name, str(cpu_threads))
