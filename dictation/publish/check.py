"""The check before a first publication, and what the desk shows about the live post.

One service for both doors: the desk's check dialog and `GET /drafts/{id}/publish-check`
read the same answer. It says what readers will see (title, address, excerpt, tags, image)
and how many low-confidence words nobody has looked at.

"Looked at" means clicked in the transcript (which plays the word from the audio): the desk
records each click on a low-confidence word. Edits to the draft's text are not counted: the
draft's words are not tied to the transcript's one by one, so an edit near a word does not
prove anyone listened to it; clicking it does, and it is one click.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from dictation.compose import slugify
from dictation.errors import Forbidden, InvalidInput
from dictation.models import Draft, Publication, PublicationStatus, Role, User
from dictation.publish import destinations
from dictation.publish.cms.blog import Blog
from dictation.publish.service import published_text, published_version
from dictation.settings import Settings

LOW_PROBABILITY = 0.5  # below this the transcript marks a word for checking
LISTED_WORDS = 20  # the dialog names the first few; the count covers them all


def transcript_words(transcript: dict | None) -> list[dict[str, Any]]:
    """The transcript's words in order, as the editor numbers them (empty ones left out)."""
    return [w for seg in (transcript or {}).get("segments", []) for w in seg.get("words", [])
            if str(w.get("word", "")).strip()]


def low_word_indexes(transcript: dict | None) -> list[int]:
    return [i for i, w in enumerate(transcript_words(transcript))
            if float(w.get("probability", 1.0)) < LOW_PROBABILITY]


def record_looked_at(session: Session, user: User, draft: Draft, indexes: list[int]) -> list[int]:
    """Note that `user` clicked these low-confidence words; returns every index looked at so far."""
    if Role(user.role) not in (Role.assistant, Role.admin):
        raise Forbidden("Only assistants and admins check a transcript's words.")
    low = set(low_word_indexes(draft.memo.transcript))
    wrong = [i for i in indexes if i not in low]
    if wrong:
        raise InvalidInput(f"Word {wrong[0]} is not a low-confidence word of this memo's transcript.")
    seen = sorted(set(draft.looked_at or []) | set(indexes))
    draft.looked_at = seen  # a new list: the JSON column sees the change
    session.flush()
    return seen


def live_differs(draft: Draft) -> bool:
    """A post is live and the text that would go out now is not the one it shows."""
    return any(p.status == PublicationStatus.published and p.published_version is not None
               and p.published_version != published_version(draft) for p in draft.publications)


def first_publication(draft: Draft) -> bool:
    return not any(p.published_version is not None or p.remote_id for p in draft.publications)


@dataclass(frozen=True)
class PublishCheck:
    destination: str
    kind: str
    title: str
    slug: str
    url: str | None  # where the post will be; None where only the CMS knows (WordPress, Ghost)
    excerpt: str
    tags: list[str]
    featured_image: bool
    low_words: int
    unchecked_low_words: int
    unchecked: list[dict[str, Any]]  # the first LISTED_WORDS: {index, word, start}
    first_publication: bool
    live_differs: bool


def publish_check(session: Session, settings: Settings, draft: Draft, destination: str | int | None) -> PublishCheck:
    target = destinations.get_destination(session, destination)
    text = published_text(session, draft)
    memo = draft.memo
    title = text.title or memo.title or "Untitled memo"
    slug = slugify(text.slug or title) or f"memo-{memo.id}"
    publication = next((p for p in draft.publications if p.destination_id == target.id), None)
    url = _address(settings, target.kind, slug, publication)
    words = transcript_words(memo.transcript)
    low = low_word_indexes(memo.transcript)
    seen = set(draft.looked_at or [])
    unchecked = [i for i in low if i not in seen]
    return PublishCheck(
        destination=target.name, kind=target.kind, title=title, slug=slug, url=url, excerpt=text.excerpt,
        tags=list(text.tags or []), featured_image=bool(draft.featured_image_sha256),
        low_words=len(low), unchecked_low_words=len(unchecked),
        unchecked=[{"index": i, "word": str(words[i]["word"]).strip(), "start": float(words[i].get("start", 0))}
                   for i in unchecked[:LISTED_WORDS]],
        first_publication=first_publication(draft), live_differs=live_differs(draft),
    )


def _address(settings: Settings, kind: str, slug: str, publication: Publication | None) -> str | None:
    if publication is not None and publication.remote_url and publication.status == PublicationStatus.published:
        if kind != "blog" or publication.remote_id == slug:
            return publication.remote_url
    if kind != "blog":
        return None
    # The built-in blog gives a taken address a number, as its publisher will.
    blog, candidate, n = Blog(settings), slug, 1
    marker = publication.marker if publication is not None else None
    while (other := blog.load(candidate)) is not None and other.draft_id != marker:
        n += 1
        candidate = f"{slug}-{n}"
    return f"{blog.base_url}{candidate}/"
