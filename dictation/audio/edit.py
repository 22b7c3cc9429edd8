"""Joining recordings into one file, with pydub on decoded PCM.

pydub only ever sees PCM that PyAV decoded: its `from_file` calls an ffprobe that is not installed.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from dictation.audio.decode import SAMPLE_RATE, DecodeReport, Source, iter_decode

with warnings.catch_warnings():
    # pydub warns at import that ffmpeg is missing (we never let it call ffmpeg) and, on
    # Python 3.11-3.12, that audioop is deprecated.
    warnings.simplefilter("ignore", RuntimeWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment


def _segment(samples: np.ndarray, sample_rate: int) -> AudioSegment:
    pcm = np.round(np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767).astype("<i2")
    return AudioSegment(data=pcm.tobytes(), sample_width=2, frame_rate=sample_rate, channels=1)


# FLAC frames of a fixed size: the encoder wants every frame but the last this long.
_FLAC_FRAME = 4096


def join_into(
    sources: Sequence[Source], dest: str | os.PathLike, gap_seconds: float = 0.75, sample_rate: int = SAMPLE_RATE,
    max_seconds: float | None = None,
) -> list[tuple[float, DecodeReport]]:
    """Several recordings as one lossless FLAC file at `dest`, in order, `gap_seconds` of silence
    between them; streamed block by block (pydub glues each block and the silences), so memory
    stays flat however long the memo.

    A part whose decode ends before its header's length is padded with silence up to it: the
    lost end stays a decode gap at its own place and the next part starts after it, so the
    gaps of each part, shifted by its start, are the joined memo's. Returns each part's start
    (seconds into the joined file) and report (its `decoded`: the part's length there, padding
    included)."""
    parts: list[tuple[float, DecodeReport]] = []
    gap_ms = round(gap_seconds * 1000)
    path = Path(dest)
    part = path.with_name(path.name + ".part")
    fifo, pts = av.AudioFifo(), 0
    try:
        with av.open(str(part), mode="w", format="flac") as out:
            stream = out.add_stream("flac", rate=sample_rate, layout="mono")

            def write(segment: AudioSegment, final: bool = False) -> None:
                nonlocal pts
                if len(segment.raw_data):
                    pcm = np.frombuffer(segment.raw_data, dtype="<i2").reshape(1, -1)
                    frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
                    frame.sample_rate = sample_rate
                    fifo.write(frame)
                while fifo.samples >= _FLAC_FRAME or (final and fifo.samples):
                    block = fifo.read(min(_FLAC_FRAME, fifo.samples))
                    assert block is not None  # the fifo holds that many samples
                    block.pts, block.time_base = pts, Fraction(1, sample_rate)
                    pts += block.samples
                    out.mux(stream.encode(block))

            for index, source in enumerate(sources):
                if index:
                    write(AudioSegment.silent(duration=gap_ms, frame_rate=sample_rate))
                report = DecodeReport(max_seconds=max_seconds)
                heard, start = 0, pts + fifo.samples
                for block in iter_decode(source, sample_rate=sample_rate, report=report):
                    heard += block.size
                    write(_segment(block, sample_rate))
                missing_ms = round(((report.stated or 0.0) - heard / sample_rate) * 1000)
                if missing_ms > 0:  # the lost end, as silence of its length
                    write(AudioSegment.silent(duration=missing_ms, frame_rate=sample_rate))
                    heard += missing_ms * sample_rate // 1000
                report.decoded = heard / sample_rate
                parts.append((start / sample_rate, report))
            write(AudioSegment.empty(), final=True)
            out.mux(stream.encode(None))
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return parts
