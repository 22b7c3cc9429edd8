"""Give the C heap back between pieces of a long memo.

The transcription libraries allocate and free a few hundred MB per piece (features, beams,
the VAD's tensors) from several threads. With glibc's default of one heap arena per thread,
freed blocks stay scattered in the process, and a worker's RSS crept to 666 MB on a 1-hour
memo (goal: 500). Fewer arenas and a trim after each piece keep it near what a piece needs.
Elsewhere than glibc (macOS, musl) both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_ARENA_MAX = -8  # from glibc's malloc.h


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


def cap_arenas(count: int = 2) -> None:
    """At most `count` heap arenas for threads started from now on (call before loading a model)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, count)


def trim() -> None:
    """Return freed heap pages to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
