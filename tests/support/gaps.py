"""Memos that lost part of their audio, made from real speech in ../shared: an AAC m4a as phones
write them (`memo_m4a`, a fixture), cut short (`cut`: a phone that died mid-write) or with a few
packets overwritten (`damaged`). Shared by the decode-gap tests and the join tests."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from dictation import audio
from tests.conftest import shared_file

SPEECH = "audio/real/jfk.flac"  # 11 s, speech to the end


def encode_m4a(samples: np.ndarray, dest: Path) -> Path:
    """AAC in an m4a whose index comes first (as phones write them): a cut file still opens."""
    with av.open(str(dest), "w", format="ipod", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("aac", rate=audio.SAMPLE_RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = audio.SAMPLE_RATE
        resampler = av.AudioResampler("fltp", "mono", audio.SAMPLE_RATE)
        for piece in resampler.resample(frame) + resampler.resample(None):
            out.mux(stream.encode(piece))
        out.mux(stream.encode(None))
    return dest


@pytest.fixture(scope="module")
def memo_m4a(tmp_path_factory) -> Path:
    """JFK's 11 s as a phone's m4a, whole (made once per test module)."""
    folder = tmp_path_factory.mktemp("gaps")
    return encode_m4a(audio.decode(shared_file(SPEECH)), folder / "memo.m4a")


def cut(path: Path, keep: float, dest: Path) -> Path:
    """The first `keep` share of the file's bytes: a phone that died mid-write."""
    data = path.read_bytes()
    dest.write_bytes(data[: int(len(data) * keep)])
    return dest


def damaged(path: Path, dest: Path, at: float = 0.5, size: int = 3000) -> Path:
    """The file with `size` bytes of its middle overwritten: a few packets no decoder reads."""
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    data[start : start + size] = b"\xff" * size
    dest.write_bytes(bytes(data))
    return dest
