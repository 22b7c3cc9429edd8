"""The assistant's worklist: what needs doing, most pressing first (`dictation.memos.worklist`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentUser, SessionDep
from api.errors import errors_doc
from api.recent import ARRIVED, ASKED_AT_THE_DOOR
from api.schemas import MemoOut, PersonOut, WorklistItem, WorklistOut
from dictation.memos import worklist as work
from dictation.models import State, User

router = APIRouter(tags=["worklist"])


@router.get(
    "/worklist", response_model=WorklistOut, responses=errors_doc(401, 422),
    summary="Open memos: overdue first, then urgent > high > normal, then by due date",
)
async def worklist(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    state: Annotated[
        list[State] | None,
        Query(description="Only these states; without it, the open ones (not scheduled, publishing, "
                          "published or archived)."),
    ] = None,
    mine: Annotated[bool, Query(description="Only drafts you have claimed.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    # After the caller is known (a revoked token never gets a kept answer): the same caller's
    # same query within a second is answered as it was (api/recent.py says why and when not).
    recent = request.app.state.recent

    wanted = work.WorklistQuery(
        states=tuple(state or ()), assignee=work.Assignee.me if mine else work.Assignee.any, limit=limit
    )

    def compute() -> bytes:
        found = work.load(session, user, wanted)
        items = [
            WorklistItem(
                memo=MemoOut.of(entry.memo), overdue=entry.overdue,
                assignee=PersonOut.of(entry.memo.draft.assignee) if entry.memo.draft else None,
            )
            for entry in found.entries
        ]
        return WorklistOut(items=items, counts=found.counts).model_dump_json().encode()

    who = recent.who(request)
    key = recent.key(request, answer_shared(user, request), who)
    # On the event loop: a kept answer needs no thread. Asked once a request: the door's
    # question (api/recent.py) may have claimed the computation for this one.
    body = None if request.scope.get(ASKED_AT_THE_DOOR) else recent.ready(key, who)
    if body is None:
        body = await run_in_threadpool(recent.answer, key, compute, who=who, arrived=request.scope.get(ARRIVED))
    return Response(body, media_type="application/json")


def answer_shared(user: User, request: Request) -> bool:
    """Whether this caller's answer is everyone's who sees every memo, so one kept answer serves
    them all (api/recent.py): under bench/load.py --desks 10 each desk's worklist was computed
    about once a second per process, 20 computations of ~30 ms a second with 10,000 drafts, and
    the p95 missed its goal. Decided from the raw query, as the door must before any
    validation: any "mine" (even "false") keeps the answer the caller's own."""
    mine = work.Assignee.me if "mine" in request.query_params else work.Assignee.any
    return work.same_for_all(user, work.WorklistQuery(assignee=mine))
