"""Resumable memo uploads (tus 1.0, served by `tussi`) under /api/v1/uploads/, installed by
`api.app.create_app` (`install`), so the API alone serves them. (`api.upload` is the other
way in: one multipart POST to /api/v1/memos.)

A phone on a bad connection sends 2 MB chunks and, after a drop, asks the server (HEAD)
how much arrived and goes on from there. The same credentials as the API apply (session
cookie + CSRF header, or a bearer token); an upload belongs to the user who created it.
When the last chunk arrives, the file goes through the same path as a multipart upload
(`dictation.memos.intake`: sniffed, stored by sha256, a memo created and queued), and the
answer to that PATCH (and any later HEAD) carries the memo's id in `Memo-Id`.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import fcntl
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from tussi import FilesystemStorage, TUSApp, UploadCompletedEvent, UploadRecord
from tussi.storage import UploadAlreadyExistsException

from api.deps import CSRF_HEADER, Caller, check_csrf, identify, queue_of
from api.errors import error_response, passing_fault
from api.paths import UPLOADS_PATH
from api.upload import MEDIA_TYPES, SNIFF_BYTES, sniff_audio
from dictation.errors import DISK_FULL_MESSAGE, DictationError, StorageFull, TooLarge
from dictation.housekeeping import open_upload_bytes, open_uploads, upload_dirs
from dictation.memos import intake
from dictation.models import Memo, User

log = logging.getLogger(__name__)
MAX_CHUNK_BYTES = 8 * 1024 * 1024  # the page sends 2 MB; other tus clients may send more
MEMO_FIELDS = ("title", "priority", "due_at", "language", "note")  # from Upload-Metadata
TUS_HEADERS = {"Tus-Resumable": "1.0.0", "Tus-Version": "1.0.0", "Tus-Extension": "creation"}


class _NoReservation(FilesystemStorage):
    """tussi's storage, except that creating an upload claims no disk: tussi's own create
    reserves the whole Upload-Length (posix_fallocate), so empty creations could fill the
    disk without sending a byte. The file grows as chunks arrive; the per-person quota of
    open uploads and their expiry (dictation.housekeeping) bound what can pile up."""

    async def create(self, upload_id: str, length: int, metadata: dict[str, str],
                     server_metadata: dict[str, str] | None = None) -> None:
        now = time.time()
        record = UploadRecord(length=length, metadata=metadata, server_metadata=server_metadata or {},
                              last_write=now, created_at=now)

        def _create() -> None:
            try:
                open(self._upload_path(upload_id), "xb").close()
            except FileExistsError as exc:
                raise UploadAlreadyExistsException(f'Upload "{upload_id}" already exists') from exc
            self._write_record(self._meta_path(upload_id), record)

        await run_in_threadpool(_create)


@dataclass
class _Call:
    """What the tus hooks need to know about the request they run in."""

    user: User
    queue: object
    memo_id: int | None = None
    # Set when the finished file is one the author had sent before: when they sent it.
    duplicate_of: dt.datetime | None = None
    # What of a duplicate's details was kept (a new note as a comment, a title…), as a multipart
    # upload's answer lists under "kept".
    kept: tuple[str, ...] = ()


_call: contextvars.ContextVar[_Call] = contextvars.ContextVar("tus_call")


def idempotency_key(upload_id: str) -> str:
    return f"tus:{upload_id}"


def _memo_fields(metadata: dict[str, str]) -> dict[str, str]:
    return {k: metadata[k] for k in MEMO_FIELDS if metadata.get(k)}


def _upload_id(rest: str) -> str | None:
    part = rest.strip("/").split("/")[-1]
    return part or None


class MemoUploads:
    def __init__(self, app: FastAPI) -> None:
        settings = app.state.settings
        self.app = app
        dirs = upload_dirs(settings)
        self.staging, self.completed = dirs.staging, dirs.completed
        self.staging.mkdir(parents=True, exist_ok=True)
        # Beside the staging folder, not in it: housekeeping removes strays there.
        self.quota_lock = self.staging.parent / "quota.lock"
        self.max_bytes = settings.max_upload_mb * 1024 * 1024
        self.quota_bytes = settings.upload_quota_mb * 1024 * 1024
        self.tus = TUSApp(
            storage=_NoReservation(directory=self.staging),
            completed_dir=self.completed,
            on_create=self._on_create,
            on_event=self._on_event,
            max_size=self.max_bytes,
            max_chunk_size=MAX_CHUNK_BYTES,
        )

    # --- tussi hooks --------------------------------------------------------------------
    async def _on_create(self, headers: dict[str, str], metadata: dict[str, str]) -> dict[str, str]:
        # The memo's details are checked now, with the same rules and sentence (422) as when
        # the file has arrived: a bad title or date must not cost the phone the whole upload.
        intake.parse_details(_memo_fields(metadata))
        return {"user_id": str(_call.get().user.id)}

    async def _on_event(self, event) -> None:
        if isinstance(event, UploadCompletedEvent):
            call = _call.get()
            info = event.upload_info
            taken = await run_in_threadpool(self._make_memo, call, info.upload_id, dict(info.metadata))
            call.memo_id = taken.memo.id
            call.duplicate_of = taken.memo.created_at if taken.duplicate else None
            call.kept = taken.kept

    def _make_memo(self, call: _Call, upload_id: str, metadata: dict[str, str]) -> intake.Intake:
        """The finished file -> a memo, through the same intake as a multipart upload."""
        path = self.completed / upload_id
        store, database = self.app.state.store, self.app.state.database
        try:
            with path.open("rb") as handle:
                kind = sniff_audio(handle.read(SNIFF_BYTES))
                handle.seek(0)
                stored = store.save_stream(handle, max_bytes=self.max_bytes)
            recording = intake.Recording(
                stored=stored, media_type=MEDIA_TYPES.get(kind, "application/octet-stream"),
                filename=metadata.get("filename"),
            )
            fields = _memo_fields(metadata)
            return intake.receive_memo(
                database, store, call.queue, call.user, recording, fields, idempotency_key(upload_id),
                max_seconds=self.app.state.settings.max_memo_minutes * 60,
            )
        finally:
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".meta").unlink(missing_ok=True)

    # --- ownership ----------------------------------------------------------------------
    def _owner_of(self, upload_id: str) -> int | None:
        name = Path(upload_id).name
        return next((u.owner_id for u in open_uploads(self.staging) if u.upload_id == name), None)

    def _check_quota(self, user: User, request: Request) -> None:
        """Announced lengths count, not bytes received: what was announced may still come.
        A first look, before tussi creates anything; `_keep_within_quota` settles races."""
        try:
            wanted = max(0, int(request.headers.get("upload-length", "0")))
        except ValueError:
            return  # tussi answers 400 for a malformed length
        held = open_upload_bytes(self.staging, user.id)
        if held + wanted > self.quota_bytes:
            raise self._over_quota(held)

    def _over_quota(self, held: int) -> TooLarge:
        mb = 1024 * 1024
        return TooLarge(
            f"You have {held // mb} MB of unfinished uploads and may hold {self.quota_bytes // mb} MB at once; "
            "finish or wait for them to expire, then send this one again.",
            max_bytes=self.quota_bytes,
        )

    def _keep_within_quota(self, user: User, upload_id: str) -> None:
        """Count again once the upload exists, and take it back (TooLarge) if the person is over.

        Checking before creating let parallel creations all pass (5 of 12 at 500 MB against
        2000 MB). Counted after its creation, an upload sees every other one created before its
        own count began, so of two creations at least one counts the other, and the last to count
        among those kept saw them all: what is kept stays within the quota, across threads and
        across server processes on the same data dir (the count is of its files). The lock (a
        file lock, so it holds between processes too) makes one count at a time, so an upload
        taken back is gone before the next counts and does not make it refused as well."""
        with self.quota_lock.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            theirs = [u for u in open_uploads(self.staging) if u.owner_id == user.id]
            held = sum(u.length for u in theirs)
            if held <= self.quota_bytes:
                return
            mine = next((u.length for u in theirs if u.upload_id == upload_id), 0)
            (self.staging / upload_id).unlink(missing_ok=True)
            (self.staging / f"{upload_id}.meta").unlink(missing_ok=True)
        raise self._over_quota(held - mine)

    def _finished_memo(self, user: User, upload_id: str) -> Memo | None:
        with self.app.state.database.session() as session:
            return session.scalar(
                select(Memo).where(Memo.author_id == user.id, Memo.idempotency_key == idempotency_key(upload_id))
            )

    @staticmethod
    def _finished(memo: Memo) -> Response:
        # The upload is complete and became this memo: tell a client that asks again so.
        return Response(status_code=204, headers={
            "Tus-Resumable": "1.0.0", "Upload-Offset": str(memo.size_bytes), "Upload-Length": str(memo.size_bytes),
            "Memo-Id": str(memo.id), "Cache-Control": "no-store",
        })

    # --- the endpoint -------------------------------------------------------------------
    async def handle(self, request: Request, rest: str) -> Response:
        # tussi would obey X-HTTP-Method-Override and run another method than the one the
        # checks below saw; api.middleware refuses such requests before they get here, and
        # this refusal keeps the endpoint safe on its own.
        if "x-http-method-override" in request.headers:
            return error_response(400, "method_override", "Send the real HTTP method; overrides are not accepted.")
        if request.method == "OPTIONS":
            # Answered here, not by tussi: it needs no sign-in and shows nothing of anyone's.
            max_size = {"Tus-Max-Size": str(self.max_bytes)}
            return Response(status_code=204, headers={**TUS_HEADERS, **max_size})
        try:
            caller = await run_in_threadpool(self._identify, request)
            if request.method != "HEAD":
                check_csrf(request.app.state.cookies, caller, request.headers.get(CSRF_HEADER))
            if request.method == "POST":
                await run_in_threadpool(self._check_quota, caller.user, request)
        except DictationError as exc:
            return error_response(exc.status, exc.code, exc.message)
        upload_id = _upload_id(rest)
        if request.method != "POST":
            if upload_id is None:
                return Response(status_code=404)
            owner = self._owner_of(upload_id)
            if owner is None:
                memo = await run_in_threadpool(self._finished_memo, caller.user, upload_id)
                return self._finished(memo) if memo is not None else Response(status_code=404)
            if owner != caller.user.id:
                return Response(status_code=404)  # someone else's upload does not exist for you
        call = _Call(user=caller.user, queue=queue_of(request))
        token = _call.set(call)
        try:
            response = await self.tus.get_response(request.scope, request.receive)
        except DictationError as exc:
            return error_response(exc.status, exc.code, exc.message)
        except Exception as exc:
            passing = passing_fault(request, exc)  # a full disk (507) or the database away (503)
            if passing is not None:
                return passing
            log.exception("tus %s %s failed", request.method, request.url.path)
            return error_response(500, "internal", "The upload could not be stored; it is retried.")
        finally:
            _call.reset(token)
        if request.method == "POST" and response.status_code == 201:
            created = _upload_id(urlsplit(response.headers.get("location", "")).path)
            try:
                if created is not None:
                    await run_in_threadpool(self._keep_within_quota, caller.user, created)
            except DictationError as exc:
                return error_response(exc.status, exc.code, exc.message)
        if response.status_code == 507:  # tussi's own full-disk answer has no body: give the sentence
            full = passing_fault(request, StorageFull(DISK_FULL_MESSAGE))
            assert full is not None
            full.headers["Tus-Resumable"] = "1.0.0"
            return full
        if call.memo_id is not None:
            response.headers["Memo-Id"] = str(call.memo_id)
        if call.duplicate_of is not None:  # the phone says "you already sent this on …"
            sent = call.duplicate_of if call.duplicate_of.tzinfo else call.duplicate_of.replace(tzinfo=dt.UTC)
            response.headers["Memo-Duplicate-Of"] = sent.isoformat()
            response.headers["Memo-Kept"] = ", ".join(call.kept)  # empty: nothing new came with it
        response.headers["Access-Control-Expose-Headers"] = (
            "Location, Upload-Offset, Memo-Id, Memo-Duplicate-Of, Memo-Kept"
        )
        return response

    def _identify(self, request: Request) -> Caller:
        with request.app.state.database.session() as session:
            caller = identify(request, session, request.app.state.cookies)
            session.expunge(caller.user)
            return caller


def install(app: FastAPI) -> MemoUploads:
    uploads = MemoUploads(app)
    app.state.uploads = uploads

    @app.api_route(
        UPLOADS_PATH + "/{rest:path}", methods=["POST", "HEAD", "PATCH", "OPTIONS"], include_in_schema=False
    )
    async def tus_endpoint(request: Request, rest: str) -> Response:
        return await uploads.handle(request, rest)

    return uploads
