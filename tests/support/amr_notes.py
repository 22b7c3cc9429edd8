"""AMR voice notes with DTX, made the way phones and sox make them, from speech in ../shared."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import av
import numpy as np

from tests.conftest import need

# Frame type of AMR-NB's comfort-noise (SID) frames: what FFmpeg's decoder cannot read.
AMR_NB_SID = 8


def write_wav(samples: np.ndarray, rate: int, path: Path) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def dtx_note(speech: Path, dest_dir: Path, wideband: bool = False) -> Path:
    """`speech` as an .amr note (AMR-NB 12.2 kbit/s, or AMR-WB) with sox, whose encoder uses DTX."""
    from dictation import audio

    need(shutil.which("sox") is not None, "sox is not installed (make test installs it)")
    rate = 16_000 if wideband else 8_000
    wav = write_wav(audio.decode(speech, sample_rate=rate), rate, dest_dir / f"{speech.stem}-{rate}.wav")
    note = dest_dir / f"{speech.stem}.{'awb' if wideband else 'amr'}"
    kind = "amr-wb" if wideband else "amr-nb"
    subprocess.run(["sox", str(wav), "-r", str(rate), "-t", kind, "-C", "7", str(note)], check=True,
                   capture_output=True)
    return note


def into_3gp(note: Path, dest: Path) -> Path:
    """The note's packets, copied untouched into a 3gp (as a phone's recorder stores them)."""
    with av.open(str(note)) as source, av.open(str(dest), "w", format="3gp") as out:
        stream = source.streams.audio[0]
        copy = out.add_stream_from_template(stream)
        for packet in source.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = copy
            out.mux(packet)
    return dest


def frame_types(note: Path) -> list[int]:
    """The frame type of every AMR frame in the note's packets (ToC byte, RFC 4867)."""
    from dictation.audio.amr import FLAVOURS

    types = []
    with av.open(str(note)) as source:
        stream = source.streams.audio[0]
        sizes = FLAVOURS[stream.codec_context.codec.canonical_name].sizes
        for packet in source.demux(stream):
            data, pos = bytes(packet), 0
            while pos < len(data):
                kind = (data[pos] >> 3) & 0x0F
                types.append(kind)
                pos += 1 + sizes[kind]
    return types
