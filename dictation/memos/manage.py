"""Retrying, cancelling and deleting a memo: who may, and what each does.

The API's /memos routes call these (the desk's worklist retries through that API): the rules
live here once, the doors only find the memo and render the answer.
"""

from __future__ import annotations

import huey
from sqlalchemy import delete
from sqlalchemy.orm import Session

from dictation import accounts, jobs
from dictation.db import Database
from dictation.errors import Conflict, Forbidden, NotFound
from dictation.memos import additions, intake, processing
from dictation.models import Memo, Role, State, User
from dictation.publish import service as publishing
from dictation.storage import MediaStore


def visible_memo(session: Session, user: User, memo_id: int) -> Memo:
    """The memo, if this user may see it; NotFound otherwise (an author never learns that
    someone else's memo exists)."""
    memo = session.get(Memo, memo_id)
    if memo is None or not accounts.can_see(user, memo):
        raise NotFound(f"There is no memo {memo_id}.")
    return memo


def check_may_manage(user: User, memo: Memo, doing: str) -> None:
    """Forbidden unless `user` may retry or cancel (`doing`) the memo: its author, an
    assistant or an admin."""
    if user.role == Role.author and memo.author_id != user.id:
        raise Forbidden(f"Only the memo's author, an assistant or an admin may {doing} it.")


def retry(session: Session, memo: Memo, user: User, *, queue: huey.Huey) -> Memo:
    """Run the memo's failed or cancelled job again: its publication when that is what failed,
    else its transcription. Returns the memo as it now stands."""
    check_may_manage(user, memo, "retry")
    last = jobs.latest_job(session, memo)
    if last is not None and last.kind == publishing.PUBLISH and memo.status == State.failed:
        publishing.retry_publication(session, memo, user, queue=queue)
    else:
        processing.retry(session, memo, queue, actor=user)
    session.flush()
    session.refresh(memo)
    return memo


def cancel(session: Session, memo: Memo, user: User) -> Memo:
    """Stop the memo's queued or running transcription (Conflict when there is none).
    Returns the memo as it now stands."""
    check_may_manage(user, memo, "cancel")
    if jobs.cancel(session, memo) is None:
        raise Conflict("There is no transcription queued or running for this memo.", status=memo.status)
    session.flush()
    session.refresh(memo)
    return memo


def check_may_delete(session: Session, user: User, memo: Memo) -> None:
    """Forbidden unless `user` is the memo's author or an admin; Conflict while its post is or
    may be public (`publishing.why_not_deletable`)."""
    if user.role != Role.admin and memo.author_id != user.id:
        raise Forbidden("Only the memo's author or an admin may delete it.")
    refused = publishing.why_not_deletable(session, memo)
    if refused:
        raise Conflict(refused, status=memo.status)


def delete_memo(database: Database, store: MediaStore, user: User, memo_id: int) -> None:
    """Delete a memo before publication, with its job, draft, revisions, comments, additions
    and audit trail, then the recordings no other memo uses."""
    with database.session() as session:
        memo = visible_memo(session, user, memo_id)
        check_may_delete(session, user, memo)
        jobs.cancel(session, memo)
        shas = {sha for sha in (memo.media_sha256, memo.playback_sha256) if sha is not None}
        shas |= additions.recordings(session, memo)  # the parts added to it, and the recording before each
        # Core DELETE: the database cascades to the draft, revisions, comments, jobs, audit.
        session.execute(delete(Memo).where(Memo.id == memo_id))
    for sha in shas:
        intake.forget_unreferenced(database, store, sha)
