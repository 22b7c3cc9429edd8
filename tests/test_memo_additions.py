"""Adding to a memo (append mode) on the live desk with real transcription (tiny.en): the author
sends a follow-up, the recordings are joined, only the new part is transcribed, and its words
come after the assistant's edited text with times past the old recording; the phone page does
the same from its "Add to this memo" button."""

from __future__ import annotations

import io
import random
import wave
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect  # a dev dependency: missing, the tests must fail, not skip

from tests.conftest import shared_file
from tests.support.browser import screenshot
from tests.support.desk import wait_for
from tests.support.wer import word_error_rate

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FOLLOW_UP = "audio/real/pv_test.wav"  # 5.9 s of speech; its words are in pv_test.txt
GAP_S = 0.75


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 375, "height": 812}, "is_mobile": True,
            "has_touch": True, "locale": "en-US"}


def unique_speech(tmp_path: Path, name: str) -> Path:
    """jfk.flac as a wav with a random bit of silence at the end: bytes no other test sends (one
    recording per author makes one memo on the shared desk)."""
    from dictation.audio import decode

    samples = decode(shared_file("audio/real/jfk.flac"))
    pcm = np.round(np.concatenate([samples, np.zeros(random.randint(160, 8000), np.float32)]) * 32767)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(pcm.astype("<i2").tobytes())
    path = tmp_path / name
    path.write_bytes(buffer.getvalue())
    return path


def add(client, memo_id: int, path: Path, **fields: str):
    with path.open("rb") as handle:
        return client.post(f"/api/v1/memos/{memo_id}/additions", files={"file": (path.name, handle)}, data=fields)


def wait_added(live_server, who: str, memo_id: int) -> dict:
    def done():
        with live_server.api(who) as client:
            last = client.get(f"/api/v1/memos/{memo_id}/additions").json()[-1]
        assert last["status"] not in ("failed", "cancelled"), last
        return last if last["status"] == "done" else None

    return wait_for(done, timeout=240, what=f"the addition to memo {memo_id}")


def test_add_recording_to_memo_appends_words_after_edits(live_server, tmp_path):
    memo = live_server.upload("erin", unique_speech(tmp_path, "first.wav"), title="Appended")
    with live_server.api("erin") as erin:
        # Still being transcribed: there is no draft to add to yet (409 with a sentence).
        early = add(erin, memo["id"], shared_file(FOLLOW_UP))
        assert early.status_code == 409 and "once its draft is ready" in early.json()["message"], early.text
    memo = live_server.wait_for("erin", memo["id"])
    old_duration = memo["duration_s"]
    with live_server.api("alice") as alice:
        draft = alice.get(f"/api/v1/drafts/{memo['draft_id']}").json()
        assert alice.post(f"/api/v1/drafts/{draft['id']}/transitions", json={"action": "claim"}).status_code == 200
        draft = alice.get(f"/api/v1/drafts/{draft['id']}").json()
        edited = "Edited by Alice: " + draft["body_markdown"]
        saved = alice.patch(f"/api/v1/drafts/{draft['id']}", json={"body_markdown": edited},
                            headers={"If-Match": f'"{draft["version"]}"'})
        assert saved.status_code == 200, saved.text
        edited_version = saved.json()["version"]
        assert add(alice, memo["id"], shared_file(FOLLOW_UP)).status_code == 403  # the author's dictation only

    with live_server.api("erin") as erin:
        not_audio = tmp_path / "notes.txt"
        not_audio.write_text("not a recording " * 50)
        refused = add(erin, memo["id"], not_audio)
        assert refused.status_code == 415 and refused.json()["message"], refused.text
        sent = add(erin, memo["id"], shared_file(FOLLOW_UP), note="The follow-up I promised")
        assert sent.status_code == 202, sent.text
        again = add(erin, memo["id"], shared_file(FOLLOW_UP))  # the phone retrying: the same addition
        assert again.status_code == 200 and again.json()["id"] == sent.json()["id"]
    added = wait_added(live_server, "erin", memo["id"])
    assert added["offset_s"] == pytest.approx(old_duration + GAP_S, abs=0.05)

    after = live_server.draft("alice", memo["draft_id"])
    assert after["body_markdown"].startswith(edited.rstrip())  # the assistant's edit kept as it was
    new_text = after["body_markdown"][len(edited.rstrip()):]
    reference = shared_file("audio/real/pv_test.txt").read_text()
    assert word_error_rate(reference, new_text) <= 0.25, new_text
    assert after["version"] == edited_version + 1
    joined = live_server.memo("erin", memo["id"])
    assert joined["duration_s"] == pytest.approx(old_duration + GAP_S + 5.855, abs=0.1)
    with live_server.api("alice") as alice:
        full = alice.get(f"/api/v1/drafts/{memo['draft_id']}").json()
        new_paragraphs = [p for p in full.get("paragraphs", []) if p["start"] >= old_duration]
        revisions = alice.get(f"/api/v1/drafts/{memo['draft_id']}/revisions").json()
        # A save based on the version before the addition is refused, never written over it.
        stale = alice.patch(f"/api/v1/drafts/{memo['draft_id']}", json={"body_markdown": edited},
                            headers={"If-Match": f'"{edited_version}"'})
        assert stale.status_code == 412, stale.text
        assert alice.get(f"/api/v1/memos/{memo['id']}/playback").status_code == 200
    assert new_paragraphs and all(p["end"] >= p["start"] for p in new_paragraphs)  # their time ranges
    assert revisions[0]["version"] == after["version"]
    words = _words_after(live_server, memo["id"], old_duration)
    assert len(words) >= 5 and min(w["start"] for w in words) >= old_duration


