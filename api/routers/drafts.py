"""Drafts: read with an ETag, save with If-Match (no edit is ever lost), every version kept,
workflow transitions, and the comment thread."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, update

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.errors import errors_doc
from api.schemas import Id
from api.schemas import (
    CommentIn,
    CommentOut,
    DraftOut,
    DraftPatch,
    RevisionOut,
    TransitionIn,
    TransitionOut,
)
from dictation import accounts, workflow
from dictation.db import utcnow
from dictation.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionRequired,
    StaleVersion,
    TransitionRefused,
)
from dictation.models import Comment, Draft, DraftRevision, Role, State, User
from dictation.notify import Mailer
from dictation.workflow import messages

router = APIRouter(prefix="/drafts", tags=["drafts"])

# While a memo is being published or is archived, its text stays as it is.
_FROZEN = frozenset({State.publishing, State.archived})
_EDITABLE = ("title", "body_markdown", "tags", "excerpt", "slug")


def visible_draft(session, user: User, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None or not accounts.can_see(user, draft.memo):
        raise NotFound(f"There is no draft {draft_id}.")
    return draft


def etag(draft: Draft) -> str:
    return f'"{draft.version}"'


def draft_out(draft: Draft, user: User) -> DraftOut:
    return DraftOut.of(draft, workflow.allowed_actions(draft.memo, draft, user))


def _answer(draft: Draft, user: User, status: int = 200) -> JSONResponse:
    body = draft_out(draft, user).model_dump(mode="json")
    return JSONResponse(body, status_code=status, headers={"ETag": etag(draft), "Cache-Control": "no-cache"})


def _version_of(if_match: str) -> int | None:
    value = if_match.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    return int(value) if value.isdigit() else None


@router.get(
    "/{draft_id}", response_model=DraftOut, responses={304: {"description": "Not modified"}, **errors_doc(401, 404)},
    summary="A draft, with its version as the ETag",
)
def get_draft(
    draft_id: Id, user: CurrentUser, session: SessionDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    draft = visible_draft(session, user, draft_id)
    if if_none_match and etag(draft) in [v.strip().removeprefix("W/") for v in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": etag(draft)})
    return _answer(draft, user)


def _check_may_edit(user: User, draft: Draft) -> None:
    if user.role == Role.author:
        raise Forbidden("Authors comment on drafts and sign them off; an assistant edits them.")
    state = State(draft.memo.status)
    if state in _FROZEN:
        raise Conflict(f"This draft cannot be edited while its memo is {state.value.replace('_', ' ')}.")
    if user.role != Role.admin and draft.assignee_id not in (None, user.id):
        holder = draft.assignee.name or draft.assignee.email
        raise Conflict(f"{holder} has claimed this draft; ask them to release it or an admin to reassign it.")


@router.patch(
    "/{draft_id}", response_model=DraftOut, responses=errors_doc(401, 403, 404, 409, 412, 422, 428),
    summary="Save a draft; needs If-Match with the ETag you read",
)
def save_draft(
    draft_id: Id, body: DraftPatch, user: CurrentUser, session: SessionDep,
    if_match: Annotated[str | None, Header(description='The ETag from GET, e.g. "3".')] = None,
) -> Response:
    draft = visible_draft(session, user, draft_id)
    if not if_match:
        raise PreconditionRequired(
            "Send If-Match with the draft's ETag (from GET) so that nobody's edit is overwritten.",
            version=draft.version,
        )
    version = _version_of(if_match)
    if version is None:
        raise PreconditionRequired(f'If-Match must be the draft\'s ETag, like "{draft.version}", not {if_match}.')
    _check_may_edit(user, draft)
    changes = body.model_dump(exclude_unset=True)
    nulls = [name for name, value in changes.items() if value is None]
    if nulls:
        raise InvalidInput(f"The field '{nulls[0]}' cannot be empty (null); send \"\" instead.")
    if version != draft.version:
        raise _stale(draft, user)
    # Conditional: of two writers holding the same version only one UPDATE matches; the other
    # waits for the row lock (PostgreSQL) or the write lock (SQLite) and then matches nothing.
    result = session.execute(
        update(Draft)
        .where(Draft.id == draft.id, Draft.version == version)
        .values(version=version + 1, updated_at=utcnow(), **changes)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        raise _stale(session.get(Draft, draft_id), user)
    # Only the winner gets here. `draft` still holds the version it replaced (the UPDATE did not
    # touch the loaded object): keep that too if nobody recorded it, e.g. the machine's first text.
    if not session.scalar(
        select(func.count()).where(DraftRevision.draft_id == draft.id, DraftRevision.version == version)
    ):
        session.add(_revision(draft, {}, version, None))
    session.add(_revision(draft, changes, version + 1, user.id))
    session.flush()
    session.refresh(draft)
    return _answer(draft, user)


def _revision(draft: Draft, changes: dict, version: int, user_id: int | None) -> DraftRevision:
    fields = {name: changes.get(name, getattr(draft, name)) for name in _EDITABLE}
    return DraftRevision(draft_id=draft.id, version=version, saved_by_id=user_id, **fields)


def _stale(draft: Draft, user: User) -> StaleVersion:
    current = draft_out(draft, user).model_dump(mode="json")
    return StaleVersion(
        f"Someone saved this draft after you opened it (it is now version {draft.version}); "
        "nothing was overwritten: merge your changes into the current text and save again.",
        current=current, headers={"ETag": etag(draft)},
    )


@router.get("/{draft_id}/revisions", response_model=list[RevisionOut], responses=errors_doc(401, 404), summary="Every saved version, newest first")
def list_revisions(draft_id: Id, user: CurrentUser, session: SessionDep) -> list[RevisionOut]:
    draft = visible_draft(session, user, draft_id)
    rows = session.scalars(
        select(DraftRevision).where(DraftRevision.draft_id == draft.id).order_by(DraftRevision.version.desc())
    ).all()
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_({r.saved_by_id for r in rows} - {None})))}
    out = [RevisionOut.of(r, people.get(r.saved_by_id)) for r in rows]
    if not out:
        # Never saved by a person: the draft as the machine wrote it is the only version.
        out = [RevisionOut(**{n: getattr(draft, n) for n in _EDITABLE}, version=draft.version, saved_by=None, created_at=draft.created_at)]
    return out


@router.post(
    "/{draft_id}/transitions", response_model=TransitionOut, responses=errors_doc(401, 404, 409, 422),
    summary="Claim, release, send for sign-off, sign off, request changes, archive (409 says why not)",
)
def transition(draft_id: Id, body: TransitionIn, user: CurrentUser, session: SessionDep,
               settings: SettingsDep, background: BackgroundTasks,
               accept_language: Annotated[str | None, Header()] = None) -> Response:
    draft = visible_draft(session, user, draft_id)
    try:
        if body.action == "reassign":
            to_user = session.get(User, body.to_user_id) if body.to_user_id is not None else None
            if to_user is None:
                raise InvalidInput("Say who takes the draft over: to_user_id must name an assistant.")
            entry = workflow.reassign(session, draft.memo, to_user, user)
        else:
            entry = workflow.apply(session, draft.memo, body.action, user, body.comment)
    except TransitionRefused as refused:
        # The review desk shows this sentence in a toast: in the page's language (the person's
        # setting, else Accept-Language), English by default; `reason` stays for programs.
        refused.message = workflow.refused_message(refused, messages.preferred_language(user.language, accept_language))
        raise
    if entry.detail and body.action != "reassign":
        # The reason for a sign-off or a change request belongs in the conversation too.
        session.add(Comment(draft_id=draft.id, user_id=user.id, body=entry.detail))
    session.flush()
    session.refresh(draft)
    session.refresh(draft.memo)
    if entry.to_state == State.awaiting_approval:
        # After the response: a slow mail server must not hold the assistant's click.
        author = draft.memo.author
        background.add_task(Mailer(settings).signoff_requested, author.email, draft.title,
                            user.name or user.email, f"/phone/memos/{draft.memo_id}")
    out = TransitionOut(action=entry.action, from_state=entry.from_state, to_state=entry.to_state, draft=draft_out(draft, user))
    return JSONResponse(out.model_dump(mode="json"), headers={"ETag": etag(draft)})


@router.get("/{draft_id}/comments", response_model=list[CommentOut], responses=errors_doc(401, 404), summary="The conversation, oldest first")
def list_comments(draft_id: Id, user: CurrentUser, session: SessionDep) -> list[CommentOut]:
    draft = visible_draft(session, user, draft_id)
    rows = session.scalars(select(Comment).where(Comment.draft_id == draft.id).order_by(Comment.id))
    return [CommentOut.of(c) for c in rows]


@router.post("/{draft_id}/comments", status_code=201, response_model=CommentOut, responses=errors_doc(401, 404, 422), summary="Add a comment")
def add_comment(draft_id: Id, body: CommentIn, user: CurrentUser, session: SessionDep) -> CommentOut:
    draft = visible_draft(session, user, draft_id)
    text = body.body.strip()
    if not text:
        raise InvalidInput("A comment cannot be empty.")
    comment = Comment(draft_id=draft.id, user_id=user.id, body=text)
    session.add(comment)
    session.flush()
    session.refresh(comment)
    return CommentOut.of(comment)
