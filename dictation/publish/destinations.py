"""Where drafts are published: rows in `destinations`, their secrets encrypted at rest.

The built-in blog exists from the start as `blog`, so a fresh install can publish with no CMS.
There is always a default destination (it moves, it is never just dropped), the built-in blog
cannot be removed, and a destination that has been published to stays.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dictation.errors import Conflict, InvalidInput, NotFound
from dictation.models import Destination, Publication
from dictation.publish import secretbox
from dictation.publish.cms import PUBLISHERS
from dictation.publish.cms import Destination as DestinationConfig
from dictation.publish.cms.http import check_destination_url
from dictation.settings import Settings

BUILTIN_BLOG = "blog"
# Kinds that cannot work without an address (the blog and a webhook's receiver differ).
NEEDS_URL = {"wordpress", "ghost", "micropub", "webhook"}


def ensure_builtin_blog(session: Session) -> Destination:
    row = session.scalar(select(Destination).where(Destination.name == BUILTIN_BLOG))
    if row is None:
        has_default = session.scalar(select(Destination.id).where(Destination.is_default)) is not None
        row = Destination(name=BUILTIN_BLOG, kind="blog", is_default=not has_default, options={})
        session.add(row)
        session.flush()
    return row


def add_destination(
    session: Session,
    settings: Settings,
    name: str,
    kind: str,
    url: str | None = None,
    user: str | None = None,
    secret: str | None = None,
    default: bool = False,
    options: dict | None = None,
) -> Destination:
    if kind not in PUBLISHERS:
        raise InvalidInput(f"Unknown kind {kind!r}; choose one of {', '.join(PUBLISHERS)}.")
    if kind in NEEDS_URL and not url:
        raise InvalidInput(f"A {kind} destination needs its address (--url).")
    if url:
        url = check_destination_url(url, settings.allow_private_destinations)
    if session.scalar(select(Destination.id).where(Destination.name == name)) is not None:
        raise Conflict(f"There is already a destination called {name!r}.")
    row = Destination(
        name=name,
        kind=kind,
        url=url,
        username=user,
        secret_encrypted=secretbox.encrypt(secret, settings.secret_key) if secret else None,
        options=options or {},
    )
    session.add(row)
    session.flush()
    if default:
        set_default(session, row)
    return row


def set_default(session: Session, row: Destination) -> None:
    session.execute(update(Destination).where(Destination.id != row.id).values(is_default=False))
    row.is_default = True


def update_destination(session: Session, name_or_id: str | int, default: bool | None = None) -> Destination:
    """Make the destination the default (`default=True`); None leaves it as it is. Unsetting
    the default is refused (InvalidInput): another destination is made the default instead."""
    row = get_destination(session, name_or_id)
    if default is False and row.is_default:
        # Drafts always need somewhere to go: the default moves, it is never just dropped.
        raise InvalidInput("Make another destination the default instead; there is always one.")
    if default:
        set_default(session, row)
    session.flush()
    return row


def delete_destination(session: Session, name_or_id: str | int) -> None:
    """Remove a destination; Conflict for the built-in blog, and for one that drafts were
    published on (it stays so their posts can be updated or taken down)."""
    row = get_destination(session, name_or_id)
    if row.name == BUILTIN_BLOG:
        raise Conflict("The built-in blog cannot be removed.")
    if session.scalar(select(Publication.id).where(Publication.destination_id == row.id).limit(1)):
        raise Conflict(f"Drafts were published on {row.name}; it stays so their posts can be updated.")
    was_default = row.is_default
    session.delete(row)
    if was_default:  # the default moves back to the built-in blog, which is where drafts went anyway
        session.flush()
        set_default(session, get_destination(session, BUILTIN_BLOG))


def list_destinations(session: Session) -> list[Destination]:
    ensure_builtin_blog(session)
    return list(session.scalars(select(Destination).order_by(Destination.name)))


def get_destination(session: Session, name_or_id: str | int | None) -> Destination:
    """By name or id; None means the default destination."""
    ensure_builtin_blog(session)
    if name_or_id is None or name_or_id == "":
        row = session.scalar(select(Destination).where(Destination.is_default))
        row = row or session.scalar(select(Destination).where(Destination.name == BUILTIN_BLOG))
    elif isinstance(name_or_id, int) or (str(name_or_id).isascii() and str(name_or_id).isdigit()):
        # Ids are 32-bit in the database; a larger number names nothing (and must not reach SQL).
        row = session.get(Destination, int(name_or_id)) if 0 < int(name_or_id) < 2**31 else None
    else:
        row = session.scalar(select(Destination).where(Destination.name == name_or_id))
    if row is None:
        raise NotFound(f"There is no destination {name_or_id!r}.")
    return row


def to_config(row: Destination, settings: Settings) -> DestinationConfig:
    """What a publisher needs, with the secret decrypted in memory only."""
    secret = secretbox.decrypt(row.secret_encrypted, settings.secret_key) if row.secret_encrypted else ""
    return DestinationConfig(
        kind=row.kind, name=row.name, url=row.url or "", user=row.username or "", secret=secret,
        options=dict(row.options or {}),
    )


def describe(row: Destination) -> dict:
    """For lists and the API: everything but the secret, which is never shown again."""
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "url": row.url,
        "user": row.username,
        "has_secret": bool(row.secret_encrypted),
        "default": row.is_default,
    }
