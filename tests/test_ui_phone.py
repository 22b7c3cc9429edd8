"""The author's phone page at 375 × 812 in Debian's Chromium: record from a fake
microphone fed with a speech wav, send it resumably, read the draft that comes back;
an upload whose connection is cut resumes; drafts are signed off from the phone."""

from __future__ import annotations

import wave

import numpy as np
import pytest
from playwright.sync_api import expect  # a dev dependency: missing, the tests must fail, not skip

from tests.conftest import shared_file
from tests.support.browser import (
    CHROMIUM_ARGS,
    chromium_path,
    screenshot,
    sha256_of,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, **PHONE, "locale": "en-US"}


@pytest.fixture(scope="module")
def microphone_browser(browser_type):
    """A browser whose microphone hears a 16-bit wav once (then silence)."""
    speech = shared_file("audio/real/pv_test.wav")
    browser = browser_type.launch(
        executable_path=str(chromium_path()),
        args=CHROMIUM_ARGS + [
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={speech}%noloop",
        ],
    )
    yield browser
    browser.close()


def test_record_memo_on_phone_and_get_its_words_back(microphone_browser, new_context, live_server):
    from tests.support.wer import word_error_rate

    page = new_context(microphone_browser, permissions=["microphone"], base_url=live_server.url).new_page()
    live_server.sign_in(page, "erin")
    page.goto("/phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    page.get_by_role("button", name="Record", exact=True).click()
    expect(page.locator("#rec-state")).to_have_text("Recording…")
    wait_until(page, "document.getElementById('meter').getAttribute('aria-valuenow') > 20", timeout_s=10)
    page.wait_for_timeout(6500)  # the wav lasts 5.9 s; the fake microphone goes on in silence
    page.get_by_role("button", name="Pause", exact=True).click()
    paused = page.locator("#rec-time").text_content()
    page.wait_for_timeout(1200)
    assert page.locator("#rec-time").text_content() == paused  # a pause is not counted
    page.get_by_role("button", name="Resume", exact=True).click()
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.locator("#listen")).to_be_visible()
    page.get_by_label("Title").fill("Quilter on the phone")
    page.get_by_label("Priority").select_option("high")
    screenshot(page, "phone-recorded")
    before = live_server.memo_ids("erin")
    page.get_by_role("button", name="Send memo").click()
    expect(page.locator("#upload-status")).to_contain_text("Sent", timeout=30_000)
    memo_id = live_server.new_memo("erin", before)
    item = page.locator(f'#my-memos li[data-memo-id="{memo_id}"]')
    memo = live_server.wait_for("erin", memo_id)
    assert memo["priority"] == "high" and memo["title"] == "Quilter on the phone"
    expect(item.locator(".chip")).to_have_text("Ready", timeout=15_000)  # the list follows the memo
    screenshot(page, "phone")
    body = live_server.draft("erin", memo["draft_id"])["body_markdown"]
    reference = shared_file("audio/real/pv_test.txt").read_text()
    assert word_error_rate(reference, body) <= 0.20, body


@pytest.fixture(scope="module")
def big_wav(tmp_path_factory):
    """Eight megabytes of speech: four 2 MB chunks."""
    from dictation.audio import decode

    samples = decode(shared_file("audio/memos/en_mb-us1.m4a"))
    pcm = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2")
    path = tmp_path_factory.mktemp("big") / "board-meeting.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(np.repeat(pcm, 2).tobytes())
    assert path.stat().st_size > 6 * 1024 * 1024
    return path


