"""A re-sent recording (same bytes, same author) is answered as a duplicate by both doors, and
what was typed with it is kept on the earlier memo: nothing typed is dropped."""

from __future__ import annotations

import base64
import hashlib

import pytest
from sqlalchemy import select

from dictation.models import Comment, Draft, Job, Memo
from tests.conftest import shared_file
from tests.support.dbfixtures import make_draft
from tests.support.desk import ERIN, FRED, desk_app, signed_in


@pytest.fixture
def app(data_dir):
    app = desk_app(data_dir, (ERIN, FRED))
    yield app
    app.state.database.dispose()


@pytest.fixture(scope="module")
def recording() -> bytes:
    return shared_file("audio/real/jfk.flac").read_bytes()


def send(client, csrf, data: bytes, key: str | None = None, **fields: str):
    headers = {"X-CSRF-Token": csrf} | ({"Idempotency-Key": key} if key else {})
    return client.post("/api/v1/memos", files={"file": ("memo.flac", data, "audio/flac")}, data=fields,
                       headers=headers)


def memo_row(app, memo_id: int) -> tuple[Memo, list[str]]:
    with app.state.database.session() as session:
        memo = session.get(Memo, memo_id)
        session.expunge(memo)
        bodies = list(session.scalars(select(Comment.body).join(Draft, Draft.id == Comment.draft_id)
                                      .where(Draft.memo_id == memo_id).order_by(Comment.id)))
        return memo, bodies


def ready_memo(app, client, csrf, recording: bytes) -> int:
    """A memo of erin's, sent through the API, then ready with a draft as if transcribed: one
    that takes additions."""
    memo_id = send(client, csrf, recording).json()["id"]
    with app.state.database.session() as session:
        memo = session.get(Memo, memo_id)
        make_draft(session, memo)
        memo.status = "ready"
        for job in session.scalars(select(Job).where(Job.memo_id == memo_id)):
            job.status = "done"
    return memo_id


def test_resend_recording_answers_duplicate_and_keeps_note_and_title(app, recording):
    client, csrf = signed_in(app, "erin@example.com")
    first = send(client, csrf, recording, note="Publish on Monday")
    assert first.status_code == 201 and first.json()["duplicate"] is False
    again = send(client, csrf, recording, title="Ask not", note="Add the photo too")
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["duplicate"] is True and body["id"] == first.json()["id"]
    assert sorted(body["kept"]) == ["note", "title"] and "idempotent-replayed" not in again.headers
    memo, _ = memo_row(app, body["id"])
    assert memo.title == "Ask not"
    assert "Publish on Monday" in memo.note and "Add the photo too" in memo.note  # no draft yet: on the note


def test_resend_recording_note_becomes_comment_once(app, recording):
    client, csrf = signed_in(app, "erin@example.com")
    memo_id = send(client, csrf, recording, title="Ask not").json()["id"]
    with app.state.database.session() as session:
        make_draft(session, session.get(Memo, memo_id))
    for _ in range(2):  # the phone retrying without its key: one comment, not two
        answer = send(client, csrf, recording, title="Another title", note="Use the long version")
        assert answer.status_code == 200 and answer.json()["duplicate"] is True
    memo, comments = memo_row(app, memo_id)
    assert memo.title == "Ask not"  # a titled memo keeps its title; the new one is in the comment
    assert comments == ["Title: Another title\n\nUse the long version"]


def test_resend_recording_note_inside_earlier_note_is_kept(app, recording):
    """A word of the earlier note is not the same note: "Monday" alone is new text."""
    client, csrf = signed_in(app, "erin@example.com")
    memo_id = send(client, csrf, recording, note="Please don't publish before the board meeting on Monday").json()["id"]
    again = send(client, csrf, recording, note="Monday")
    assert again.json()["kept"] == ["note"]
    memo, _ = memo_row(app, memo_id)
    assert memo.note == "Please don't publish before the board meeting on Monday\n\nMonday"
    with app.state.database.session() as session:
        make_draft(session, session.get(Memo, memo_id))
    assert send(client, csrf, recording, note="publish").json()["kept"] == ["note"]
    assert memo_row(app, memo_id)[1] == ["publish"]
    assert send(client, csrf, recording, note="Monday").json()["kept"] == []  # a whole paragraph of the note


def test_resend_title_on_untitled_memo_with_draft_goes_to_comment(app, recording):
    """Once there is a draft, the worklist and the editor show the draft's title: the new title
    goes where the assistant reads it, not onto the memo's hidden title."""
    client, csrf = signed_in(app, "erin@example.com")
    memo_id = send(client, csrf, recording).json()["id"]
    with app.state.database.session() as session:
        make_draft(session, session.get(Memo, memo_id), title="And so my fellow Americans")
    again = send(client, csrf, recording, title="Board update: Q3 numbers")
    assert again.json()["kept"] == ["note"]
    memo, comments = memo_row(app, memo_id)
    assert memo.title is None and comments == ["Title: Board update: Q3 numbers"]
    assert send(client, csrf, recording, title="And so my fellow Americans").json()["kept"] == []  # the shown one


