"""What the editor and the sign-off page show, gathered from the tables: the transcript
word by word, the draft, the actions with the reason each refused one is refused,
revisions, comments and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from dictation import workflow
from dictation.memos import drafts
from dictation.models import (
    AuditEntry,
    Comment,
    Destination,
    Draft,
    DraftRevision,
    Memo,
    Publication,
    PublicationStatus,
    Role,
    State,
    User,
)
from dictation.publish import destinations
from dictation.publish import service as publishing
from dictation.workflow import messages

# While one of these is on screen the publish panel asks again every few seconds.
PUBLICATION_MOVING = frozenset({PublicationStatus.scheduled, PublicationStatus.publishing})
LOW_PROBABILITY = 0.5  # below this a word is marked for checking
# The actions each role sees as buttons (greyed out with the reason when refused now).
ROLE_ACTIONS = {
    Role.assistant: ("claim", "release", "submit_for_approval", "withdraw", "archive"),
    Role.admin: ("claim", "release", "submit_for_approval", "withdraw", "approve", "request_changes", "archive"),
    Role.author: ("approve", "request_changes"),
}


@dataclass(frozen=True)
class WordView:
    start: float
    end: float
    text: str
    probability: float
    # Whisper starts a word with a space unless it continues the one before: French elisions
    # come as " l" + "'équipe", so "l'équipe" must be written back without a space between.
    spaced: bool = True

    @property
    def low(self) -> bool:
        return self.probability < LOW_PROBABILITY


@dataclass(frozen=True)
class SegmentView:
    start: float
    end: float
    words: list[WordView]
    text: str  # used when the engine gave no word timings


@dataclass(frozen=True)
class ActionView:
    name: str
    allowed: bool
    reason: str | None  # why not, in the workflow's words
    needs_comment: bool


@dataclass
class RevisionView:
    version: int
    saved_by: str  # "" = the machine
    created_at: object


@dataclass
class EditorView:
    memo: Memo
    draft: Draft | None
    segments: list[SegmentView]
    word_count: int
    low_count: int
    actions: list[ActionView]
    revisions: list[RevisionView] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)  # user id -> name, for comments and audit


def segments_of(transcript: dict | None) -> list[SegmentView]:
    segments = []
    for seg in (transcript or {}).get("segments", []):
        words = [
            WordView(float(w["start"]), float(w["end"]), str(w["word"]).strip(), float(w.get("probability", 1.0)),
                     spaced=str(w["word"])[:1].isspace())
            for w in seg.get("words", [])
            if str(w.get("word", "")).strip()
        ]
        segments.append(SegmentView(float(seg["start"]), float(seg["end"]), words, str(seg.get("text", "")).strip()))
    return segments


def actions_for(memo: Memo, draft: Draft | None, user: User, lang: str | None = None) -> list[ActionView]:
    """The buttons, each refused one with its reason in `lang` (the page's language; when the
    caller has no request to ask, the person's own setting, else English)."""
    lang = lang or messages.preferred_language(user.language, None)
    views = []
    for name in ROLE_ACTIONS.get(Role(user.role), ()):
        if _beside_the_point(name, memo, draft, user):
            continue
        spec = workflow.ACTIONS[name]
        # The reason is asked for when the button is pressed; it does not refuse the button.
        reason = workflow.refusal(memo, draft, name, user, comment="-" if spec.needs_comment else None, lang=lang)
        views.append(ActionView(name, reason is None, reason, spec.needs_comment))
    return views


def _beside_the_point(name: str, memo: Memo, draft: Draft | None, user: User) -> bool:
    """Buttons beside the point are left out rather than shown: Withdraw outside a request for
    sign-off (it could only be refused), and Claim on a draft sent back with changes that this
    person already holds (they have it, and send it for sign-off again in one step)."""
    state = State(memo.status)
    if name == "withdraw":
        return state is not State.awaiting_approval
    held = draft is not None and draft.assignee_id == user.id
    return name == "claim" and held and state is State.changes_requested


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    people = {i for i in ids if i is not None}  # None: the machine
    if not people:
        return {}
    return {u.id: u.name or u.email for u in session.scalars(select(User).where(User.id.in_(people)))}


def editor_view(session: Session, memo: Memo, user: User, lang: str | None = None) -> EditorView:
    draft = memo.draft
    segments = segments_of(memo.transcript)
    words = [w for s in segments for w in s.words]
    revisions, comments = [], []
    if draft is not None:
        revisions = list(
            session.scalars(
                select(DraftRevision).where(DraftRevision.draft_id == draft.id).order_by(DraftRevision.version.desc())
            )
        )
        comments = drafts.comments(session, draft)
    audit = list(session.scalars(select(AuditEntry).where(AuditEntry.memo_id == memo.id).order_by(AuditEntry.id)))
    names = _names(
        session,
        {r.saved_by_id for r in revisions} | {c.user_id for c in comments} | {a.actor_id for a in audit},
    )
    return EditorView(
        memo=memo,
        draft=draft,
        segments=segments,
        word_count=len(words),
        low_count=sum(1 for w in words if w.low),
        actions=actions_for(memo, draft, user, lang),
        revisions=[RevisionView(r.version, names.get(r.saved_by_id, "") if r.saved_by_id else "", r.created_at)
                   for r in revisions],
        comments=comments,
        audit=audit,
        names=names,
    )


def author_memos(session: Session, user: User, limit: int = 50) -> tuple[list[Memo], list[Memo]]:
    """(the author's memos, newest first; those waiting for their sign-off)."""
    memos = list(
        session.scalars(select(Memo).where(Memo.author_id == user.id).order_by(Memo.created_at.desc()).limit(limit))
    )
    waiting = [m for m in memos if m.status == State.awaiting_approval]
    return memos, waiting


@dataclass(frozen=True)
class PublishView:
    destinations: list[Destination]  # the default one first: it is preselected
    publications: list[Publication]  # this draft's, oldest first
    can_publish: bool  # the memo's state lets it go out now
    refused: str | None  # why not, in the workflow's words

    @property
    def moving(self) -> bool:
        return any(p.status in PUBLICATION_MOVING for p in self.publications)

    @property
    def due_soon(self) -> bool:
        """A publication runs now or is running: worth asking every second or two."""
        return any(p.status == PublicationStatus.publishing
                   or (p.status == PublicationStatus.scheduled and p.publish_at is None)
                   for p in self.publications)


def publish_view(session: Session, memo: Memo, lang: str = messages.DEFAULT_LANGUAGE) -> PublishView:
    """The publish panel; why it cannot publish now in `lang`, the words the API would use."""
    draft = memo.draft
    rows = destinations.list_destinations(session)
    rows.sort(key=lambda d: (not d.is_default, d.name.casefold()))
    publications = list(draft.publications) if draft is not None else []
    refused = None
    if draft is None:
        refused = messages.say("no_draft", lang)
    elif (refusal := publishing.publishable_refusal(memo)) is not None:
        refused = workflow.refused_message(refusal, lang)
    return PublishView(rows, publications, refused is None, refused)
