"""Housekeeping the worker runs now and then (dictation/jobs/consumer.py, beside recovery):
unfinished resumable uploads nobody touched for DICTATION_UPLOAD_EXPIRY_HOURS, temp files of
uploads a crash cut short (MediaStore.remove_partials), and browser sessions past their age.

The resumable uploads' folders are laid out here, not in the web layer that serves them, so a
worker (which imports no web code) can clean them; a `.meta` file beside each upload is
tussi's JSON record: length, offset, last write, and our owner's id in server_metadata.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from dictation.accounts.sessions import delete_expired_sessions
from dictation.db import Database
from dictation.settings import Settings
from dictation.storage import MediaStore

log = logging.getLogger(__name__)
META_SUFFIX = ".meta"


@dataclass(frozen=True)
class UploadDirs:
    staging: Path  # uploads still arriving: <id> and <id>.meta
    completed: Path  # finished files on their way into the media store


def upload_dirs(settings: Settings) -> UploadDirs:
    root = settings.data_dir / "uploads"
    return UploadDirs(staging=root / "partial", completed=root / "complete")


@dataclass(frozen=True)
class OpenUpload:
    upload_id: str
    owner_id: int | None  # None: a record we cannot read
    length: int  # bytes announced (Upload-Length)
    offset: int  # bytes received so far
    last_write: float  # epoch seconds


def _read(meta: Path) -> OpenUpload | None:
    try:
        record = json.loads(meta.read_text("utf-8"))
        owner = (record.get("server_metadata") or {}).get("user_id")
        return OpenUpload(
            upload_id=meta.name[: -len(META_SUFFIX)], owner_id=int(owner) if owner else None,
            length=int(record.get("length") or 0), offset=int(record.get("offset") or 0),
            last_write=float(record.get("last_write") or record.get("created_at") or 0.0),
        )
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def open_uploads(staging: Path) -> list[OpenUpload]:
    if not staging.is_dir():
        return []
    return [upload for meta in staging.glob(f"*{META_SUFFIX}") if (upload := _read(meta)) is not None]


def open_upload_bytes(staging: Path, owner_id: int) -> int:
    """What this person's unfinished uploads announced: the disk they may still claim."""
    return sum(u.length for u in open_uploads(staging) if u.owner_id == owner_id)


def expire_uploads(dirs: UploadDirs, older_than_s: float, now: float | None = None) -> int:
    """Delete unfinished uploads untouched for `older_than_s`, and leftovers in the completed
    folder as old (a server that died between finishing and storing); returns how many."""
    cutoff = (now if now is not None else time.time()) - older_than_s
    removed = 0
    if dirs.staging.is_dir():
        for meta in dirs.staging.glob(f"*{META_SUFFIX}"):
            upload = _read(meta)
            try:
                stale = upload.last_write < cutoff if upload is not None else meta.stat().st_mtime < cutoff
            except FileNotFoundError:
                continue  # finished or removed meanwhile
            if stale:
                (dirs.staging / meta.name[: -len(META_SUFFIX)]).unlink(missing_ok=True)
                meta.unlink(missing_ok=True)
                removed += 1
        for data in dirs.staging.iterdir():
            # A data file whose record is gone (a crash between the two writes).
            if data.suffix != META_SUFFIX and not data.with_name(data.name + META_SUFFIX).exists():
                try:
                    if data.stat().st_mtime < cutoff:
                        data.unlink()
                        removed += 1
                except FileNotFoundError:
                    pass
    if dirs.completed.is_dir():
        for leftover in dirs.completed.iterdir():
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
                    removed += 1
            except (FileNotFoundError, IsADirectoryError):
                pass
    return removed


def sweep(settings: Settings, database: Database) -> dict[str, int]:
    """One round of housekeeping; each part on its own, so one failing leaves the others."""
    done: dict[str, int] = {}
    try:
        done["uploads"] = expire_uploads(upload_dirs(settings), settings.upload_expiry_hours * 3600)
    except OSError:
        log.warning("expiring unfinished uploads failed", exc_info=True)
    try:
        # An hour: no upload is still streaming into a temp file after that long.
        done["partials"] = MediaStore(settings.media_dir).remove_partials(older_than_s=3600)
    except OSError:
        log.warning("removing partial media files failed", exc_info=True)
    try:
        with database.session() as session:
            done["sessions"] = delete_expired_sessions(session, settings.session_max_age_hours * 3600)
    except Exception:  # noqa: BLE001 - the database may be briefly away; next round
        log.warning("deleting expired sessions failed", exc_info=True)
    if any(done.values()):
        log.info("housekeeping: %s", done)
    return done
