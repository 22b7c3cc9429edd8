"""When each caller last wrote, readable by every server process of one `dictation serve`.

The API keeps worklist answers for a moment per caller (api/recent.py) and drops them when that
caller writes, so after a claim or an edit the next worklist is fresh. With several server
processes (`DICTATION_WEB_PROCESSES`) the write and the next read may reach different processes,
so the marks live in a small shared file, mapped in memory: a read is a memory load, no system
call and no database query.

Callers share slots (a hash of the credential picks one of `SLOTS`): a write of one can drop
another's kept answer, which then is computed again. Never the other way: a mark is only ever
raised. Times are `time.monotonic()`, one clock for every process of the machine; the file is
made afresh by the parent process at each start (`reset`). Marks left from an earlier boot,
whose clock started elsewhere, could only be too high: answers would be computed, never kept
past a write.

One more mark, in a slot of its own, is when credentials last changed (a token revoked, a user
deactivated: `dictation.credential_changes`), for the verdicts the door keeps on callers.
"""

from __future__ import annotations

import fcntl
import mmap
import struct
from pathlib import Path

SLOTS = 4096
_SLOT = struct.Struct("<d")
_SIZE = (SLOTS + 1) * _SLOT.size  # the callers' slots, then the credentials' mark
_CREDENTIALS = SLOTS * _SLOT.size


def marks_path(data_dir: Path) -> Path:
    return data_dir / "run" / "write-marks"


class LocalMarks:
    """One process's marks: enough when one process answers HTTP."""

    def __init__(self) -> None:
        self._marks: dict[str, float] = {}
        self._credentials = float("-inf")

    def credentials_changed(self) -> float:
        return self._credentials

    def change_credentials(self, when: float) -> None:
        self._credentials = max(when, self._credentials)

    def get(self, credential: str) -> float:
        return self._marks.get(credential, float("-inf"))

    def set(self, credential: str, when: float) -> None:
        self._marks[credential] = max(when, self.get(credential))
        if len(self._marks) > 4 * SLOTS:  # forget the oldest callers' marks, keep the recent
            for name in sorted(self._marks, key=self._marks.__getitem__)[: len(self._marks) // 2]:
                del self._marks[name]


class SharedMarks:
    """Marks in a file every server process maps (made by `reset` before they start)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        if not path.exists():  # a process started without `dictation serve`: no marks yet
            self.reset(path)
        with path.open("r+b") as file:
            if file.seek(0, 2) < _SIZE:
                file.truncate(_SIZE)
            self._map = mmap.mmap(file.fileno(), _SIZE)

    @staticmethod
    def reset(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as file:
            file.truncate(_SIZE)  # zeros: no caller has written
        return path

    def _offset(self, credential: str) -> int:
        return int(credential[:12], 16) % SLOTS * _SLOT.size  # credentials are hex digests

    def get(self, credential: str) -> float:
        value = _SLOT.unpack_from(self._map, self._offset(credential))[0]
        return value if value else float("-inf")

    def set(self, credential: str, when: float) -> None:
        # Two processes raising the same slot at once may leave the lower of their two times: both
        # are writes that began after any answer they must drop was read, so either still drops it.
        offset = self._offset(credential)
        if when > _SLOT.unpack_from(self._map, offset)[0]:
            _SLOT.pack_into(self._map, offset, when)

    def credentials_changed(self) -> float:
        value = _SLOT.unpack_from(self._map, _CREDENTIALS)[0]
        return value if value else float("-inf")

    def change_credentials(self, when: float) -> None:
        # Under a lock, unlike a caller's mark: two processes raising it at once must not leave
        # the lower time, or a verdict checked between the two, on the row as it was before the
        # later change, would stay in use. Credentials change rarely; the lock costs nothing.
        with self._path.open("rb") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            try:
                if when > _SLOT.unpack_from(self._map, _CREDENTIALS)[0]:
                    _SLOT.pack_into(self._map, _CREDENTIALS, when)
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)
