"""The assistants' worklist: every memo in lanes (machine, unassigned, claimed, done), with
counts per state, filters and sorting. Read straight from the tables, as one page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from dictation.db import utcnow
from dictation.models import (
    Draft,
    Job,
    JobStatus,
    Memo,
    Priority,
    Publication,
    State,
    User,
)

# Lanes in the order a desk works through them.
MACHINE = (State.received, State.transcribing, State.failed)
DONE = (State.scheduled, State.publishing, State.published, State.archived)
RUNNING = (State.received, State.transcribing, State.publishing)
PRIORITY_RANK = {Priority.urgent: 0, Priority.high: 1, Priority.normal: 2}
SORTS = ("due", "priority", "newest", "oldest", "title")
ASSIGNEE_FILTERS = ("any", "me", "unassigned")


@dataclass(frozen=True)
class WorklistFilter:
    state: str = ""  # one State value, or "" for every open state
    priority: str = ""  # one Priority value, or ""
    assignee: str = "any"  # any, me, unassigned
    q: str = ""  # words in the title, note, draft title or author name
    sort: str = "due"  # one of SORTS: due dates first is what a desk is judged by
    show_done: bool = False  # published and archived memos stay out of the way unless asked

    @classmethod
    def from_query(cls, params) -> "WorklistFilter":
        state = params.get("state", "")
        priority = params.get("priority", "")
        assignee = params.get("assignee", "any")
        sort = params.get("sort", "due")
        return cls(
            state=state if state in State.__members__ else "",
            priority=priority if priority in Priority.__members__ else "",
            assignee=assignee if assignee in ASSIGNEE_FILTERS else "any",
            q=params.get("q", "").strip()[:100],
            sort=sort if sort in SORTS else "due",
            show_done=params.get("done") in ("1", "on", "true"),
        )


@dataclass
class Row:
    memo: Memo
    draft: Draft | None
    author: str
    assignee: str | None
    assignee_is_me: bool
    title: str
    overdue: bool
    progress: float | None  # 0..1 while a job runs, else None
    stage: str | None  # what the running job does now (prepare, transcribe, compose)
    error: str | None  # why the last job failed
    published_url: str | None = None  # the live post, as on the memo's API record
    scheduled_at: dt.datetime | None = None  # when a scheduled memo goes out (None: as soon as a worker can)


@dataclass
class Lane:
    key: str  # machine, unassigned, claimed, done
    rows: list[Row] = field(default_factory=list)


@dataclass
class Worklist:
    lanes: list[Lane]
    counts: dict[str, int]  # per state, over every memo (not only the filtered ones)
    total: int
    running: bool  # a job is under way somewhere: the page refreshes more often


def _title(memo: Memo, draft: Draft | None) -> str:
    return (draft.title if draft and draft.title else None) or memo.title or memo.original_filename or f"#{memo.id}"


def _order(rows: list[Row], sort: str) -> list[Row]:
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    keys = {
        "due": lambda r: (r.memo.due_at or far, PRIORITY_RANK.get(r.memo.priority, 9), r.memo.created_at),
        "priority": lambda r: (PRIORITY_RANK.get(r.memo.priority, 9), r.memo.due_at or far, r.memo.created_at),
        "newest": lambda r: -r.memo.created_at.timestamp(),
        "oldest": lambda r: r.memo.created_at,
        "title": lambda r: r.title.casefold(),
    }
    return sorted(rows, key=keys[sort])


def _lane_of(row: Row) -> str:
    state = State(row.memo.status)
    if state in MACHINE:
        return "machine"
    if state in DONE:
        return "done"
    return "claimed" if row.draft is not None and row.draft.assignee_id else "unassigned"


def _running_jobs(session: Session, memo_ids: list[int]) -> dict[int, Job]:
    if not memo_ids:
        return {}
    jobs = session.scalars(
        select(Job).where(Job.memo_id.in_(memo_ids), Job.status.in_([JobStatus.queued, JobStatus.running]))
    )
    return {job.memo_id: job for job in jobs}


def _publications(session: Session, drafts: list[Draft]) -> dict[int, list[Publication]]:
    """Every shown draft's publications in one query, oldest first."""
    ids = [d.id for d in drafts]
    found: dict[int, list[Publication]] = {}
    if ids:
        for row in session.scalars(select(Publication).where(Publication.draft_id.in_(ids)).order_by(Publication.id)):
            found.setdefault(row.draft_id, []).append(row)
    return found


def load(session: Session, user: User, wanted: WorklistFilter, now: dt.datetime | None = None) -> Worklist:
    now = now or utcnow()
    query = select(Memo).options(joinedload(Memo.author), joinedload(Memo.draft).joinedload(Draft.assignee))
    if wanted.state:
        query = query.where(Memo.status == wanted.state)
    elif not wanted.show_done:
        query = query.where(Memo.status.not_in([s.value for s in DONE]))
    if wanted.priority:
        query = query.where(Memo.priority == wanted.priority)
    if wanted.q:
        like = f"%{wanted.q}%"
        query = query.outerjoin(Draft, Draft.memo_id == Memo.id).join(User, User.id == Memo.author_id).where(
            or_(Memo.title.ilike(like), Memo.note.ilike(like), Draft.title.ilike(like), User.name.ilike(like),
                Memo.original_filename.ilike(like))
        )
    memos = list(session.scalars(query.limit(1000)).unique())
    jobs = _running_jobs(session, [m.id for m in memos])
    publications = _publications(session, [m.draft for m in memos if m.draft is not None])

    rows = []
    for memo in memos:
        draft = memo.draft
        assignee = draft.assignee if draft else None
        if wanted.assignee == "me" and (assignee is None or assignee.id != user.id):
            continue
        if wanted.assignee == "unassigned" and assignee is not None:
            continue
        job = jobs.get(memo.id)
        state = State(memo.status)
        mine = publications.get(draft.id, []) if draft else []
        rows.append(
            Row(
                memo=memo,
                draft=draft,
                author=memo.author.name or memo.author.email,
                assignee=(assignee.name or assignee.email) if assignee else None,
                assignee_is_me=assignee is not None and assignee.id == user.id,
                title=_title(memo, draft),
                overdue=bool(memo.due_at and memo.due_at < now and state not in DONE),
                progress=(job.progress if job.progress else memo.progress or 0.0) if job else None,
                stage=job.stage if job else None,
                error=memo.error if state is State.failed else None,
                published_url=next((p.remote_url for p in mine if p.status == "published" and p.remote_url), None),
                scheduled_at=next((p.publish_at for p in mine if p.status == "scheduled" and p.publish_at), None)
                if state is State.scheduled else None,
            )
        )

    lanes = {key: Lane(key) for key in ("unassigned", "claimed", "machine", "done")}
    for row in _order(rows, wanted.sort):
        lanes[_lane_of(row)].rows.append(row)
    counts = dict(session.execute(select(Memo.status, func.count()).group_by(Memo.status)).all())
    return Worklist(
        lanes=[lane for lane in lanes.values() if lane.rows or lane.key in ("unassigned", "claimed")],
        counts={s.value: counts.get(s.value, 0) for s in State},
        total=len(rows),
        running=any(State(r.memo.status) in RUNNING for r in rows),
    )
