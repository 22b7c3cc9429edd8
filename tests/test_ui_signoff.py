"""Sign-off and revisions on the desk, in Debian's Chromium against the live server (real
transcription, tiny.en): the frozen text and its withdraw button, the author's reason as a
banner with one "Send for sign-off again", the author's phone showing what changed since they
answered, an edit after sign-off going back to review, and revisions that fold, refresh,
compare with the current text and restore. Screenshots go to /tmp/shots/D-*.png."""

from __future__ import annotations

import io
import random
import wave
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect  # a dev dependency: missing, the tests must fail, not skip

from tests.conftest import shared_file
from tests.support.browser import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = Path("/tmp/shots")
PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}, "locale": "en-GB"}


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"D-{name}.png"))


def unique_speech(folder: Path, name: str) -> Path:
    """jfk.flac with a random bit of silence after it: bytes no other test sends (one recording
    per author makes one memo on the shared desk)."""
    from dictation.audio import decode

    samples = decode(shared_file("audio/real/jfk.flac"))
    pcm = np.round(np.concatenate([samples, np.zeros(random.randint(160, 8000), np.float32)]) * 32767)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(pcm.astype("<i2").tobytes())
    path = folder / name
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture(scope="module")
def memos(live_server, tmp_path_factory):
    """Two of Dan's memos, transcribed: one goes through sign-off, one through revisions."""
    folder = tmp_path_factory.mktemp("signoff-audio")
    sent = [live_server.upload("dan", unique_speech(folder, f"{name}.wav"), title=title)
            for name, title in (("signoff", "Ask not, signed"), ("revisions", "Ask not, revised"))]
    return [live_server.wait_for("dan", memo["id"]) for memo in sent]


def act(server, who: str, draft_id: int, action: str) -> None:
    with server.api(who) as client:
        answer = client.post(f"/api/v1/drafts/{draft_id}/transitions", json={"action": action})
    assert answer.status_code == 200, answer.text


def open_editor(page, server, memo) -> None:
    page.goto(f"{server.url}/memos/{memo['id']}")
    wait_until(page, "window.desk && window.desk.draft !== null")


def type_at_end(page, text: str) -> None:
    page.locator("#draft-body").click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saved", timeout=15_000)