def test_resend_addition_answers_duplicate_and_keeps_note(app, recording):
    """The same follow-up recording sent again (no key, or another one) is not added twice; a
    new note sent with it becomes a comment, an identical one is kept once."""
    client, csrf = signed_in(app, "erin@example.com")
    memo_id = ready_memo(app, client, csrf, recording)
    follow_up = shared_file("audio/real/pv_test.wav").read_bytes()

    def add(note: str, key: str | None = None):
        headers = {"X-CSRF-Token": csrf} | ({"Idempotency-Key": key} if key else {})
        return client.post(f"/api/v1/memos/{memo_id}/additions", files={"file": ("more.wav", follow_up)},
                           data={"note": note}, headers=headers)

    first = add("First note", key="a-1")
    assert first.status_code == 202 and first.json()["duplicate"] is False
    replay = add("First note", key="a-1")  # the same request again: nothing new
    assert replay.status_code == 200 and replay.json()["duplicate"] is False
    for _ in range(2):
        again = add("Second thoughts: use the long version")
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"] and again.json()["duplicate"] is True
    assert memo_row(app, memo_id)[1] == ["First note", "Second thoughts: use the long version"]
    assert again.json()["kept"] == []  # the second time: said already


def test_resend_cancelled_addition_is_added(app, recording):
    """A follow-up whose addition was cancelled is not in the memo: sent again, it is queued
    again, not answered 'already added' (which would leave no way to add it)."""
    client, csrf = signed_in(app, "erin@example.com")
    memo_id = ready_memo(app, client, csrf, recording)
    follow_up = shared_file("audio/real/pv_test.wav").read_bytes()
    headers = {"X-CSRF-Token": csrf}
    first = client.post(f"/api/v1/memos/{memo_id}/additions", files={"file": ("more.wav", follow_up)},
                        headers=headers)
    assert first.status_code == 202
    assert client.post(f"/api/v1/memos/{memo_id}/cancel", headers=headers).status_code == 200
    again = client.post(f"/api/v1/memos/{memo_id}/additions", files={"file": ("more.wav", follow_up)},
                        data={"note": "Please do add it after all"}, headers=headers)
    assert again.status_code == 202, again.text
    assert again.json()["duplicate"] is False and again.json()["id"] != first.json()["id"]
    assert again.json()["status"] == "queued"
    statuses = [a["status"] for a in client.get(f"/api/v1/memos/{memo_id}/additions").json()]
    assert statuses == ["cancelled", "queued"]


def test_resend_recording_after_addition_answers_duplicate(data_dir, recording):
    """Once an addition is joined on, the memo's recording is the joined file: the original
    bytes, or the follow-up's, sent again are still that memo. Another author's copy of them is
    their own memo, and deleting it leaves the files the addition still holds."""
    from dictation import jobs
    from dictation.storage import MediaStore

    app = desk_app(data_dir, (ERIN, FRED), model="tiny.en", language="en", beam_size=1)
    client, csrf = signed_in(app, "erin@example.com")
    memo_id = ready_memo(app, client, csrf, recording)
    follow_up = shared_file("audio/real/pv_test.wav").read_bytes()
    added = client.post(f"/api/v1/memos/{memo_id}/additions", files={"file": ("more.wav", follow_up)},
                        headers={"X-CSRF-Token": csrf})
    assert added.status_code == 202, added.text
    with app.state.database.session() as session:
        job_id = session.scalar(select(Job.id).where(Job.memo_id == memo_id).order_by(Job.id.desc()))
    assert jobs.run_job(job_id, app.state.settings, app.state.queue) == "done"

    for data, note in ((recording, "Did you get this?"), (follow_up, "And this one?")):
        again = client.post("/api/v1/memos", files={"file": ("memo.wav", data)}, data={"note": note},
                            headers={"X-CSRF-Token": csrf})
        assert again.status_code == 200, again.text
        assert again.json()["id"] == memo_id and again.json()["duplicate"] is True
    assert memo_row(app, memo_id)[1] == ["Did you get this?", "And this one?"]

    fred, fred_csrf = signed_in(app, "fred@example.com")
    theirs = send(fred, fred_csrf, recording)
    assert theirs.status_code == 201 and theirs.json()["duplicate"] is False
    assert fred.delete(f"/api/v1/memos/{theirs.json()['id']}", headers={"X-CSRF-Token": fred_csrf}).status_code == 204
    original = hashlib.sha256(recording).hexdigest()
    assert MediaStore(app.state.settings.media_dir).path(original).is_file()  # erin's addition holds it
    app.state.database.dispose()


