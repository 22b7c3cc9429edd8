"""Going back in a draft's history: one saved version's text, the version a signer last read,
and restoring an earlier version (a new version with that text, never a rewrite of history).

Saving and the folding of autosaves into one revision per editing burst live in `drafts`."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dictation.errors import InvalidInput, NotFound
from dictation.memos import drafts
from dictation.models import AuditEntry, Draft, DraftRevision, User

# What a restore brings back: the words. The address (slug) stays, so that going back to an
# earlier text never moves a post; excerpt and tags follow the text or stay as set by hand.
RESTORED = ("title", "body_markdown")
# The signer's answers: the text they read is the one the draft had when they gave one.
ANSWERS = ("approve", "request_changes")


def revision(session: Session, draft: Draft, version: int) -> drafts.Revision:
    """Version `version` of the draft; NotFound when it never existed or was folded into a
    later one (autosaves of one burst keep only their last text)."""
    for found in drafts.revisions(session, draft):
        if found.version == version:
            return found
    raise NotFound(f"Draft {draft.id} has no saved version {version}; the list of revisions shows those it has.")


def restore(
    session: Session, user: User, draft: Draft, base_version: int, version: int, language: str | None = None,
) -> Draft:
    """Make version `version`'s title and text the draft's again, as a new version over
    `base_version` (StaleVersion when someone saved meanwhile, as for any save). The rules of a
    save apply (claims, the freeze while awaiting sign-off, an edit after sign-off goes back
    to review), and the history says which version came back."""
    drafts.check_may_edit(user, draft)
    source = revision(session, draft, version)
    changes = {name: getattr(source, name) for name in RESTORED}
    if all(getattr(draft, name) == value for name, value in changes.items()):
        raise InvalidInput(f"Version {version} has the same title and text as the current version "
                           f"({draft.version}); there is nothing to restore.")
    saved = drafts.save_draft(session, user, draft, base_version, changes, language)
    state = saved.memo.status
    session.add(AuditEntry(memo_id=saved.memo_id, actor_id=user.id, action="restore_revision", from_state=state,
                           to_state=state, detail=f"version {version} restored as version {saved.version}"))
    session.flush()
    return saved


def last_answer(session: Session, draft: Draft, user: User) -> tuple[str, int] | None:
    """What `user` last answered a request for sign-off ("approve" or "request_changes") and
    the version they answered, or None when they never did.

    The text is frozen while it awaits an answer, so the version is the draft's at the time of
    the answer: the newest revision saved before it. A revision saved before an answer is never
    folded into a later one, and when none was saved before it, nobody had edited the draft
    yet: the machine's first version (the oldest kept) is the one that was read.
    """
    answer = session.execute(
        select(AuditEntry.action, AuditEntry.created_at).where(
            AuditEntry.memo_id == draft.memo_id, AuditEntry.actor_id == user.id, AuditEntry.action.in_(ANSWERS),
        ).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    if answer is None:
        return None
    action, answered = answer
    mine = DraftRevision.draft_id == draft.id
    before = session.scalar(select(func.max(DraftRevision.version)).where(mine, DraftRevision.created_at <= answered))
    if before is None:
        before = session.scalar(select(func.min(DraftRevision.version)).where(mine))
    return action, int(before) if before is not None else draft.version
