"""Learning from corrections, as people and jobs ask for it.

- `mine`: at each publication, the draft's corrections are found again (align) and stored.
- `proposals`: corrections grouped by (heard, written, language); a group becomes a proposal
  when two memos had it, or one did and the written form is a name; decided groups drop out.
- `decide`: an assistant or admin accepts (for every author or the memo's author) or rejects.
- `terms_for`: what the next memo of an author is transcribed and composed with.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from dictation.compose import spoken_words
from dictation.compose.learned import key
from dictation.db import utcnow
from dictation.errors import Forbidden, InvalidInput, NotFound
from dictation.learning.align import HeardWord, Substitution, heard_words, substitutions
from dictation.learning.tables import Correction, VocabularyEntry
from dictation.models import Draft, Memo, Role, User
from dictation.transcribe.result import Transcript

log = logging.getLogger(__name__)

ACCEPTED, REJECTED = "accepted", "rejected"
SCOPES = ("everyone", "author")
# Two memos make a habit of the model's; one is enough for a name (a colleague's surname).
MIN_MEMOS, MIN_MEMOS_NAME = 2, 1
EXAMPLES = 5


@dataclass(frozen=True)
class Heard:
    """What the model heard in a memo, cut into words as alignment wants them."""

    language: str
    words: tuple[HeardWord, ...]


@dataclass(frozen=True)
class Mined:
    """What one publication teaches: the corrections between its transcript and its text."""

    language: str
    corrections: tuple[Substitution, ...]


def heard(draft: Draft) -> Heard | None:
    """The words of the draft's memo (read through the draft's session); None when retention
    removed the transcript: nothing to compare with."""
    memo: Memo = draft.memo
    if memo.transcript is None:
        return None
    transcript = Transcript.from_dict(memo.transcript)
    language = (transcript.language or memo.language or "en")[:8]
    return Heard(language, tuple(heard_words(spoken_words(transcript))))


def find(heard: Heard, published_markdown: str) -> Mined:
    """The corrections between what was heard and what was published. No database: aligning
    a long memo costs seconds of CPU (21 s at 10,000 words), so callers run it outside any
    transaction, where it would hold SQLite's writer lock (or the memo's row) that long."""
    return Mined(heard.language, tuple(substitutions(list(heard.words), published_markdown)))


def store(session: Session, draft: Draft, mined: Mined) -> int:
    """Store what `find` found, replacing the corrections of an earlier publication of the
    same draft; how many there are."""
    memo: Memo = draft.memo
    session.execute(delete(Correction).where(Correction.draft_id == draft.id))
    for item in mined.corrections:
        session.add(Correction(
            draft_id=draft.id, memo_id=memo.id, author_id=memo.author_id, language=mined.language,
            heard=item.heard[:200], heard_key=key(item.heard)[:200], written=item.written[:200],
            is_name=item.is_name, context=item.context[:400], start=item.start, end=item.end))
    log.info("learned %d corrections from memo %s", len(mined.corrections), memo.id)
    return len(mined.corrections)


def mine(session: Session, draft: Draft, published_markdown: str) -> int:
    """`find` then `store` in one session (scripts and benchmarks); how many were found."""
    words = heard(draft)
    return store(session, draft, find(words, published_markdown)) if words is not None else 0


@dataclass
class Example:
    memo_id: int
    author: str
    heard: str
    context: str
    start: float
    end: float


@dataclass
class Proposal:
    heard: str  # the normalised heard form
    written: str
    language: str
    memos: int  # how many memos had this correction
    count: int  # how many times in all
    is_name: bool
    authors: dict[int, str] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    status: str = "proposed"
    author_id: int | None = None  # of a decision: None = for everyone
    entry_id: int | None = None  # of a decision


def _groups(session: Session, language: str | None = None) -> dict[tuple[str, str, str], list[Correction]]:
    query = select(Correction).order_by(Correction.id.desc())
    if language:
        query = query.where(Correction.language == language)
    groups: dict[tuple[str, str, str], list[Correction]] = defaultdict(list)
    for row in session.scalars(query):
        groups[(row.heard_key, row.written, row.language)].append(row)
    return groups


def _proposal(session: Session, rows: list[Correction], names: dict[int, str]) -> Proposal:
    first = rows[0]
    authors = {row.author_id: names.get(row.author_id, "?") for row in rows}
    return Proposal(
        heard=first.heard_key, written=first.written, language=first.language,
        memos=len({row.memo_id for row in rows}), count=len(rows), is_name=any(r.is_name for r in rows),
        authors=authors, examples=[Example(r.memo_id, authors[r.author_id], r.heard, r.context, r.start, r.end)
                                   for r in rows[:EXAMPLES]])


def _names(session: Session) -> dict[int, str]:
    return {user.id: user.name or user.email for user in session.scalars(select(User))}


def proposals(session: Session, language: str | None = None) -> list[Proposal]:
    """Undecided proposals, most memos first."""
    decided = {(e.heard_key, e.written, e.language) for e in session.scalars(select(VocabularyEntry))}
    names = _names(session)
    out = []
    for group, rows in _groups(session, language).items():
        proposal = _proposal(session, rows, names)
        enough = MIN_MEMOS_NAME if proposal.is_name else MIN_MEMOS
        if group not in decided and proposal.memos >= enough:
            out.append(proposal)
    return sorted(out, key=lambda p: (-p.memos, -p.count, p.written.lower()))


def decisions(session: Session) -> list[Proposal]:
    """Accepted and rejected terms, with the corrections behind them."""
    groups, names = _groups(session), _names(session)
    out = []
    for entry in session.scalars(select(VocabularyEntry).order_by(VocabularyEntry.decided_at.desc())):
        rows = groups.get((entry.heard_key, entry.written, entry.language))
        proposal = _proposal(session, rows, names) if rows else Proposal(
            entry.heard_key, entry.written, entry.language, 0, 0, False)
        proposal.status, proposal.author_id, proposal.entry_id = entry.status, entry.author_id, entry.id
        out.append(proposal)
    return out


def decide(session: Session, actor: User, heard: str, written: str, language: str, accept: bool,
           scope: str = "everyone", author_id: int | None = None) -> VocabularyEntry:
    """Accept or reject a proposal. Scope "author": only for `author_id` (default: the author
    whose memos had it most)."""
    if actor.role not in (Role.assistant, Role.admin):
        raise Forbidden("Only assistants and admins decide which words the desk learns.")
    if scope not in SCOPES:
        raise InvalidInput(f"Unknown scope {scope!r}; choose everyone or author.")
    heard_key = key(heard)
    rows = _groups(session, language).get((heard_key, written, language))
    if not rows:
        raise NotFound(f"No correction of “{heard}” to “{written}” in {language} was found in published drafts.")
    target: int | None = None
    if scope == "author":
        target = author_id if author_id is not None else Counter(r.author_id for r in rows).most_common(1)[0][0]
        if target not in {r.author_id for r in rows}:
            raise InvalidInput("That author's memos never had this correction; choose one of theirs.")
    existing = session.scalars(select(VocabularyEntry).where(
        VocabularyEntry.heard_key == heard_key, VocabularyEntry.written == written,
        VocabularyEntry.language == language)).all()
    for entry in existing:  # one decision per term: deciding again replaces it
        session.delete(entry)
    session.flush()
    entry = VocabularyEntry(heard_key=heard_key, written=written, language=language, author_id=target,
                            status=ACCEPTED if accept else REJECTED, decided_by_id=actor.id, decided_at=utcnow())
    session.add(entry)
    session.flush()
    return entry


def withdraw(session: Session, actor: User, entry_id: int) -> None:
    """Forget a decision: the term is proposed again (and no longer used)."""
    if actor.role not in (Role.assistant, Role.admin):
        raise Forbidden("Only assistants and admins decide which words the desk learns.")
    entry = session.get(VocabularyEntry, entry_id)
    if entry is None:
        raise NotFound(f"There is no vocabulary entry {entry_id}.")
    session.delete(entry)


@dataclass(frozen=True)
class Terms:
    vocabulary: tuple[str, ...]  # for the prompt and hotwords, most frequent first
    substitutions: tuple[tuple[str, str], ...]  # (heard, written) for compose


def terms_for(session: Session, author_id: int, language: str | None) -> Terms:
    """The accepted terms for a memo of this author in this language (any language when it is
    not known yet), most memos first."""
    query = select(VocabularyEntry).where(
        VocabularyEntry.status == ACCEPTED,
        or_(VocabularyEntry.author_id.is_(None), VocabularyEntry.author_id == author_id))
    if language and language != "auto":
        query = query.where(VocabularyEntry.language == language)
    entries = list(session.scalars(query))
    if not entries:
        return Terms((), ())
    counts: Counter[tuple[str, str]] = Counter()
    for row in session.execute(select(Correction.heard_key, Correction.written, Correction.memo_id).distinct()):
        counts[(row.heard_key, row.written)] += 1
    entries.sort(key=lambda e: (-counts[(e.heard_key, e.written)], e.written))
    vocabulary = tuple(dict.fromkeys(term for e in entries for term in prompt_terms(e.written)))
    return Terms(vocabulary, tuple((e.heard_key, e.written) for e in entries))


def prompt_terms(written: str) -> list[str]:
    """What of a written form is worth the prompt's budget: its names ("Marquezine is" →
    "Marquezine", "Jeri Banke" stays whole), else the form itself unless it is a short common
    word ("is"): the model knows those, and a prompt of small words only invites it to repeat them."""
    words = written.split()
    names, run = [], []
    for word in [*words, ""]:
        if word[:1].isupper():
            run.append(word)
        elif run:
            names.append(" ".join(run))
            run = []
    if names:
        return names
    return [written] if len(written) > 3 else []
