"""Issue 12, part 1: the desk learns from corrections. Alignment on a real transcript, proposals
from published drafts (through the real publish job), decisions and who may make them, and
compose writing an accepted term where the model still hears the old form, marked and revertible.
The real-model check (a memo heard right after acceptance) is in tests/test_learning_model.py."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from dictation import jobs
from dictation.compose import spoken_words
from dictation.learning import service as learning
from dictation.learning.align import heard_words, substitutions
from dictation.learning.tables import Correction
from dictation.memos import processing
from dictation.models import Draft, Job, Memo, User
from dictation.publish import service as publishing
from dictation.storage import MediaStore
from dictation.transcribe.result import Segment, Transcript, Word
from tests.conftest import shared_file
from tests.support.api import make_person, sine_wav
from tests.support.dbfixtures import make_draft, make_memo
from tests.support.desk import ALICE, ERIN, desk_app, signed_in

API = "/api/v1"


def spoken(text: str, start: float = 0.0) -> Transcript:
    """A transcript of `text`, one word every 0.4 s, as Whisper writes words (leading spaces)."""
    words = [Word(start + 0.4 * k, start + 0.4 * k + 0.3, " " + w, 0.9) for k, w in enumerate(text.split())]
    return Transcript("en", start + 0.4 * len(words) + 1, [Segment(0, start, words[-1].end, text, -0.2, 0.01, words)])


# --- alignment ---------------------------------------------------------------------------


def test_align_real_transcript_finds_only_the_corrected_word(tmp_path):
    from dictation.transcribe import TranscribeOptions, transcribe

    audio = shared_file("audio/real/jfk.flac")
    options = TranscribeOptions(model="tiny.en", language="en", beam_size=1, model_cache_dir=tmp_path)
    transcript = transcribe(audio, options)
    reference = shared_file("audio/real/jfk.txt").read_text().strip()
    heard = heard_words(spoken_words(transcript))
    # The model's own text, punctuated and cased by a person, is no correction at all.
    assert substitutions(heard, reference) == []
    # The second "country" rewritten as a name, in Markdown: one correction, timed on that word.
    published = reference.replace("for your country", "for your **Kowalczyk**")
    found = substitutions(heard, "> " + published)
    assert [(s.heard.lower(), s.written, s.is_name) for s in found] == [("country", "Kowalczyk", True)]
    spoken_at = [w for w in transcript.words if w.word.strip(" .,").lower() == "country"][-1]
    assert (found[0].start, found[0].end) == (spoken_at.start, spoken_at.end)
    assert "your Kowalczyk" in found[0].context


def test_align_ignores_commands_fillers_rewrites_and_numbers():
    transcript = spoken("um we moved the blood comma and twenty posts to the cow al check server new paragraph "
                        "then we wrote a very long sentence that the assistant rewrote entirely")
    published = ("We moved the blog, and 20 posts to the Kowalczyk server.\n\n"
                 "Then an altogether different paragraph came from the assistant's own pen")
    found = substitutions(heard_words(spoken_words(transcript)), published)
    assert [(s.heard, s.written) for s in found] == [("blood", "blog"), ("cow al check", "Kowalczyk")]
    assert found[0].is_name is False and found[1].is_name is True


# --- proposals and decisions, through publication ------------------------------------------


def _publish(client, api_app, author: User, assistant, transcript: Transcript, published: str) -> int:
    """A memo with this transcript whose draft, edited to `published`, goes out on the blog."""
    stored = MediaStore(api_app.state.settings.media_dir).save_stream(sine_wav(0.3, freq=300 + len(published)))
    with api_app.state.database.session() as session:
        memo = make_memo(session, session.get_one(User, author.id), status="in_review", language="en",
                         transcript=transcript.to_dict(), playback_sha256=stored.sha256, media_sha256=stored.sha256)
        draft_id, memo_id = make_draft(session, memo, title=f"Post {memo.id}", body_markdown=published).id, memo.id
    queued = client.post(f"{API}/drafts/{draft_id}/publish", json={}, headers=assistant.auth)
    assert queued.status_code == 202, queued.text
    with api_app.state.database.session() as session:
        job_id = session.scalar(select(Job.id).where(Job.kind == publishing.PUBLISH, Job.memo_id == memo_id))
    assert jobs.run_job(job_id, api_app.state.settings, jobs.make_queue(api_app.state.settings)) == "done"
    return memo_id


def test_publish_two_drafts_proposes_term_then_staff_decide(client, api_app):
    assistant, admin = make_person(api_app, "assistant"), make_person(api_app, "admin")
    author = make_person(api_app, "author")
    with api_app.state.database.session() as session:
        who = session.get_one(User, author.id)
    first = _publish(client, api_app, who, assistant, spoken("the blood is live and the plan is good"),
                     "The blog is live and the plan is great.")
    _publish(client, api_app, who, assistant, spoken("our blood got a new look", 5.0),
             "Our blog got a new look, says Jeri.")
    listed = client.get(f"{API}/vocabulary/proposals", headers=assistant.auth)
    assert listed.status_code == 200, listed.text
    by_term = {(p["heard"], p["written"]): p for p in listed.json()}
    # Twice "blood" → "blog": proposed; "good" → "great" once and not a name: not yet.
    assert set(by_term) == {("blood", "blog")}
    blog = by_term[("blood", "blog")]
    assert blog["memos"] == 2 and blog["language"] == "en"
    example = next(e for e in blog["examples"] if e["memo_id"] == first)
    assert (example["start"], example["end"]) == (0.4, 0.7) and "blog is live" in example["context"]

    # Authors may neither see nor decide; assistants and admins may.
    assert client.get(f"{API}/vocabulary/proposals", headers=author.auth).status_code == 403
    decision = {"heard": "blood", "written": "blog", "language": "en", "accept": True}
    refused = client.post(f"{API}/vocabulary", json=decision, headers=author.auth)
    assert refused.status_code == 403 and refused.json()["message"]
    accepted = client.post(f"{API}/vocabulary", json={**decision, "scope": "author"}, headers=assistant.auth)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["status"] == "accepted" and accepted.json()["author_id"] == author.id
    assert client.get(f"{API}/vocabulary/proposals", headers=admin.auth).json() == []
    unknown = client.post(f"{API}/vocabulary", json={**decision, "written": "bog"}, headers=admin.auth)
    assert unknown.status_code == 404 and "bog" in unknown.json()["message"]
    rejected = client.post(f"{API}/vocabulary", json={**decision, "accept": False}, headers=admin.auth)
    assert rejected.status_code == 201 and rejected.json()["status"] == "rejected"
    decided = client.get(f"{API}/vocabulary", headers=admin.auth).json()
    assert [(d["written"], d["status"], d["memos"]) for d in decided] == [("blog", "rejected", 2)]
    withdrawn = client.delete(f"{API}/vocabulary/{decided[0]['entry_id']}", headers=assistant.auth)
    assert withdrawn.status_code == 204
    assert [p["written"] for p in client.get(f"{API}/vocabulary/proposals", headers=admin.auth).json()] == ["blog"]


def _write_newest_memo(app) -> str:
    """Touch the newest memo's row from a connection of its own, waiting 0.2 s at most for a
    lock: "written", or why not."""
    engine = app.state.database.engine
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA busy_timeout=200" if sqlite else "SET LOCAL lock_timeout = '200ms'")
        try:
            connection.execute(text("UPDATE memos SET priority = priority WHERE id = (SELECT max(id) FROM memos)"))
            connection.commit()
            return "written"
        except DBAPIError as exc:
            connection.rollback()
            return f"waited: {exc.orig}"
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA busy_timeout=30000")


def test_publish_aligns_outside_finishing_transaction(client, api_app, monkeypatch):
    """Aligning a long memo costs seconds of CPU (21 s at 10,000 words). While it runs, the
    memo's row (and on SQLite the whole database) must stay writable: a probe writes it from
    another connection in the middle of the alignment, and the corrections are still stored."""
    probes: list[str] = []
    real = learning.substitutions

    def probing(heard, published):
        probes.append(_write_newest_memo(api_app))
        return real(heard, published)

    monkeypatch.setattr(learning, "substitutions", probing)
    assistant, author = make_person(api_app, "assistant"), make_person(api_app, "author")
    with api_app.state.database.session() as session:
        who = session.get_one(User, author.id)
    memo_id = _publish(client, api_app, who, assistant, spoken("the blood is live and the plan is good"),
                       "The blog is live and the plan is good.")
    assert probes == ["written"]
    with api_app.state.database.session() as session:
        rows = session.scalars(select(Correction).where(Correction.memo_id == memo_id))
        learned = [(row.heard, row.written) for row in rows]
    assert learned == [("blood", "blog")]


def test_publish_fault_in_alignment_still_published(client, api_app, monkeypatch):
    """The post is out when the corrections are looked for: a fault there is logged, learns
    nothing, and leaves the memo published (the job reports done)."""
    def broken(heard, published):
        raise RuntimeError("alignment fault")

    monkeypatch.setattr(learning, "substitutions", broken)
    assistant, author = make_person(api_app, "assistant"), make_person(api_app, "author")
    with api_app.state.database.session() as session:
        who = session.get_one(User, author.id)
    memo_id = _publish(client, api_app, who, assistant, spoken("the blood is live"), "The blog is live.")
    with api_app.state.database.session() as session:
        assert session.get_one(Memo, memo_id).status == "published"
        assert session.scalars(select(Correction).where(Correction.memo_id == memo_id)).all() == []


def test_open_vocabulary_page_staff_only(data_dir):
    app = desk_app(data_dir, people=(ERIN, ALICE, ("ada@example.com", "admin", "Ada")))
    for email, status in ((ERIN[0], 403), (ALICE[0], 200), ("ada@example.com", 200)):
        client, _ = signed_in(app, email)
        page = client.get("/vocabulary")
        assert page.status_code == status, email
        home = client.get("/account")
        assert ('href="/vocabulary"' in home.text) is (status == 200)
    app.state.database.dispose()


# --- compose writes accepted terms, marked and revertible ------------------------------------


def test_compose_learned_word_marked_then_reverted(client, api_app):
    from dictation.learning.tables import VocabularyEntry

    assistant, author = make_person(api_app, "assistant"), make_person(api_app, "author")
    settings = api_app.state.settings
    stored = MediaStore(settings.media_dir).save_stream(sine_wav(4.0, freq=523))
    queue = jobs.make_queue(settings)
    with api_app.state.database.session() as session:
        session.add(VocabularyEntry(heard_key="blood", written="blog", language="en", author_id=None,
                                    status="accepted"))
        # A transcript already there (as after a retry): the job composes it with the vocabulary.
        memo = make_memo(session, session.get_one(User, author.id), status="received", language="en",
                         media_sha256=stored.sha256, transcript=spoken("the blood is live and our bloods "
                                                                       "and the blood reads well").to_dict())
        job_id, memo_id = processing.enqueue_processing(session, memo, queue).id, memo.id
    assert jobs.run_job(job_id, settings, queue) == "done"
    with api_app.state.database.session() as session:
        draft_id = session.scalars(select(Draft.id).where(Draft.memo_id == memo_id)).one()
    draft = client.get(f"{API}/drafts/{draft_id}", headers=assistant.auth).json()
    # Whole words only: "bloods" is another word and stays.
    assert draft["body_markdown"] == "The blog is live and our bloods and the blog reads well."
    learned = client.get(f"{API}/drafts/{draft_id}/learned", headers=assistant.auth).json()
    assert [(w["heard"], w["written"], w["start"], w["reverted"]) for w in learned] == [
        ("blood", "blog", 0.4, False), ("blood", "blog", 3.6, False)]

    url = f"{API}/drafts/{draft_id}/learned/{learned[1]['id']}/revert"
    assert client.post(url, headers={**author.auth, "If-Match": '"1"'}).status_code == 403
    assert client.post(url, headers=assistant.auth).status_code == 428
    second = client.post(url, headers={**assistant.auth, "If-Match": '"1"'})
    assert second.status_code == 200, second.text
    assert second.json()["body_markdown"] == "The blog is live and our bloods and the blood reads well."
    again = client.post(url, headers={**assistant.auth, "If-Match": f'"{second.json()["version"]}"'})
    assert again.status_code == 409 and "already" in again.json()["message"]
    first_url = f"{API}/drafts/{draft_id}/learned/{learned[0]['id']}/revert"
    stale = client.post(first_url, headers={**assistant.auth, "If-Match": '"1"'})
    assert stale.status_code == 412
    first = client.post(first_url, headers={**assistant.auth, "If-Match": f'"{second.json()["version"]}"'})
    assert first.status_code == 200, first.text
    assert first.json()["body_markdown"] == "The blood is live and our bloods and the blood reads well."
    marks = client.get(f"{API}/drafts/{draft_id}/learned", headers=assistant.auth).json()
    assert [w["reverted"] for w in marks] == [True, True]


# --- what the next memo is transcribed with --------------------------------------------------


def test_order_terms_by_frequency_within_budget_for_author(db, tmp_path):
    from dictation.learning import service as learning
    from dictation.learning.tables import Correction, VocabularyEntry
    from dictation.transcribe import TranscribeOptions
    from dictation.transcribe.options import PROMPT_BUDGET_TOKENS, estimated_tokens
    from tests.support.dbfixtures import make_user

    with db.session() as session:
        author, other = make_user(session, "author"), make_user(session, "author")
        memos = [make_memo(session, author, status="published") for _ in range(3)]
        drafts = [make_draft(session, memo) for memo in memos]
        for written, how_many in (("Quorvex", 1), ("Okonkwo", 3), ("Zentrix is", 2)):
            for memo, draft in zip(memos[:how_many], drafts, strict=False):
                session.add(Correction(draft_id=draft.id, memo_id=memo.id, author_id=author.id, language="en",
                                       heard="x", heard_key=written.lower() + "x", written=written, is_name=True,
                                       context="", start=0, end=1))
            session.add(VocabularyEntry(heard_key=written.lower() + "x", written=written, language="en",
                                        status="accepted"))
        session.add(VocabularyEntry(heard_key="vexx", written="Vexaro", language="en", author_id=other.id,
                                    status="accepted"))
        session.add(VocabularyEntry(heard_key="lumx", written="Lumetra", language="fr", status="accepted"))
        terms = learning.terms_for(session, author.id, "en")
    # Most memos first; a written form's names only; another author's and French terms left out.
    assert terms.vocabulary == ("Okonkwo", "Zentrix", "Quorvex")
    assert set(terms.substitutions) == {("okonkwox", "Okonkwo"), ("zentrix isx", "Zentrix is"), ("quorvexx", "Quorvex")}

    options = TranscribeOptions(glossary=("Acme",), vocabulary=terms.vocabulary, model_cache_dir=tmp_path)
    assert options.hotwords == "Okonkwo, Zentrix, Quorvex"
    assert options.prompt_beside_hotwords == "Acme."  # faster-whisper: the learned terms go as hotwords
    assert options.prompt == "Acme, Okonkwo, Zentrix, Quorvex."  # openai-whisper: all in the prompt
    crowded = TranscribeOptions(glossary=("Acme",), vocabulary=tuple(f"Term{k:03d}" for k in range(300)),
                                model_cache_dir=tmp_path)
    kept = crowded.terms
    assert kept[:3] == ["Acme", "Term000", "Term001"] and len(kept) < 300
    assert sum(estimated_tokens(term) for term in kept) <= PROMPT_BUDGET_TOKENS
