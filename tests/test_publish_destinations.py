"""Destinations' own rules, in the service both the API and the admin page (through that API)
use: there is always a default, the built-in blog stays, and so does a destination that has
been published to. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dictation.errors import Conflict, InvalidInput, NotFound
from dictation.models import Destination, Publication
from dictation.publish import destinations
from tests.support.dbfixtures import make_draft, make_memo, make_user


def hook(session, name: str) -> Destination:
    row = Destination(name=name, kind="webhook", url="https://hooks.example.test/in", options={})
    session.add(row)
    session.flush()
    return row


def defaults(session) -> list[str]:
    return list(session.scalars(select(Destination.name).where(Destination.is_default)))


def test_the_default_moves_and_is_never_dropped(any_db):
    with any_db.session() as session:
        destinations.ensure_builtin_blog(session)
        hook(session, "press")
        assert defaults(session) == ["blog"]
        with pytest.raises(InvalidInput, match="there is always one"):
            destinations.update_destination(session, "blog", default=False)
        assert destinations.update_destination(session, "press", default=True).is_default
        assert defaults(session) == ["press"]
        # Leaving it as it is, or saying "not the default" of one that is not, changes nothing.
        destinations.update_destination(session, "press")
        destinations.update_destination(session, "blog", default=False)
        assert defaults(session) == ["press"]
        with pytest.raises(NotFound):
            destinations.update_destination(session, "nowhere", default=True)
        # Removing the default hands it back to the built-in blog, where drafts would go anyway.
        destinations.delete_destination(session, "press")
        session.flush()
        assert defaults(session) == ["blog"] and destinations.get_destination(session, None).name == "blog"


def test_the_builtin_blog_and_a_published_destination_stay(any_db):
    with any_db.session() as session:
        blog = destinations.ensure_builtin_blog(session)
        with pytest.raises(Conflict, match="built-in blog cannot be removed"):
            destinations.delete_destination(session, "blog")
        with pytest.raises(Conflict, match="built-in blog cannot be removed"):
            destinations.delete_destination(session, blog.id)
        used, spare = hook(session, "press"), hook(session, "spare")
        draft = make_draft(session, make_memo(session, make_user(session, "author"), status="published"))
        session.add(Publication(draft_id=draft.id, destination_id=used.id, status="published", remote_id="1"))
        session.flush()
        with pytest.raises(Conflict, match="published on press; it stays"):
            destinations.delete_destination(session, "press")
        destinations.delete_destination(session, str(spare.id))
        session.flush()
        assert sorted(session.scalars(select(Destination.name))) == ["blog", "press"]