def test_retry_same_key_is_not_duplicate(app, recording):
    client, csrf = signed_in(app, "erin@example.com")
    first = send(client, csrf, recording, key="k-1", note="Hello")
    again = send(client, csrf, recording, key="k-1", note="Hello")
    assert again.status_code == 200 and again.json()["duplicate"] is False
    assert again.headers["idempotent-replayed"] == "true" and again.json()["id"] == first.json()["id"]
    memo, _ = memo_row(app, first.json()["id"])
    assert memo.note == "Hello"


def test_send_same_recording_other_author_is_new_memo(app, recording):
    erin, erin_csrf = signed_in(app, "erin@example.com")
    fred, fred_csrf = signed_in(app, "fred@example.com")
    assert send(erin, erin_csrf, recording).status_code == 201
    answer = send(fred, fred_csrf, recording)
    assert answer.status_code == 201 and answer.json()["duplicate"] is False


def _tus(client, csrf, data: bytes, **meta: str):
    encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    created = client.post("/api/v1/uploads/", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)), "Upload-Metadata": encoded, "X-CSRF-Token": csrf,
    })
    assert created.status_code == 201, created.text
    return client.patch(created.headers["location"], content=data, headers={
        "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "X-CSRF-Token": csrf,
        "Content-Type": "application/offset+octet-stream",
    })


def test_resend_recording_by_tus_answers_duplicate(app, recording):
    client, csrf = signed_in(app, "erin@example.com")
    first = _tus(client, csrf, recording, filename="memo.flac")
    assert first.status_code == 204 and "memo-duplicate-of" not in first.headers
    again = _tus(client, csrf, recording, filename="memo.flac", note="Second thoughts")
    assert again.status_code == 204
    assert again.headers["memo-id"] == first.headers["memo-id"] and again.headers["memo-duplicate-of"]
    assert "Memo-Duplicate-Of" in again.headers["access-control-expose-headers"]
    assert "memo-kept" not in first.headers and again.headers["memo-kept"] == "note"  # as "kept" in JSON
    assert "Memo-Kept" in again.headers["access-control-expose-headers"]
    thrice = _tus(client, csrf, recording, filename="memo.flac", note="Second thoughts")
    assert thrice.headers["memo-kept"] == ""  # the same note again: nothing new kept
    memo, _ = memo_row(app, int(first.headers["memo-id"]))
    assert memo.note == "Second thoughts"
    sent = client.get(f"/api/v1/memos/{memo.id}").json()["created_at"]
    assert again.headers["memo-duplicate-of"][:19] == sent[:19]


def erins_memos(live_server) -> set[int]:
    with live_server.api("erin") as client:
        return {memo["id"] for memo in client.get("/api/v1/memos", params={"limit": 200}).json()["items"]}


@pytest.mark.browser
@pytest.mark.slow
def test_phone_says_recording_already_sent(page, live_server, tmp_path):
    from playwright.sync_api import expect

    from tests.support.api import sine_wav

    recording = tmp_path / "resent.wav"
    recording.write_bytes(sine_wav(1.5, 523.25))  # bytes no other test sends
    live_server.sign_in(page, "erin")
    page.goto(f"{live_server.url}/phone")
    page.locator("#pick-file").set_input_files(str(recording))
    page.get_by_role("button", name="Send memo").click()
    expect(page.locator("#upload-status")).to_contain_text("Sent", timeout=30_000)
    # Other tests on this shared server upload as erin too: "My memos" is not ours alone.
    before = erins_memos(live_server)

    page.locator("#pick-file").set_input_files(str(recording))
    page.locator("#m-note").fill("Use the second half only")
    page.get_by_role("button", name="Send memo").click()
    expect(page.locator("#upload-status")).to_contain_text("You already sent this recording on", timeout=30_000)
    href = page.locator("#duplicate-link").get_attribute("href") or ""
    memo_id = int(href.rsplit("/", 1)[-1])
    assert href == f"/phone/memos/{memo_id}" and memo_id in before
    assert erins_memos(live_server) == before  # no second memo
    expect(page.locator(f'#my-memos li[data-memo-id="{memo_id}"]')).to_have_count(1)
    # Kept on the memo's note while it has no draft yet, as a comment on its draft once it has one.
    memo = live_server.memo("erin", memo_id)
    kept = memo["note"] or ""
    if memo["draft_id"] is not None:
        with live_server.api("erin") as client:
            kept += " ".join(c["body"] for c in client.get(f"/api/v1/drafts/{memo['draft_id']}/comments").json())
    assert "Use the second half only" in kept