def _words_after(live_server, memo_id: int, seconds: float) -> list[dict]:
    """The memo's timed words from `seconds` on (the joined transcript, read from the database)."""
    from dictation.models import Memo

    with live_server.app.state.database.session() as session:
        transcript = session.get_one(Memo, memo_id).transcript or {}
    return [w for s in transcript.get("segments", []) for w in s["words"] if w["start"] >= seconds - 0.01]


def test_add_to_memo_from_phone_page(page, live_server, tmp_path):
    memo = live_server.wait_for("dan", live_server.upload("dan", unique_speech(tmp_path, "dan.wav"))["id"])
    live_server.sign_in(page, "dan", f"/phone/memos/{memo['id']}")
    page.goto(f"{live_server.url}/phone/memos/{memo['id']}")
    page.get_by_role("button", name="Add to this memo").click()
    page.locator("#add-file").set_input_files(str(shared_file(FOLLOW_UP)))
    expect(page.locator("#add-picked")).to_contain_text("pv_test.wav")
    screenshot(page, "phone-add-to-memo")
    page.get_by_role("button", name="Send the addition").click()
    expect(page.locator("#add-status")).to_contain_text("Sent", timeout=30_000)
    wait_added(live_server, "dan", memo["id"])
    # The page says so and shows itself again, the post now ending with the follow-up's words.
    page.wait_for_load_state()
    expect(page.locator("#add-open")).to_be_visible(timeout=30_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    post = page.frame_locator("iframe.post-frame").locator("body")
    expect(post).to_contain_text("quilter", ignore_case=True, timeout=15_000)
    # The same file again, with a note: not added twice, and the note is kept as a comment.
    page.get_by_role("button", name="Add to this memo").click()
    page.locator("#add-file").set_input_files(str(shared_file(FOLLOW_UP)))
    page.locator("#add-note").fill("Use this one for the ending")
    page.get_by_role("button", name="Send the addition").click()
    expect(page.locator("#add-status")).to_contain_text("already added", timeout=30_000)
    expect(page.locator("#add-status")).to_contain_text("your note was added as a comment")
    with live_server.api("dan") as client:
        assert [a["status"] for a in client.get(f"/api/v1/memos/{memo['id']}/additions").json()] == ["done"]
        draft = client.get(f"/api/v1/drafts/{memo['draft_id']}/comments")
    assert draft.status_code == 200, draft.text
    assert [c["body"] for c in draft.json()] == ["Use this one for the ending"]
