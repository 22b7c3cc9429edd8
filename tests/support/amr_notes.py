"""AMR voice notes with DTX, made the way phones and sox make them, from speech in ../shared."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import wave
from pathlib import Path

import av
import numpy as np

from tests.conftest import need

# Frame types of the comfort-noise (SID) frames: what FFmpeg's decoders cannot read.
AMR_NB_SID = 8
AMR_WB_SID = 9


def write_wav(samples: np.ndarray, rate: int, path: Path) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def dtx_note(speech: Path, dest_dir: Path) -> Path:
    """`speech` as an .amr note (AMR-NB 12.2 kbit/s) with sox, whose encoder uses DTX."""
    from dictation import audio

    need(shutil.which("sox") is not None, "sox is not installed (make test installs it)")
    wav = write_wav(audio.decode(speech, sample_rate=8_000), 8_000, dest_dir / f"{speech.stem}-8k.wav")
    note = dest_dir / f"{speech.stem}.amr"
    subprocess.run(["sox", str(wav), "-r", "8000", "-t", "amr-nb", "-C", "7", str(note)], check=True,
                   capture_output=True)
    return note


def dtx_note_wideband(speech: Path, dest_dir: Path) -> Path:
    """`speech` as an .awb note (AMR-WB 23.85 kbit/s, DTX on) with Debian's VisualOn encoder;
    sox cannot write AMR-WB."""
    from dictation import audio

    try:
        lib = ctypes.CDLL("libvo-amrwbenc.so.0")
    except OSError:
        need(False, "libvo-amrwbenc0 is not installed (make test installs it)")
    lib.E_IF_init.restype = ctypes.c_void_p
    lib.E_IF_encode.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_char_p,
                                ctypes.c_int]
    lib.E_IF_exit.argtypes = [ctypes.c_void_p]
    pcm = (np.clip(audio.decode(speech), -1, 1) * 32767).astype(np.int16)
    state, frame, out = lib.E_IF_init(), ctypes.create_string_buffer(64), bytearray(b"#!AMR-WB\n")
    try:
        for start in range(0, len(pcm) // 320 * 320, 320):  # 20 ms frames
            block = np.ascontiguousarray(pcm[start : start + 320])
            size = lib.E_IF_encode(state, 8, block.ctypes.data_as(ctypes.POINTER(ctypes.c_short)), frame, 1)
            out += frame.raw[:size]
    finally:
        lib.E_IF_exit(state)
    note = dest_dir / f"{speech.stem}.awb"
    note.write_bytes(bytes(out))
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