def test_resume_upload_after_connection_is_cut(page, live_server, big_wav):
    seen: list[tuple[str, str | None]] = []
    cut = {"patches": 0, "heads": 0}

    def network(route, request):
        seen.append((request.method, request.headers.get("upload-offset")))
        if request.method == "PATCH":
            cut["patches"] += 1
            if cut["patches"] == 2:  # mid-way: the second of four chunks never arrives
                return route.abort("connectionreset")
        if request.method == "HEAD" and cut["patches"] >= 2 and cut["heads"] == 0:
            cut["heads"] += 1  # and the first attempt to resume fails too
            return route.abort("internetdisconnected")
        return route.continue_()

    page.route("**/api/v1/uploads/**", network)
    live_server.sign_in(page, "erin")
    page.goto(f"{live_server.url}/phone")
    page.locator("#pick-file").set_input_files(str(big_wav))
    page.get_by_label("Title").fill("Board meeting")
    before = live_server.memo_ids("erin")
    page.get_by_role("button", name="Send memo").click()
    expect(page.locator("#upload-status")).to_contain_text("Connection lost", timeout=30_000)
    expect(page.locator("#upload-status")).to_contain_text("Sent", timeout=60_000)

    methods = [m for m, _ in seen]
    assert methods.count("POST") == 1  # resumed, not started again
    assert methods.count("HEAD") >= 2
    offsets = [int(o) for m, o in seen if m == "PATCH"]
    assert offsets[0] == 0 and offsets[1] == offsets[2] > 0  # the cut chunk was sent again, once
    memo_id = live_server.new_memo("erin", before)
    memo = live_server.memo("erin", memo_id)
    assert memo["sha256"] == sha256_of(big_wav)
    assert memo["size_bytes"] == big_wav.stat().st_size


def test_sign_off_draft_from_phone(page, live_server):
    memo = live_server.upload("erin", shared_file("audio/real/pv_test_fr.wav"), title="Sous le consulat",
                              language="en")
    memo = live_server.wait_for("erin", memo["id"])
    with live_server.api("alice") as alice:
        for action in ("claim", "submit_for_approval"):
            answer = alice.post(f"/api/v1/drafts/{memo['draft_id']}/transitions", json={"action": action})
            assert answer.status_code == 200, answer.text
    live_server.sign_in(page, "erin")
    page.goto(f"{live_server.url}/phone")
    waiting = page.locator("#waiting-h")
    expect(waiting).to_contain_text("Waiting for your sign-off")
    page.locator(f'a[href="/phone/memos/{memo["id"]}"]').first.click()
    expect(page.frame_locator(".post-frame").locator("h1")).to_be_visible()
    screenshot(page, "phone-sign-off")
    page.get_by_label("What should change?").fill("Say who Quilter is in the first sentence.")
    page.get_by_role("button", name="Request changes").click()
    page.wait_for_url("**/phone")
    assert live_server.memo("erin", memo["id"])["status"] == "changes_requested"
    with live_server.api("alice") as alice:
        comments = alice.get(f"/api/v1/drafts/{memo['draft_id']}/comments").json()
    assert any("Quilter" in c["body"] for c in comments)


def test_show_retention_note_instead_of_player_on_phone(page, live_server):
    """A memo whose recording retention removed: the phone says so where the player was."""
    import datetime as dt

    from sqlalchemy import select

    from dictation.db import utcnow
    from dictation.models import AuditEntry, User
    from dictation.ops import retention
    from dictation.storage import MediaStore
    from tests.support.dbfixtures import make_memo

    store = MediaStore(live_server.settings.media_dir)
    # Bytes of this test's own: a file another memo shares would stay.
    original = store.save_stream(shared_file("audio/real/jfk.flac").read_bytes() + b"retention")
    with live_server.app.state.database.session() as session:
        erin = session.scalar(select(User).where(User.email == "erin@example.com"))
        memo = make_memo(session, erin, status="published", title="Long gone", media_sha256=original.sha256)
        session.add(AuditEntry(memo_id=memo.id, action="published", from_state="publishing", to_state="published",
                               created_at=utcnow() - dt.timedelta(days=45)))
        memo_id = memo.id
    # Only memos published 30 days ago or more: the other tests' memos on this server stay.
    policy = live_server.settings.model_copy(update={"retain_audio_days": 30})
    assert retention.purge(live_server.app.state.database, store, policy).originals == 1
    live_server.sign_in(page, "erin")
    page.goto(f"{live_server.url}/phone/memos/{memo_id}")
    expect(page.locator("#retention-note")).to_contain_text("(45 days after publication)")
    expect(page.locator("audio")).to_have_count(0)