def test_sign_off_round_trip_between_desk_and_phone(page, new_context, live_server, memos):
    memo = memos[0]
    draft_id = memo["draft_id"]
    live_server.sign_in(page, "alice")
    act(live_server, "alice", draft_id, "claim")
    act(live_server, "alice", draft_id, "submit_for_approval")

    # Awaiting sign-off: the text is frozen, the page says why, and the request can be withdrawn.
    open_editor(page, live_server, memo)
    body = page.locator("#draft-body")
    expect(body).to_have_attribute("readonly", "")
    expect(page.locator("#frozen-note")).to_contain_text("Dan Okafor")
    before = body.input_value()
    body.click()
    page.keyboard.type("typed into frozen text")
    assert body.input_value() == before
    shot(page, "editor-frozen")
    page.locator('[data-action="withdraw"]').click()
    expect(page.locator("#state-chip")).to_have_text("In review", timeout=10_000)
    expect(page.locator("#draft-body")).not_to_have_attribute("readonly", "")
    expect(page.locator('[data-action="withdraw"]')).to_have_count(0)
    act(live_server, "alice", draft_id, "submit_for_approval")

    # The author asks for changes on the phone.
    phone = new_context(**PHONE).new_page()
    live_server.sign_in(phone, "dan")
    phone.goto(f"{live_server.url}/phone/memos/{memo['id']}")
    phone.get_by_label("What should change?").fill("Say which president said it.")
    phone.get_by_role("button", name="Request changes").click()
    phone.wait_for_url("**/phone")

    # The desk shows the reason on top of the text, and one way back: no Claim to press first.
    open_editor(page, live_server, memo)
    expect(page.locator("#changes-banner")).to_contain_text("Dan Okafor asked for changes")
    expect(page.locator("#changes-reason")).to_have_text("Say which president said it.")
    expect(page.locator('[data-action="claim"]')).to_have_count(0)
    again = page.locator('[data-action="submit_for_approval"]')
    expect(again).to_have_text("Send for sign-off again")
    shot(page, "editor-changes-requested")
    french = new_context().new_page()  # Claire reads French; the draft is Alice's
    live_server.sign_in(french, "claire")
    open_editor(french, live_server, memo)
    expect(french.locator("#changes-banner")).to_contain_text("Dan Okafor demande des modifications")
    expect(french.locator('[data-action="submit_for_approval"]')).to_have_text("Renvoyer pour validation")
    expect(french.locator('[data-action="submit_for_approval"]')).to_have_attribute("aria-disabled", "true")
    type_at_end(page, " President Kennedy said it.")
    again.click()
    expect(page.locator("#state-chip")).to_have_text("Awaiting sign-off", timeout=10_000)

    # The phone shows, word by word, what changed since the author asked.
    phone.goto(f"{live_server.url}/phone/memos/{memo['id']}")
    since = phone.locator("#since-answer")
    expect(since).to_contain_text("What changed since you asked for changes")
    expect(since.locator("ins")).to_contain_text("Kennedy")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    since.scroll_into_view_if_needed()
    shot(phone, "phone-changed-since")
    phone.get_by_role("button", name="Sign off").click()
    phone.wait_for_url("**/phone")
    assert live_server.memo("dan", memo["id"])["status"] == "approved"

    # An edit after sign-off says where the draft went, without reloading under the typist.
    open_editor(page, live_server, memo)
    expect(page.locator("#approved-note")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    type_at_end(page, " In 1961.")
    expect(page.locator("#back-to-review")).to_be_visible()
    expect(page.locator("#state-chip")).to_have_text("In review")
    expect(page.locator('[data-action="submit_for_approval"]')).not_to_have_attribute("aria-disabled", "true")
    assert page.evaluate("window.__sameDocument") is True
    shot(page, "editor-back-to-review")


def test_fold_compare_and_restore_revisions(page, live_server, memos):
    memo = memos[1]
    live_server.sign_in(page, "alice")
    open_editor(page, live_server, memo)
    machine = page.locator("#draft-body").input_value()
    options = page.locator("#revision option")
    type_at_end(page, "\n\nFirst thought.")
    type_at_end(page, " Second thought.")
    # One burst, one revision, and the list followed the saves without a reload.
    expect(options).to_have_count(3)  # the machine's text, v1 (the machine's) and Alice's burst
    expect(options.nth(1)).to_contain_text("Alice Martin")
    latest = live_server.draft("alice", memo["draft_id"])["version"]
    assert latest >= 3 and options.nth(1).get_attribute("value") == str(latest)

    # v1 compared with the current text shows what was added since (it used to compare v1 with itself).
    page.locator("#tab-changes").click()
    page.locator("#revision").select_option("1")
    expect(page.locator("#diff ins")).to_contain_text("First thought. Second thought.")
    expect(page.locator("#diff")).to_contain_text(f"From version 1 to the current text (version {latest})")
    restore = page.locator("#restore-revision")
    expect(restore).to_be_visible()
    shot(page, "editor-compare")
    restore.click()
    expect(page.locator("#save-state")).to_have_text(f"Saved · v{latest + 1}", timeout=10_000)
    assert page.locator("#draft-body").input_value() == machine
    expect(options).to_have_count(4)
    expect(restore).to_be_hidden()
    assert live_server.draft("alice", memo["draft_id"])["body_markdown"] == machine
    shot(page, "editor-restored")
    page.locator("#tab-history").click()  # the history followed too, without a reload
    expect(page.locator("#panel-history")).to_contain_text("Earlier version restored")
