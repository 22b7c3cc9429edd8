"""The assistants' worklist page: the memos of `dictation.memos.worklist` (the API's own query)
in lanes (to do, machine, done), with counts per state, filters and sorting.

The open drafts are one lane in the query's order, claimed or not (the assignee is a column):
lanes per assignee put a High memo due next year above an Urgent one someone had claimed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from dictation.memos import worklist as work
from dictation.models import Draft, Memo, Priority, State, User

# Lanes in the order a desk works through them.
MACHINE = (State.received, State.transcribing, State.failed)
RUNNING = (State.received, State.transcribing, State.publishing)
SORTS = tuple(s.value for s in work.Sort)
ASSIGNEE_FILTERS = tuple(a.value for a in work.Assignee)
PAGE_ROWS = work.MAX_LIMIT


@dataclass(frozen=True)
class WorklistFilter:
    state: str = ""  # one State value, or "" for every open state
    priority: str = ""  # one Priority value, or ""
    assignee: str = "any"  # any, me, unassigned
    q: str = ""  # words in the title, note, draft title or author name
    sort: str = work.Sort.pressing.value  # overdue, then urgent > high > normal, then due date
    show_done: bool = False  # scheduled, published and archived memos stay out of the way unless asked

    @classmethod
    def from_query(cls, params) -> WorklistFilter:
        state = params.get("state", "")
        priority = params.get("priority", "")
        assignee = params.get("assignee", "any")
        sort = params.get("sort", work.Sort.pressing.value)
        return cls(
            state=state if state in State.__members__ else "",
            priority=priority if priority in Priority.__members__ else "",
            assignee=assignee if assignee in ASSIGNEE_FILTERS else "any",
            q=params.get("q", "").strip()[:100],
            sort=sort if sort in SORTS else work.Sort.pressing.value,
            show_done=params.get("done") in ("1", "on", "true"),
        )

    def query(self) -> work.WorklistQuery:
        return work.WorklistQuery(
            states=(State(self.state),) if self.state else (), include_done=self.show_done,
            priority=Priority(self.priority) if self.priority else None, assignee=work.Assignee(self.assignee),
            words=self.q, sort=work.Sort(self.sort), limit=PAGE_ROWS,
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
    key: str  # todo, machine, done
    rows: list[Row] = field(default_factory=list)


@dataclass
class Worklist:
    lanes: list[Lane]
    counts: dict[str, int]  # per state, over every memo (not only the filtered ones)
    total: int
    running: bool  # a job is under way somewhere: the page refreshes more often


def _title(memo: Memo, draft: Draft | None) -> str:
    return (draft.title if draft and draft.title else None) or memo.title or memo.original_filename or f"#{memo.id}"


def _lane_of(row: Row) -> str:
    state = State(row.memo.status)
    if state in MACHINE:
        return "machine"
    if state in work.DONE:
        return "done"
    return "todo"


def load(session: Session, user: User, wanted: WorklistFilter, now: dt.datetime | None = None) -> Worklist:
    found = work.load(session, user, wanted.query(), now)
    lanes = {key: Lane(key) for key in ("todo", "machine", "done")}
    for entry in found.entries:
        row = _row(entry, user)
        lanes[_lane_of(row)].rows.append(row)
    rows = [row for lane in lanes.values() for row in lane.rows]
    return Worklist(
        lanes=[lane for lane in lanes.values() if lane.rows or lane.key == "todo"],
        counts=found.counts,
        total=len(rows),
        running=any(State(r.memo.status) in RUNNING for r in rows),
    )


def _row(entry: work.Entry, user: User) -> Row:
    memo, job = entry.memo, entry.job
    draft = memo.draft
    assignee = draft.assignee if draft else None
    return Row(
        memo=memo,
        draft=draft,
        author=memo.author.name or memo.author.email,
        assignee=(assignee.name or assignee.email) if assignee else None,
        assignee_is_me=assignee is not None and assignee.id == user.id,
        title=_title(memo, draft),
        overdue=entry.overdue,
        progress=(job.progress if job.progress else memo.progress or 0.0) if job else None,
        stage=job.stage if job else None,
        error=memo.error if memo.status == State.failed else None,
        published_url=entry.published_url,
        scheduled_at=entry.scheduled_at,
    )
