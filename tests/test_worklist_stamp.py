"""The worklist's stamp (dictation.memos.worklist.stamp), the ETag the live desk polls: it
moves with everything the list shows and stays put otherwise, on a real database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete

from dictation.memos import worklist as work
from dictation.models import Job, JobStatus, Memo
from tests.support.dbfixtures import make_draft, make_memo, make_user

NOW = dt.datetime(2030, 6, 1, 12, tzinfo=dt.UTC)


def test_move_stamp_with_each_change_the_list_shows(any_db):
    with any_db.session() as session:
        author, other = make_user(session, "author"), make_user(session, "author")
        helper = make_user(session, "assistant")
        memo = make_memo(session, author, due_at=NOW + dt.timedelta(hours=1))
        draft = make_draft(session, memo)
        seen = [work.stamp(session, helper, NOW)]
        assert work.stamp(session, helper, NOW) == seen[-1], "nothing changed"

        def moved(who=helper, now=NOW) -> bool:
            session.flush()
            now_stamp = work.stamp(session, who, now)
            changed = now_stamp != seen[-1]
            seen.append(now_stamp)
            return changed

        make_memo(session, author, title="new one")
        assert moved(), "a new memo"
        memo.status = "in_review"
        assert moved(), "a state change"
        draft.assignee_id = helper.id
        assert moved(), "a claim"
        job = Job(kind="process", memo_id=memo.id, status=JobStatus.running.value, progress=0.2)
        session.add(job)
        assert moved(), "a job started"
        job.progress = 0.6
        assert moved(), "a job's progress"
        assert moved(now=NOW + dt.timedelta(hours=2)), "the memo became overdue"
        session.execute(delete(Memo).where(Memo.title == "new one"))
        assert moved(now=NOW + dt.timedelta(hours=2)), "a memo deleted"

        mine = work.stamp(session, author, NOW)
        make_memo(session, other, title="someone else's")
        session.flush()
        assert work.stamp(session, author, NOW) == mine, "an author's list does not show others' memos"
