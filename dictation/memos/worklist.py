"""The worklist: the one query behind the API's `GET /worklist` and the desk's /worklist page.

Open means something is left for an assistant to do. Once a post is scheduled or going out,
the assistant's part is done: those memos, with published and archived ones, are DONE and stay
out of the list unless asked for (a publication that fails brings its memo back as `failed`).

The most pressing first: overdue, then urgent › high › normal, then the nearest due date
(memos without one after those with one), then the oldest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import case, func, literal, or_, select
from sqlalchemy.orm import Session, selectinload

from dictation import accounts
from dictation.db import utcnow
from dictation.models import Draft, Job, JobStatus, Memo, Priority, Publication, PublicationStatus, State, User
from dictation.publish.service import live_url

DONE = frozenset({State.scheduled, State.publishing, State.published, State.archived})
PRIORITY_RANK = {Priority.urgent: 0, Priority.high: 1, Priority.normal: 2}
MAX_LIMIT = 1000


class Sort(StrEnum):
    pressing = "pressing"  # overdue › urgent › high › normal, then due date
    due = "due"  # nearest due date first, then priority
    priority = "priority"  # urgent › high › normal, then due date
    newest = "newest"
    oldest = "oldest"
    alphabetical = "title"  # by the draft's title (else the memo's, else the file name)


class Assignee(StrEnum):
    any = "any"
    me = "me"  # drafts the caller has claimed
    unassigned = "unassigned"  # nobody has claimed it (or there is no draft yet)


@dataclass(frozen=True)
class WorklistQuery:
    """What the caller asked to see."""

    states: tuple[State, ...] = ()  # only these states; empty: every open one (every one with include_done)
    include_done: bool = False  # scheduled, publishing, published and archived memos too
    priority: Priority | None = None  # only this priority
    assignee: Assignee = Assignee.any
    words: str = ""  # in the memo's title, note or file name, the draft's title, or the author's name
    sort: Sort = Sort.pressing
    limit: int = 100  # at most MAX_LIMIT rows


@dataclass(frozen=True)
class Entry:
    memo: Memo  # author, draft and the draft's assignee loaded
    overdue: bool  # due and still open
    job: Job | None  # the memo's queued or running job: its progress and stage
    published_url: str | None  # the live post, as on the memo's API record
    scheduled_at: dt.datetime | None  # when a scheduled memo goes out (None: as soon as a worker can)


@dataclass(frozen=True)
class Worklist:
    entries: list[Entry]
    counts: dict[str, int]  # memos per state, over every memo the caller may see (not only those shown)


def is_overdue(memo: Memo, now: dt.datetime) -> bool:
    return memo.due_at is not None and memo.due_at < now and State(memo.status) not in DONE


def same_for_all(user: User, wanted: WorklistQuery) -> bool:
    """Whether `load` gives `user` what it gives every caller who may see every memo (assistants
    and admins) for the same query: everything but an author's own memos and "claimed by me"
    depends only on the memos. A server may then share one computation among them."""
    return accounts.visible_memos_query(user).whereclause is None and wanted.assignee is not Assignee.me


def load(session: Session, user: User, wanted: WorklistQuery, now: dt.datetime | None = None) -> Worklist:
    now = now or utcnow()
    visible = accounts.visible_memos_query(user)
    query = visible
    if wanted.states:
        query = query.where(Memo.status.in_([s.value for s in wanted.states]))
    elif not wanted.include_done:
        query = query.where(Memo.status.not_in([s.value for s in DONE]))
    if wanted.priority is not None:
        query = query.where(Memo.priority == wanted.priority.value)
    query = query.outerjoin(Draft, Draft.memo_id == Memo.id)
    if wanted.assignee is Assignee.me:
        query = query.where(Draft.assignee_id == user.id)
    elif wanted.assignee is Assignee.unassigned:
        query = query.where(Draft.assignee_id.is_(None))
    if wanted.words:
        like = f"%{wanted.words}%"
        query = query.join(User, User.id == Memo.author_id).where(
            or_(Memo.title.ilike(like), Memo.note.ilike(like), Draft.title.ilike(like), User.name.ilike(like),
                Memo.original_filename.ilike(like))
        )
    query = query.order_by(*_order(wanted.sort, now), Memo.id).limit(max(1, min(wanted.limit, MAX_LIMIT)))
    # Two steps: the page's ids, sorted on a few narrow columns (the covering index
    # ix_memos_worklist), then those rows. Sorting whole rows made SQLite read each open memo's
    # waveform and transcript, stored inline before created_at: 300-500 ms a worklist with
    # 10,000 drafts (bench/load.py), 15-25 ms this way.
    ids = list(session.scalars(query.with_only_columns(Memo.id)))
    # A few queries for the whole page, not a few per memo.
    # Of a draft, a list shows its title and who claimed it: its text, paragraphs and tags
    # (four JSON columns, half a worklist's CPU when decoded for each row) stay in the database.
    listed = selectinload(Memo.draft).load_only(Draft.id, Draft.memo_id, Draft.title, Draft.assignee_id)
    rows = session.scalars(select(Memo).where(Memo.id.in_(ids))
                           .options(selectinload(Memo.author), listed.selectinload(Draft.assignee)))
    by_id = {memo.id: memo for memo in rows}
    memos = [by_id[memo_id] for memo_id in ids if memo_id in by_id]

    jobs = _running_jobs(session, [m.id for m in memos])
    publications = _publications(session, [m.draft.id for m in memos if m.draft is not None])
    entries = []
    for memo in memos:
        mine = publications.get(memo.draft.id, []) if memo.draft is not None else []
        entries.append(Entry(
            memo=memo,
            overdue=is_overdue(memo, now),
            job=jobs.get(memo.id),
            published_url=live_url(mine),
            scheduled_at=next(
                (p.publish_at for p in mine if p.status == PublicationStatus.scheduled and p.publish_at), None
            ) if memo.status == State.scheduled else None,
        ))
    counted = visible.with_only_columns(Memo.status, func.count()).group_by(Memo.status)
    found = dict(session.execute(counted).all())
    return Worklist(entries=entries, counts={s.value: found.get(s.value, 0) for s in State})


def stamp(session: Session, user: User, now: dt.datetime | None = None) -> str:
    """A short fingerprint of everything a worklist of `user` can show, whatever its filters:
    it changes when a memo arrives, moves, is edited, claimed or deleted, when a job makes
    progress, when a publication moves and when a memo becomes overdue. Aggregates only (a
    few index scans, no rows loaded): doors poll it and send the list again only when it
    changed (ETag / If-None-Match)."""
    now = now or utcnow()
    visible = accounts.visible_memos_query(user).subquery()
    ids = select(visible.c.id)
    memos = session.execute(select(
        func.count(), func.max(visible.c.updated_at),
        func.count().filter(visible.c.due_at < now, visible.c.status.not_in([s.value for s in DONE])),
    )).one()
    drafts = session.execute(
        select(func.count(), func.max(Draft.updated_at)).where(Draft.memo_id.in_(ids))
    ).one()
    jobs = session.execute(
        select(func.count(), func.sum(Job.progress), func.max(Job.id))
        .where(Job.memo_id.in_(ids), Job.status.in_([JobStatus.queued, JobStatus.running]))
    ).one()
    publications = session.execute(
        select(func.count(), func.max(Publication.updated_at))
        .join(Draft, Draft.id == Publication.draft_id).where(Draft.memo_id.in_(ids))
    ).one()
    seen = repr((user.id, tuple(memos), tuple(drafts), tuple(jobs), tuple(publications)))
    return hashlib.sha256(seen.encode()).hexdigest()[:20]


def _order(sort: Sort, now: dt.datetime) -> list[Any]:
    overdue = case(
        (Memo.due_at.is_not(None) & (Memo.due_at < now) & Memo.status.not_in([s.value for s in DONE]), 0), else_=1
    )
    rank = case({p.value: n for p, n in PRIORITY_RANK.items()}, value=Memo.priority, else_=len(PRIORITY_RANK))
    due = [Memo.due_at.is_(None), Memo.due_at]  # memos with a due date first, nearest first
    title = func.lower(func.coalesce(func.nullif(Draft.title, ""), Memo.title, Memo.original_filename, literal("")))
    orders: dict[Sort, list[Any]] = {
        Sort.pressing: [overdue, rank, *due, Memo.created_at],
        Sort.due: [*due, rank, Memo.created_at],
        Sort.priority: [rank, *due, Memo.created_at],
        Sort.newest: [Memo.created_at.desc()],
        Sort.oldest: [Memo.created_at],
        Sort.alphabetical: [title],
    }
    return orders[sort]


def _running_jobs(session: Session, memo_ids: list[int]) -> dict[int, Job]:
    if not memo_ids:
        return {}
    found = session.scalars(
        select(Job).where(Job.memo_id.in_(memo_ids), Job.status.in_([JobStatus.queued, JobStatus.running]))
    )
    return {job.memo_id: job for job in found if job.memo_id is not None}


def _publications(session: Session, draft_ids: list[int]) -> dict[int, list[Publication]]:
    """Every shown draft's publications in one query, oldest first."""
    found: dict[int, list[Publication]] = {}
    if draft_ids:
        rows = session.scalars(select(Publication).where(Publication.draft_id.in_(draft_ids)).order_by(Publication.id))
        for row in rows:
            found.setdefault(row.draft_id, []).append(row)
    return found
