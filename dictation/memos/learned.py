"""The words compose wrote from the vocabulary, as the editor shows them, and putting the
heard form back: a save like any other (If-Match, a revision), so nothing is lost silently."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dictation.compose.learned import whole_word
from dictation.errors import Conflict, NotFound
from dictation.learning.tables import LearnedWord
from dictation.memos.drafts import save_draft
from dictation.models import Draft, User


def learned_words(session: Session, draft: Draft) -> list[LearnedWord]:
    return list(session.scalars(select(LearnedWord).where(LearnedWord.draft_id == draft.id)
                                .order_by(LearnedWord.start)))


def revert(session: Session, user: User, draft: Draft, word_id: int, base_version: int,
           language: str | None = None) -> Draft:
    """Write the heard form again where compose wrote the learned one (its occurrence-th whole
    word in the draft); Conflict when the draft no longer has it there."""
    word = session.get(LearnedWord, word_id)
    if word is None or word.draft_id != draft.id:
        raise NotFound(f"This draft has no learned word {word_id}.")
    if word.reverted:
        raise Conflict(f"“{word.written}” was already put back to “{word.heard}”.")
    # Occurrences put back before this one are no longer `written`: count them out.
    earlier = sum(1 for other in learned_words(session, draft)
                  if other.reverted and other.written == word.written and other.occurrence < word.occurrence)
    matches = list(whole_word(word.written).finditer(draft.body_markdown))
    index = word.occurrence - earlier
    if index >= len(matches):
        raise Conflict(f"“{word.written}” is no longer where compose wrote it; change it in the text instead.")
    hit = matches[index]
    body = draft.body_markdown[:hit.start()] + word.heard + draft.body_markdown[hit.end():]
    saved = save_draft(session, user, draft, base_version, {"body_markdown": body}, language)
    word.reverted = True
    return saved
