"""The assistant's worklist: what needs doing, most pressing first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import case, func
from sqlalchemy.orm import selectinload

from api.deps import CurrentUser, SessionDep
from api.errors import errors_doc
from api.schemas import MemoOut, PersonOut, WorklistItem, WorklistOut
from dictation import accounts
from dictation.db import utcnow
from dictation.models import Draft, Memo, Priority, State

router = APIRouter(tags=["worklist"])

# Done with: nothing left for anyone to do.
CLOSED = (State.published.value, State.archived.value)
_PRIORITY_RANK = {Priority.urgent.value: 0, Priority.high.value: 1, Priority.normal.value: 2}


@router.get(
    "/worklist", response_model=WorklistOut, responses=errors_doc(401, 422),
    summary="Open memos: overdue first, then urgent > high > normal, then by due date",
)
def worklist(
    user: CurrentUser,
    session: SessionDep,
    state: Annotated[list[State] | None, Query(description="Only these states.")] = None,
    mine: Annotated[bool, Query(description="Only drafts you have claimed.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> WorklistOut:
    now = utcnow()
    visible = accounts.visible_memos_query(user)
    overdue = case((Memo.due_at < now, 0), else_=1)
    rank = case(_PRIORITY_RANK, value=Memo.priority, else_=len(_PRIORITY_RANK))
    query = visible.where(Memo.status.not_in(CLOSED)) if not state else visible.where(
        Memo.status.in_([s.value for s in state])
    )
    if mine:
        query = query.join(Draft, Draft.memo_id == Memo.id).where(Draft.assignee_id == user.id)
    query = query.order_by(
        overdue, rank, Memo.due_at.is_(None), Memo.due_at, Memo.created_at, Memo.id
    ).limit(limit).options(  # a few queries for the whole page, not a few per memo
        selectinload(Memo.author), selectinload(Memo.draft).selectinload(Draft.assignee),
    )
    items = []
    for memo in session.scalars(query):
        draft = memo.draft
        items.append(
            WorklistItem(
                memo=MemoOut.of(memo),
                overdue=memo.due_at is not None and memo.due_at < now,
                assignee=PersonOut.of(draft.assignee) if draft else None,
            )
        )
    counted = visible.with_only_columns(Memo.status, func.count()).group_by(Memo.status)
    counts = {s.value: 0 for s in State}
    counts.update({status: n for status, n in session.execute(counted)})
    return WorklistOut(items=items, counts=counts)
