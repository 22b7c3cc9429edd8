"""The state machine of a memo: which moves exist, who may make them, and the audit trail.

People's actions (`apply`) and the machine's moves (`system`) are both tables of data below.
Every change first takes the memo row with a conditional UPDATE (`... WHERE status = <what we
saw>`) and checks again with fresh data, so two people acting at once cannot both win: the
second is refused with a reason, never silently overwritten. Every change writes an `AuditEntry`
(who, when, from, to, detail).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import update
from sqlalchemy.orm import Session

from dictation.db import rows_changed
from dictation.errors import InvalidInput, TransitionRefused
from dictation.models import AuditEntry, Draft, Memo, Role, State, User
from dictation.workflow import messages

S = State


@dataclass(frozen=True)
class Action:
    name: str  # what the API and the buttons call it
    label: str  # what a person reads on the button
    moves: dict[State, State]  # from state -> to state; a state not listed refuses the action
    roles: frozenset[Role]  # who may act; authors only ever on their own memos
    holder_only: bool  # the claim lock applies: someone else's claim refuses it (admins exempt)
    needs_comment: bool = False  # the reason is required (and written to the audit trail)


_STAFF = frozenset({Role.assistant, Role.admin})
_SIGNERS = frozenset({Role.author, Role.admin})

ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "claim",
            "Claim",
            {S.ready: S.in_review, S.in_review: S.in_review, S.changes_requested: S.in_review},
            _STAFF,
            holder_only=True,
        ),
        Action(
            "release",
            "Release",
            {S.in_review: S.ready, S.changes_requested: S.changes_requested},
            _STAFF,
            holder_only=True,
        ),
        Action(
            "submit_for_approval",
            "Send for sign-off",
            # From "changes requested" too: the holder sends the changed text back in one step.
            {S.in_review: S.awaiting_approval, S.changes_requested: S.awaiting_approval},
            _STAFF,
            holder_only=True,
        ),
        Action(
            # The assistant takes back a request for sign-off, to edit the frozen text again.
            "withdraw",
            "Withdraw sign-off request",
            {S.awaiting_approval: S.in_review},
            _STAFF,
            holder_only=True,
        ),
        Action("approve", "Sign off", {S.awaiting_approval: S.approved}, _SIGNERS, holder_only=False),
        Action(
            "request_changes",
            "Request changes",
            {S.awaiting_approval: S.changes_requested},
            _SIGNERS,
            holder_only=False,
            needs_comment=True,
        ),
        Action(
            "archive",
            "Archive",
            {
                s: S.archived
                for s in (
                    S.ready, S.in_review, S.awaiting_approval, S.approved,
                    S.changes_requested, S.published, S.failed,
                )
            },
            _STAFF,
            holder_only=True,
        ),
    )
}

# Where a draft can be handed to someone: the states in which claims matter.
REASSIGNABLE = frozenset({S.ready, S.in_review, S.changes_requested, S.awaiting_approval, S.approved})

# The machine's moves: from -> the states it may go to. Same-state entries are restarts
# (a job picked up again after its worker died).
SYSTEM_MOVES: dict[State, frozenset[State]] = {
    S.received: frozenset({S.transcribing, S.failed, S.archived}),
    S.transcribing: frozenset({S.transcribing, S.ready, S.failed, S.received, S.archived}),
    S.ready: frozenset({S.scheduled, S.publishing}),
    S.in_review: frozenset({S.scheduled, S.publishing}),
    S.approved: frozenset({S.scheduled, S.publishing}),
    S.scheduled: frozenset({S.publishing, S.ready, S.in_review, S.approved, S.failed}),
    S.publishing: frozenset({S.publishing, S.published, S.failed, S.scheduled}),
    S.published: frozenset({S.scheduled, S.publishing, S.archived}),
    S.failed: frozenset({S.received, S.scheduled, S.publishing, S.archived}),
}

# The audit name of a machine move, by target state; the caller may name it instead.
_SYSTEM_ACTION = {
    S.received: "retry",
    S.transcribing: "start_transcription",
    S.ready: "transcribed",
    S.failed: "fail",
    S.archived: "cancel",
    S.scheduled: "schedule",
    S.publishing: "start_publishing",
    S.published: "published",
    S.in_review: "unschedule",
    S.approved: "unschedule",
}


def refusal(
    memo: Memo, draft: Draft | None, action: str, user: User | None, comment: str | None = None, lang: str = "en"
) -> str | None:
    """Why `user` may not do `action` on this memo now, in `lang` ("en", "fr"), or None when they may."""
    why = refusal_reason(memo, draft, action, user, comment)
    return messages.say(why[0], lang, **why[1]) if why else None


def refusal_reason(
    memo: Memo, draft: Draft | None, action: str, user: User | None, comment: str | None = None
) -> tuple[str, dict[str, object]] | None:
    """Why not, as a reason id of `dictation.workflow.messages` and its raw values, or None when they may."""
    spec = ACTIONS.get(action)
    if spec is None:
        return "no_such_action", {"action": action}
    if user is None:
        return "signed_out", {}
    if not user.is_active:
        return "account_disabled", {}
    role = Role(user.role)
    if role not in spec.roles:
        return "wrong_role", {"action": action, "roles": sorted(r.value for r in spec.roles)}
    if role is Role.author and memo.author_id != user.id:
        return "not_own_memo", {}
    state = State(memo.status)
    if state not in spec.moves:
        return "wrong_state", {"action": action, "state": state.value}
    if draft is None:
        return "no_draft", {}
    if spec.holder_only and role is not Role.admin and draft.assignee_id not in (None, user.id):
        holder = draft.assignee
        return "claimed_by_other", {"holder": (holder.name or holder.email) if holder is not None else None}
    if action == "claim" and draft.assignee_id == user.id and state is S.in_review:
        return "already_claimed", {}
    if action == "release" and draft.assignee_id is None:
        return "nobody_claimed", {}
    if spec.needs_comment and not (comment and comment.strip()):
        return "reason_required", {}
    return None


def refused_message(exc: TransitionRefused, lang: str) -> str:
    """A refusal's sentence in `lang`; one without a reason id keeps its own words."""
    reason = exc.detail.get("reason")
    if not isinstance(reason, str) or reason not in messages.TEMPLATES[messages.DEFAULT_LANGUAGE]:
        return exc.message
    return messages.say(reason, lang, **{k: v for k, v in exc.detail.items() if k != "reason"})


