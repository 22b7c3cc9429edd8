"""AMR voice notes through Debian's opencore-amr libraries (ctypes).

FFmpeg's own `amrnb`/`amrwb` decoders (inside PyAV) do not implement DTX: a phone's note
with comfort-noise (SID) frames decodes only up to its first pause. opencore-amr implements
DTX, so AMR packets are decoded here and everything else still goes through PyAV.

Packets hold one or more frames in the storage format of RFC 4867 (a table-of-contents byte,
then the frame); `.amr` and `.3gp` files both carry it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from dataclasses import dataclass

import numpy as np

from dictation.errors import DecoderUnavailable


@dataclass(frozen=True)
class _Flavour:
    library: str  # soname loaded with ctypes
    package: str  # the Debian package that ships it, for the error message
    init: str  # symbol names in the library
    decode: str
    exit: str
    rate: int  # samples per second out of the decoder
    frame_samples: int  # samples per 20 ms frame
    sizes: tuple[int, ...]  # payload bytes after the ToC byte, by frame type (0..15)


AMR_NB = _Flavour(
    "libopencore-amrnb.so.0", "libopencore-amrnb0", "Decoder_Interface_init", "Decoder_Interface_Decode",
    "Decoder_Interface_exit", 8_000, 160,
    # Frame types 0-7 are the speech modes, 8 the SID (comfort noise), 15 "no data".
    (12, 13, 15, 17, 19, 20, 26, 31, 5, 6, 5, 5, 0, 0, 0, 0),
)
AMR_WB = _Flavour(
    "libopencore-amrwb.so.0", "libopencore-amrwb0", "D_IF_init", "D_IF_decode", "D_IF_exit", 16_000, 320,
    (17, 23, 32, 36, 40, 46, 50, 58, 60, 5, 0, 0, 0, 0, 0, 0),
)
FLAVOURS = {"amr_nb": AMR_NB, "amrnb": AMR_NB, "amr_wb": AMR_WB, "amrwb": AMR_WB}


@functools.cache
def _library(flavour: _Flavour) -> ctypes.CDLL | None:
    try:
        lib = ctypes.CDLL(flavour.library)
    except OSError:
        return None
    getattr(lib, flavour.init).restype = ctypes.c_void_p
    getattr(lib, flavour.decode).argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
    ]
    getattr(lib, flavour.decode).restype = None
    getattr(lib, flavour.exit).argtypes = [ctypes.c_void_p]
    return lib


def handles(codec_name: str) -> bool:
    """Whether packets of this codec are decoded here rather than by FFmpeg."""
    return codec_name in FLAVOURS


def available(codec_name: str) -> bool:
    return codec_name in FLAVOURS and _library(FLAVOURS[codec_name]) is not None


class AmrDecoder:
    """One note's decoder state; `decode(packet bytes)` gives int16 samples at `rate`."""

    def __init__(self, codec_name: str) -> None:
        self._state = None
        self.flavour = FLAVOURS[codec_name]
        lib = _library(self.flavour)
        if lib is None:
            raise DecoderUnavailable(
                f"This is an AMR voice note, and reading it needs the {self.flavour.package} library, "
                f"which is not installed on the server: install it (apt-get install {self.flavour.package}, "
                "or `make run`) and retry.",
                package=self.flavour.package,
            )
        self._lib = lib
        self._state = getattr(lib, self.flavour.init)()
        self._decode = getattr(lib, self.flavour.decode)
        self._out = (ctypes.c_short * self.flavour.frame_samples)()
        self.rate = self.flavour.rate

    def decode(self, data: bytes) -> np.ndarray:
        """All frames in one packet. A frame cut short at the end is decoded as lost (the library
        conceals it), so the note keeps its length."""
        frames = []
        pos = 0
        while pos < len(data):
            toc = data[pos]
            size = 1 + self.flavour.sizes[(toc >> 3) & 0x0F]
            frame = data[pos : pos + size]
            bad = int(len(frame) < size or not toc & 0x04)  # short, or its quality bit says damaged
            frame = frame.ljust(size, b"\0")
            self._decode(self._state, frame, self._out, bad)
            frames.append(np.ctypeslib.as_array(self._out).copy())
            pos += size
        return np.concatenate(frames) if frames else np.zeros(0, dtype=np.int16)

    def close(self) -> None:
        if self._state:
            getattr(self._lib, self.flavour.exit)(self._state)
            self._state = None

    def __del__(self) -> None:
        self.close()
