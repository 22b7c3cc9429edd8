"""Personal API tokens for phones and scripts: named, shown once, stored hashed, revocable."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import CurrentUser, SessionDep
from api.errors import errors_doc
from api.schemas import Id, TokenCreated, TokenIn, TokenOut
from dictation import accounts
from dictation.errors import NotFound
from dictation.models import ApiToken, Role, User

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("", response_model=list[TokenOut], responses=errors_doc(401), summary="Your tokens (an admin: everyone's)")
def list_tokens(user: CurrentUser, session: SessionDep, user_id: Id | None = None) -> list[TokenOut]:
    query = accounts.visible_tokens_query(user)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return [TokenOut.of(row) for row in session.scalars(query)]


@router.post(
    "", status_code=201, response_model=TokenCreated, responses=errors_doc(401, 403, 404, 422),
    summary="Make a token; the answer is the only time it is shown",
)
def create_token(body: TokenIn, user: CurrentUser, session: SessionDep, response: Response) -> TokenCreated:
    owner = user
    if body.user_id is not None and body.user_id != user.id:
        accounts.require_role(user, Role.admin, doing="make tokens for someone else")
        someone = session.get(User, body.user_id)
        if someone is None or not someone.is_active:
            raise NotFound(f"There is no active user {body.user_id}.")
        owner = someone
    row, token = accounts.create_token(session, owner, body.name)
    response.headers["Cache-Control"] = "no-store"
    return TokenCreated(**TokenOut.of(row).model_dump(), token=token)


@router.delete("/{token_id}", status_code=204, responses=errors_doc(401, 403, 404), summary="Revoke a token")
def revoke_token(token_id: Id, user: CurrentUser, session: SessionDep) -> Response:
    accounts.revoke_token(session, token_id, user)
    return Response(status_code=204)