def allowed_actions(memo: Memo, draft: Draft | None, user: User | None) -> list[str]:
    """The actions this person may take now, in table order (for buttons and the API)."""
    names = [
        name
        for name, spec in ACTIONS.items()
        # A comment is asked for when the button is pressed; it does not hide the button.
        if refusal(memo, draft, name, user, comment="-" if spec.needs_comment else None) is None
    ]
    if (
        user is not None
        and user.is_active
        and Role(user.role) is Role.admin
        and draft is not None
        and State(memo.status) in REASSIGNABLE
    ):
        names.append("reassign")
    return names


def apply(
    session: Session, memo: Memo, action: str, actor: User | None, comment: str | None = None,
    expected_version: int | None = None,  # approve: the draft version the author read
) -> AuditEntry:
    """Do a person's action on a memo, or raise `TransitionRefused` saying why not."""
    if action not in ACTIONS:
        raise InvalidInput(f"There is no action called {action!r}.", actions=sorted(ACTIONS))
    _refuse_if(refusal_reason(memo, memo.draft, action, actor, comment), action, memo)
    from_state = State(memo.status)
    _lock(session, memo, from_state)
    # Holding the memo row, look again: the draft we were handed may predate someone's claim.
    draft = memo.draft
    if draft is not None:
        session.refresh(draft)
    _refuse_if(refusal_reason(memo, draft, action, actor, comment), action, memo)
    assert actor is not None and draft is not None  # refusal() checked both
    to_state = ACTIONS[action].moves[from_state]
    if action == "claim":
        draft.assignee = actor
    elif action in ("release", "archive"):
        draft.assignee = None
    if action == "approve":
        # The signature binds the text as it is now, read under the memo's row lock: the text
        # is frozen while awaiting sign-off, so this is the version the author was shown.
        if expected_version is not None and expected_version != draft.version:
            _refuse("signoff_version_changed", action=action, state=from_state.value,
                    version=expected_version, current=draft.version)
        draft.approved_version = draft.version
    memo.status = to_state.value
    detail = comment.strip() if comment and comment.strip() else None
    return _audit(session, memo, actor, action, from_state, to_state, detail)


def hold_for_edit(session: Session, memo: Memo) -> None:
    """Take the memo row before a draft save, so that a save and a sign-off never cross.

    Refused while the text is frozen for sign-off, or while a signed-off text waits to go out.
    """
    state = State(memo.status)
    if state is S.awaiting_approval:
        _refuse("frozen_awaiting_signoff", state=state.value)
    draft = memo.draft
    if state is S.scheduled and draft is not None and draft.approved_version is not None:
        _refuse("signed_text_queued", state=state.value)
    _lock(session, memo, state)


