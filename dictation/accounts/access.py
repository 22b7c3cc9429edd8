"""Who may see which memo, and who may do what."""

from __future__ import annotations

from sqlalchemy import Select, select

from dictation.errors import Forbidden
from dictation.models import Memo, Role, User


def visible_memos_query(user: User) -> Select[Memo]:
    """Authors see their own memos; assistants and admins see all of them."""
    query = select(Memo)
    return query.where(Memo.author_id == user.id) if user.role == Role.author else query


def can_see(user: User, memo: Memo) -> bool:
    return user.role != Role.author or memo.author_id == user.id


def require_role(user: User, *roles: Role, doing: str = "do this") -> None:
    if user.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise Forbidden(f"Only an {allowed} may {doing}.")
