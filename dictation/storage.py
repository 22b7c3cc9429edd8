"""Media files, content-addressed: `<root>/<sha[:2]>/<sha>`.

An upload is streamed chunk by chunk into a temporary file beside its final place, hashed as
it goes, and renamed once complete. The whole file never sits in memory, a half-written file
is never visible under its hash, and the same bytes uploaded twice are stored once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import time
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dictation.errors import DISK_FULL_MESSAGE, InvalidInput, StorageFull, TooLarge, is_disk_full
from dictation.settings import Settings

# Big enough to keep syscalls few, small enough that memory stays flat.
READ_CHUNK = 1024 * 1024
PARTIAL_PREFIX = ".upload-"
PARTIAL_SUFFIX = ".part"
_SHA_RE = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredFile:
    sha256: str  # hex digest of the bytes; also the file's name
    size: int  # bytes
    path: Path  # where the bytes lie now


class _Writer:
    """One upload in progress: a temp file in the store root and a running hash."""

    def __init__(self, store: MediaStore, max_bytes: int | None) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.hash = hashlib.sha256()
        self.size = 0
        store.root.mkdir(parents=True, exist_ok=True)
        # Same directory as the final place: the rename is atomic on one filesystem.
        fd, name = tempfile.mkstemp(prefix=PARTIAL_PREFIX, suffix=PARTIAL_SUFFIX, dir=store.root)
        self.temp = Path(name)
        self.file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            self.abort()
            raise TooLarge(
                f"The upload is larger than the limit of {_human(self.max_bytes)}.",
                max_bytes=self.max_bytes,
            )
        self.hash.update(chunk)
        try:
            self.file.write(chunk)
        except OSError as exc:
            self.abort()
            _raise_if_disk_full(exc)
            raise

    def finish(self) -> StoredFile:
        try:
            self.file.flush()
            # The database will point at this hash: the bytes must survive a power cut first.
            os.fsync(self.file.fileno())
            self.file.close()
            sha = self.hash.hexdigest()
            final = self.store.path(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists() and final.stat().st_size == self.size:
                self.temp.unlink(missing_ok=True)  # the same bytes are already stored
            else:
                os.chmod(self.temp, 0o644)
                # Atomic: a concurrent save of the same bytes replaces identical content, and a
                # reader sees either the old complete file or the new complete one.
                os.replace(self.temp, final)
            return StoredFile(sha256=sha, size=self.size, path=final)
        except OSError as exc:
            # On most disks a full one shows at flush or fsync, not at write.
            self.abort()
            _raise_if_disk_full(exc)
            raise
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if not self.file.closed:
            try:
                self.file.close()
            except OSError:
                pass  # closing flushes, which fails again on a full disk; the file goes anyway
        self.temp.unlink(missing_ok=True)


def _raise_if_disk_full(exc: OSError) -> None:
    """A full disk becomes the sentence a person gets (507); other errors go on as they were."""
    if is_disk_full(exc):
        raise StorageFull(DISK_FULL_MESSAGE) from exc


class MediaStore:
    """The memo recordings and their playback copies, named by the sha256 of their bytes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaStore:
        return cls(settings.media_dir)

    def save_stream(
        self, chunks: Iterable[bytes] | BinaryIO | bytes, max_bytes: int | None = None
    ) -> StoredFile:
        """Store bytes from an iterable of chunks or a binary file object.

        Raises `TooLarge` (and leaves nothing behind) once more than `max_bytes` arrive.
        """
        writer = _Writer(self, max_bytes)
        try:
            for chunk in _iter_chunks(chunks):
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.finish()

    async def asave_stream(
        self, chunks: AsyncIterable[bytes], max_bytes: int | None = None
    ) -> StoredFile:
        """`save_stream` for an async source, e.g. a request body read chunk by chunk."""
        writer = await asyncio.to_thread(_Writer, self, max_bytes)
        try:
            async for chunk in chunks:
                # A write lands in the page cache; a thread hop per chunk would cost more.
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        # fsync may wait on the disk: keep it off the event loop.
        return await asyncio.to_thread(writer.finish)

    def path(self, sha: str) -> Path:
        """Where the file with this hash lives (or would live)."""
        if not isinstance(sha, str) or not _SHA_RE.fullmatch(sha):
            # The hash becomes a path: anything but 64 hex digits could climb out of the root.
            raise InvalidInput("A media file is named by 64 lowercase hexadecimal digits.", sha=str(sha)[:80])
        return self.root / sha[:2] / sha

    def exists(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def open(self, sha: str) -> BinaryIO:
        return self.path(sha).open("rb")

    def delete(self, sha: str) -> bool:
        """Remove the file; True if it was there. Callers check no memo still points at it."""
        path = self.path(sha)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        try:
            path.parent.rmdir()  # only succeeds when empty
        except OSError:
            pass
        return True

    def remove_partials(self, older_than_s: float = 3600.0) -> int:
        """Delete temp files left by uploads a crash cut short; returns how many."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.root.glob(f"{PARTIAL_PREFIX}*{PARTIAL_SUFFIX}"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass  # another process finished or removed it meanwhile
        return removed


def _iter_chunks(source: Iterable[bytes] | BinaryIO | bytes) -> Iterable[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield bytes(source)
    elif hasattr(source, "read"):
        while chunk := source.read(READ_CHUNK):
            yield chunk
    else:
        yield from source


def _human(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"