def edited_after_signoff(session: Session, memo: Memo, actor: User, signed: int, saved: int) -> AuditEntry:
    """An edit of a signed-off draft undoes the signature: back to review, the author signs again.

    Called by the save, which holds the memo row (`hold_for_edit`). A memo whose publication
    failed goes back to review too: its retry would otherwise send text nobody signed.
    """
    draft = memo.draft
    assert draft is not None
    draft.approved_version = None
    state = State(memo.status)
    to_state = S.in_review if state in (S.approved, S.failed) else state
    if state is S.failed:
        memo.error = None  # the reason stays in the audit trail
    memo.status = to_state.value
    detail = f"version {signed} was signed off; version {saved} needs signing again"
    return _audit(session, memo, actor, "edited_after_signoff", state, to_state, detail)


def reassign(session: Session, memo: Memo, to_user: User, actor: User | None) -> AuditEntry:
    """An admin hands a draft (and its claim) to another assistant."""
    if actor is None or not actor.is_active or Role(actor.role) is not Role.admin:
        _refuse("reassign_admin_only", action="reassign")
    if Role(to_user.role) not in _STAFF or not to_user.is_active:
        _refuse("reassign_not_staff", action="reassign", person=to_user.name or to_user.email)
    state = State(memo.status)
    if memo.draft is None:
        _refuse("no_draft", action="reassign")
    if state not in REASSIGNABLE:
        _refuse("cannot_reassign", action="reassign", state=state.value)
    _lock(session, memo, state)
    draft = memo.draft
    session.refresh(draft)
    previous = _holder(draft) if draft.assignee_id is not None else "nobody"
    draft.assignee = to_user
    # A draft handed to someone is being worked on.
    to_state = S.in_review if state is S.ready else state
    memo.status = to_state.value
    detail = f"from {previous} to {to_user.name or to_user.email}"
    return _audit(session, memo, actor, "reassign", state, to_state, detail)


def system(
    session: Session,
    memo: Memo,
    to_state: State,
    detail: str | None = None,
    *,
    actor: User | None = None,  # the person who asked for it (schedule, retry), if any
    action: str | None = None,  # the audit name; derived from the target state when None
) -> AuditEntry:
    """A move made by the machine (jobs, publishing, retries), checked against SYSTEM_MOVES."""
    to_state = State(to_state)
    from_state = State(memo.status)
    if to_state not in SYSTEM_MOVES.get(from_state, frozenset()):
        raise TransitionRefused(
            f"A memo that is {_words(from_state)} cannot become {_words(to_state)}.",
            state=from_state.value,
            to=to_state.value,
        )
    if to_state is S.failed and not (detail and detail.strip()):
        raise TransitionRefused("A memo can only be marked failed with the reason why.", to=to_state.value)
    _lock(session, memo, from_state)
    if to_state is S.failed:
        memo.error = detail
    elif from_state is S.failed:
        memo.error = None  # the reason stays in the audit trail, not on the retried memo
    memo.status = to_state.value
    name = action or _SYSTEM_ACTION.get(to_state, to_state.value)
    return _audit(session, memo, actor, name, from_state, to_state, detail)


# --- the writes ------------------------------------------------------------------------


def _refuse_if(why: tuple[str, dict[str, object]] | None, action: str, memo: Memo) -> None:
    if why:
        reason, values = why
        _refuse(reason, **{"action": action, "state": memo.status, **values})


def _refuse(reason: str, **values: object) -> NoReturn:
    # The id and raw values travel in the detail so that a client can say it in its language.
    raise TransitionRefused(messages.say(reason, messages.DEFAULT_LANGUAGE, **values), **values, reason=reason)


refuse = _refuse  # for the services that enforce the workflow's rules outside this module


def _lock(session: Session, memo: Memo, expected: State) -> None:
    """Take the memo row (a write lock on SQLite) if it is still in the state we saw.

    Every workflow change starts here, so two people acting at once are serialised: the
    second finds the state (or the claim) changed and is refused instead of overwriting.
    """
    result = session.execute(
        update(Memo)
        .where(Memo.id == memo.id, Memo.status == expected.value)
        .values(status=expected.value)
        .execution_options(synchronize_session=False)
    )
    if rows_changed(result) != 1:
        session.refresh(memo)
        _refuse("changed_meanwhile", state=memo.status)


def _audit(
    session: Session,
    memo: Memo,
    actor: User | None,
    action: str,
    from_state: State,
    to_state: State,
    detail: str | None,
) -> AuditEntry:
    entry = AuditEntry(
        memo_id=memo.id,
        actor_id=actor.id if actor is not None else None,
        action=action,
        from_state=from_state.value,
        to_state=to_state.value,
        detail=detail,
    )
    session.add(entry)
    session.flush()
    return entry


# --- words -----------------------------------------------------------------------------


def _holder(draft: Draft) -> str:
    user = draft.assignee
    return (user.name or user.email) if user is not None else "Someone else"


def _words(state: State) -> str:
    return messages.STATES[messages.DEFAULT_LANGUAGE][state.value]
