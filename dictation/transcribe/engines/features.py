"""Whisper's log-Mel features for a long piece, computed 10 s at a time.

faster-whisper computes the spectrogram of the whole audio it is given in one go: a complex128
STFT, its complex64 copy and the magnitudes, about 1 MB per second of audio at once (99 MB for a
100 s piece, measured with tracemalloc). A worker hands it 2-minute pieces, so that transient
came on top of the model and the decoder's buffers and set the worker's peak RSS. The frames
are independent of each other, so the same numbers come out of a frame range at a time; only
the last two steps (clamp to 8 below the loudest value, scale) need the whole, and they run
in place on the small float32 result (80 × 100 frames per second).
"""

from __future__ import annotations

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor

# Frames per block: 10 s, ~11 MB of transient (30 s blocks took 32 MB); the cost in speed is nil.
FRAMES_PER_BLOCK = 1000


class BlockFeatureExtractor(FeatureExtractor):  # type: ignore[misc]  # faster-whisper ships no types
    """`FeatureExtractor` with the same output, in bounded memory."""

    def __call__(self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None) -> np.ndarray:
        if chunk_length is not None:  # as the parent does: the model reads this back
            self.n_samples = chunk_length * self.sampling_rate
            self.nb_max_frames = self.n_samples // self.hop_length
        waveform = np.asarray(waveform, dtype=np.float32)
        if padding:
            waveform = np.pad(waveform, (0, padding))
        # The parent's centring: half a window reflected at both ends.
        half = self.n_fft // 2
        padded = np.pad(waveform, (half, half), mode="reflect")
        window = np.hanning(self.n_fft + 1)[:-1].astype("float32")
        frames = (len(padded) - self.n_fft) // self.hop_length  # all but the last, as the parent keeps
        out = np.empty((self.mel_filters.shape[0], max(frames, 0)), dtype=np.float32)
        for first in range(0, frames, FRAMES_PER_BLOCK):
            last = min(first + FRAMES_PER_BLOCK, frames)
            span = padded[first * self.hop_length: (last - 1) * self.hop_length + self.n_fft]
            stft = self.stft(span, self.n_fft, self.hop_length, window=window, center=False,
                             return_complex=True).astype("complex64")
            magnitudes = np.abs(stft) ** 2
            np.log10(np.clip(self.mel_filters @ magnitudes, 1e-10, None), out=out[:, first:last])
        if out.size:
            np.maximum(out, out.max() - 8.0, out=out)
        out += 4.0
        out /= 4.0
        return out
