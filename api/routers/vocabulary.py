"""Vocabulary learned from corrections: proposals, decisions (assistants and admins), and the
words compose wrote from it in a draft, each of which can be put back. The rules are in
`dictation.learning` and `dictation.memos.learned`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, Field

from api.deps import CurrentUser, SessionDep, StaffUser
from api.drafts_http import draft_answer, if_match_version, stale_with_current
from api.errors import errors_doc
from api.schemas import DraftOut, Id, Input
from dictation.learning import service as learning
from dictation.memos import learned
from dictation.memos.drafts import visible_draft
from dictation.workflow import messages

router = APIRouter(tags=["vocabulary"])


class ExampleOut(BaseModel):
    memo_id: int
    author: str
    heard: str = Field(description="What the model wrote")
    context: str = Field(description="The published words around the correction")
    start: float = Field(description="Seconds into the memo: play its playback audio from here")
    end: float


class ProposalOut(BaseModel):
    heard: str = Field(description="The heard form, normalised (lower case, no punctuation)")
    written: str
    language: str
    memos: int = Field(description="How many published memos had this correction")
    count: int
    is_name: bool
    status: str = Field(description="proposed, accepted or rejected")
    author_id: int | None = Field(description="Of a decision: the one author it is for; null = everyone")
    entry_id: int | None = Field(description="Of a decision: its id, to withdraw it")
    authors: dict[int, str]
    examples: list[ExampleOut]


class DecisionIn(Input):
    one_line = frozenset({"heard", "written", "language"})

    heard: str = Field(min_length=1, max_length=200)
    written: str = Field(min_length=1, max_length=200)
    language: str = Field(min_length=2, max_length=8)
    accept: bool
    scope: Literal["everyone", "author"] = "everyone"
    author_id: Id | None = Field(None, description="With scope author: whose memos (default: the most frequent)")


class DecisionOut(BaseModel):
    id: int
    heard: str
    written: str
    language: str
    status: str
    author_id: int | None


class LearnedWordOut(BaseModel):
    id: int
    heard: str
    written: str
    start: float
    end: float
    reverted: bool


def _out(proposal: learning.Proposal) -> ProposalOut:
    return ProposalOut.model_validate(proposal, from_attributes=True)


@router.get("/vocabulary/proposals", response_model=list[ProposalOut], responses=errors_doc(401, 403),
            summary="Terms corrected the same way in published drafts, not decided yet")
def list_proposals(user: StaffUser, session: SessionDep, language: str | None = None) -> list[ProposalOut]:
    return [_out(p) for p in learning.proposals(session, language)]


@router.get("/vocabulary", response_model=list[ProposalOut], responses=errors_doc(401, 403),
            summary="Accepted and rejected terms")
def list_decisions(user: StaffUser, session: SessionDep) -> list[ProposalOut]:
    return [_out(p) for p in learning.decisions(session)]


@router.post("/vocabulary", status_code=201, response_model=DecisionOut, responses=errors_doc(401, 403, 404, 422),
             summary="Accept (for everyone or one author) or reject a proposal")
def decide(body: DecisionIn, user: StaffUser, session: SessionDep) -> DecisionOut:
    entry = learning.decide(session, user, body.heard, body.written, body.language, body.accept,
                            body.scope, body.author_id)
    return DecisionOut(id=entry.id, heard=entry.heard_key, written=entry.written, language=entry.language,
                       status=entry.status, author_id=entry.author_id)


@router.delete("/vocabulary/{entry_id}", status_code=204, responses=errors_doc(401, 403, 404),
               summary="Forget a decision: the term is proposed again")
def withdraw(entry_id: Id, user: StaffUser, session: SessionDep) -> Response:
    learning.withdraw(session, user, entry_id)
    return Response(status_code=204)


@router.get("/drafts/{draft_id}/learned", response_model=list[LearnedWordOut], responses=errors_doc(401, 404),
            summary="Words compose wrote from the vocabulary in this draft")
def list_learned(draft_id: Id, user: CurrentUser, session: SessionDep) -> list[LearnedWordOut]:
    draft = visible_draft(session, user, draft_id)
    return [LearnedWordOut.model_validate(w, from_attributes=True) for w in learned.learned_words(session, draft)]


@router.post("/drafts/{draft_id}/learned/{word_id}/revert", response_model=DraftOut,
             responses=errors_doc(401, 403, 404, 409, 412, 428),
             summary="Put the heard form back where compose wrote a learned word; needs If-Match")
def revert_learned(
    draft_id: Id, word_id: Id, user: CurrentUser, session: SessionDep,
    if_match: Annotated[str | None, Header(description='The ETag of the current draft, e.g. "3".')] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    draft = visible_draft(session, user, draft_id)
    version = if_match_version(draft, if_match)
    with stale_with_current(session, user, draft_id):
        saved = learned.revert(session, user, draft, word_id, version,
                               messages.preferred_language(user.language, accept_language))
    return draft_answer(saved, user)
