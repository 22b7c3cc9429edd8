"""What keeps a worker's memory flat: features computed a block at a time, the C heap given back.

bench/memory.py measures the effect (peak RSS on a 1-hour memo); these tests hold the parts to
their promise of changing nothing in what the model reads.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor

from dictation.audio import decode
from dictation.transcribe.engines.features import FRAMES_PER_BLOCK, BlockFeatureExtractor
from tests.conftest import ROOT, shared_file

SR = 16_000


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return decode(shared_file("audio/memos/en_mb-us1.m4a"))


# Lengths around the block edges (10 s) and the model's window (30 s), and a sliver.
@pytest.mark.parametrize("seconds", [0.2, 9.99, 10.0, 10.01, 30.0, 61.23, 127.9])
def test_block_features_match_faster_whisper(speech, seconds):
    piece = speech[: int(seconds * SR)]
    whole = FeatureExtractor()(piece, chunk_length=30)
    blocks = BlockFeatureExtractor()(piece, chunk_length=30)
    assert blocks.shape == whole.shape
    assert blocks.dtype == np.float32
    # Same frames, same arithmetic: at most a rounding step of float32 apart.
    assert float(np.abs(blocks - whole).max()) < 1e-5


def test_block_features_spread_over_blocks_on_long_piece(speech):
    piece = speech[: 100 * SR]
    assert len(piece) // 160 > 3 * FRAMES_PER_BLOCK  # several blocks, not one
    out = BlockFeatureExtractor()(piece)
    # The clamp is taken over the whole piece, not per block: nothing below max - 8, scaled.
    assert float(out.min()) >= float(out.max()) - 2.0 - 1e-6


def test_block_features_keep_chunk_length_the_model_reads():
    extractor = BlockFeatureExtractor()
    extractor(np.zeros(SR, dtype=np.float32), chunk_length=20)
    assert extractor.n_samples == 20 * SR
    assert extractor.nb_max_frames == 20 * SR // 160


def test_heap_limit_returns_freed_large_blocks_at_once():
    # In a fresh process: this one's heap has a history. Without the limit glibc keeps the 8 MB
    # blocks (its threshold slid up to 16 MB after the first free) and nothing comes back.
    script = """
import os
import numpy as np
from dictation.transcribe import heap
page = os.sysconf("SC_PAGE_SIZE")
def rss(): return int(open("/proc/self/statm").read().split()[1]) * page
heap.limit()
first = np.ones(4 * 2**20, dtype=np.float32); del first
keep, blocks = [], []
for _ in range(10):
    blocks.append(np.ones(2 * 2**20, dtype=np.float32))
    keep.append(bytearray(64 * 1024))  # so the freed blocks are not at the heap's top
before = rss(); del blocks
print((before - rss()) // 2**20)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    assert int(done.stdout.split()[-1]) >= 70  # of the 80 MB freed
