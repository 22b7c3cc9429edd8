"""The `dictation` command run as a user runs it: a subprocess from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def dictation(*args: str, data_dir=None, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`python -m dictation ARGS`, with DICTATION_DATA_DIR set to `data_dir` when given."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if data_dir is not None:
        env["DICTATION_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "dictation", *args], capture_output=True, text=True,
                          env=env, input=stdin, timeout=600, cwd=ROOT)
