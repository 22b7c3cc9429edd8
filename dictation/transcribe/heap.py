"""Give the C heap back between pieces of a long memo.

The transcription libraries allocate and free a few hundred MB per piece (features, beams,
the VAD's tensors) from several threads. With glibc's defaults, one heap arena per thread and
an mmap threshold that rises to 32 MB after the first large free, freed blocks stay in the
process: a worker's RSS crept to 666 MB on a 1-hour memo (goal: 500). Fewer arenas, large
blocks always mapped (so freeing one returns it at once) and a trim after each piece keep it
near what a piece needs. Elsewhere than glibc (macOS, musl) these are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# From glibc's malloc.h.
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
# Blocks from 4 MB up get their own mapping. 1 MB held 10 MB less but took the decoding 1.6x
# as long (every beam step maps and unmaps); 4 MB held ~50 MB less than glibc's sliding
# threshold on 100 s pieces, for at most ~5 % of decoding time (21.5 s against 20.4 s).
_MAP_FROM_BYTES = 4 * 2**20


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if libc is None or not hasattr(libc, "malloc_trim") or not hasattr(libc, "mallopt"):
        return None
    return libc


def limit(arenas: int = 2) -> None:
    """At most `arenas` heap arenas for threads started from now on, and large blocks mapped
    on their own (call before loading a model)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, arenas)
        libc.mallopt(_M_MMAP_THRESHOLD, _MAP_FROM_BYTES)


def trim() -> None:
    """Return freed heap pages to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
