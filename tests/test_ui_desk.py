"""The review desk in Debian's Chromium: worklist, editor, player keys, autosave and the
conflict view, against a live server that really transcribes (tiny.en)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect  # a dev dependency: missing, the tests must fail, not skip

from tests.conftest import shared_file
from tests.support.browser import screenshot, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1440, "height": 900}, "locale": "en-GB"}


@pytest.fixture(scope="module")
def long_memo(live_server):
    """A 20-second memo, transcribed: room for ±5 s and rewinds."""
    memo = live_server.upload("erin", shared_file("audio/real/pv_diarization_test.wav"),
                              title="Crocodile notes", priority="high")
    return live_server.wait_for("erin", memo["id"])


@pytest.fixture
def desk(page, live_server):
    live_server.sign_in(page, "alice")
    return page


def open_editor(page, server, memo) -> None:
    page.goto(f"{server.url}/memos/{memo['id']}")
    wait_until(page, "document.getElementById('audio').readyState >= 1")


def audio(page, prop: str):
    return page.evaluate(f"document.getElementById('audio').{prop}")


def test_show_uploaded_memo_moving_to_ready_in_worklist(desk, live_server):
    desk.goto(f"{live_server.url}/worklist")
    desk.evaluate("window.__sameDocument = true")
    memo = live_server.upload("erin", shared_file("audio/real/pv_test.wav"), title="Quilter's gospel",
                              priority="urgent", due_at="2020-01-01T09:00:00Z", note="For the newsletter")
    row = desk.locator(f'tr[data-memo-id="{memo["id"]}"]')
    expect(row).to_be_visible(timeout=30_000)
    screenshot(desk, "worklist-running")
    expect(row).to_have_attribute("data-state", "ready", timeout=180_000)
    # It moved by itself: the page refreshed its rows, it was not reloaded.
    assert desk.evaluate("window.__sameDocument") is True
    expect(row.locator(".memo-title")).to_contain_text("Quilter's gospel")
    assert "overdue" in row.get_attribute("class")
    expect(desk.locator('[data-lane="todo"]')).to_contain_text("Quilter's gospel")
    expect(desk.locator('.count[data-state="ready"] b')).not_to_have_text("0")
    screenshot(desk, "worklist")


def test_move_audio_to_clicked_word(desk, live_server, long_memo):
    open_editor(desk, live_server, long_memo)
    word = desk.locator("#transcript .w").nth(12)
    start = float(word.get_attribute("data-s"))
    word.click()
    time.sleep(0.3)
    now = audio(desk, "currentTime")
    assert start <= now < start + 1.0
    assert audio(desk, "paused") is False
    desk.keyboard.press("Escape")


def test_highlight_spoken_word_while_playing(desk, live_server, long_memo):
    open_editor(desk, live_server, long_memo)
    desk.locator("#play").click()
    wait_until(desk, "document.getElementById('audio').currentTime > 3")
    desk.locator("#play").click()
    now = audio(desk, "currentTime")
    current = desk.locator("#transcript .w.now")
    expect(current).to_have_count(1)
    expect(current).to_have_attribute("aria-current", "time")
    starts = [float(s) for s in desk.locator("#transcript .w").evaluate_all("ws => ws.map(w => w.dataset.s)")]
    spoken = float(current.get_attribute("data-s"))
    later = [s for s in starts if s > spoken]
    assert spoken <= now + 0.05 and (not later or now < later[0] + 0.05)
    screenshot(desk, "editor")


def test_control_player_with_keys_while_typing(desk, live_server, long_memo):
    open_editor(desk, live_server, long_memo)
    body = desk.locator("#draft-body")
    body.click()
    desk.keyboard.press("Escape")
    wait_until(desk, "!document.getElementById('audio').paused")
    desk.keyboard.press("Escape")
    assert audio(desk, "paused") is True
    desk.evaluate("document.getElementById('audio').currentTime = 10")
    desk.keyboard.press("F1")
    assert abs(audio(desk, "currentTime") - 5) < 0.2
    desk.keyboard.press("F2")
    desk.keyboard.press("F2")
    assert abs(audio(desk, "currentTime") - 15) < 0.2
    desk.keyboard.press("F3")
    assert audio(desk, "playbackRate") == pytest.approx(0.9)
    for _ in range(15):
        desk.keyboard.press("F4")
    assert audio(desk, "playbackRate") == pytest.approx(2.0)  # clamped at 2×
    expect(desk.locator("#speed-out")).to_have_text("2.0×")
    # Ctrl+J writes the player's time at the caret, and the focus stays in the text.
    desk.keyboard.press("Control+End")
    desk.keyboard.press("Control+j")
    assert body.input_value().rstrip().endswith("[0:15]")
    assert desk.evaluate("document.activeElement.id") == "draft-body"
    desk.keyboard.press("Control+/")
    expect(desk.locator("#help")).to_be_visible()
    expect(desk.locator("#help")).to_contain_text("F3")
    desk.keyboard.press("Escape")
    expect(desk.locator("#help")).to_be_hidden()


def test_rewind_on_resume(desk, live_server, long_memo):
    open_editor(desk, live_server, long_memo)
    desk.locator("#draft-body").click()
    desk.keyboard.press("Escape")
    wait_until(desk, "document.getElementById('audio').currentTime > 4")
    desk.keyboard.press("Escape")
    paused_at = audio(desk, "currentTime")
    desk.keyboard.press("Escape")
    resumed_at = desk.evaluate("document.getElementById('audio').currentTime")
    desk.keyboard.press("Escape")
    # 2 s by default (DICTATION_REWIND_SECONDS); the clock runs on a little meanwhile.
    assert paused_at - 2.0 - 0.05 <= resumed_at < paused_at - 1.0


def test_keep_edit_after_autosave_and_reload(desk, live_server, long_memo):
    open_editor(desk, live_server, long_memo)
    body = desk.locator("#draft-body")
    body.click()
    desk.keyboard.press("Control+End")
    marker = f"Edited by Alice {time.time_ns()}."
    desk.keyboard.type(f"\n\n{marker}")
    expect(desk.locator("#save-state")).to_have_attribute("data-state", "saved", timeout=15_000)
    desk.reload()
    expect(desk.locator("#draft-body")).to_contain_text(marker)
    draft = live_server.draft("alice", long_memo["draft_id"])
    assert marker in draft["body_markdown"]


def test_follow_renamed_title_in_heading(desk, live_server, long_memo):
    open_editor(desk, live_server, long_memo)
    title = desk.locator("#draft-title")
    before = title.input_value()
    renamed = f"Renamed {time.time_ns()}"
    try:
        title.fill(renamed)
        expect(desk.locator("#save-state")).to_have_attribute("data-state", "saved", timeout=15_000)
        expect(desk.locator("#memo-heading")).to_have_text(renamed)  # no reload
        assert desk.title().startswith(renamed)
    finally:
        title.fill(before)
        expect(desk.locator("#memo-heading")).to_have_text(before, timeout=15_000)


def test_show_both_versions_when_two_people_save(new_context, live_server):
    # Dan's: test_ui_access reads Erin's memo of this recording on the same server.
    memo = live_server.wait_for("dan", live_server.upload("dan", shared_file("audio/real/jfk.flac"),
                                                          title="Ask not")["id"])
    pages = []
    for who in ("alice", "bob"):
        page = new_context().new_page()
        live_server.sign_in(page, who)
        open_editor(page, live_server, memo)
        pages.append(page)
    first, second = pages
    for page, text in ((first, "Alice's sentence."), (second, "Bob's sentence.")):
        page.locator("#draft-body").click()
        page.keyboard.press("Control+End")
        page.keyboard.type(f"\n\n{text}")
        if page is first:
            expect(first.locator("#save-state")).to_have_attribute("data-state", "saved", timeout=15_000)
    conflict = second.locator("#conflict")
    expect(conflict).to_be_visible(timeout=15_000)
    assert "Bob's sentence." in second.locator("#conflict-mine").input_value()
    assert "Alice's sentence." in second.locator("#conflict-theirs").input_value()
    screenshot(second, "editor-conflict")
    # Bob merges by hand: Alice's sentence goes into his version, then he keeps it.
    second.locator("#conflict-mine").press("Control+End")
    second.locator("#conflict-mine").type("\n\nAlice's sentence.")
    second.locator("#conflict-keep-mine").click()
    expect(second.locator("#save-state")).to_have_attribute("data-state", "saved", timeout=15_000)
    saved = live_server.draft("bob", memo["draft_id"])["body_markdown"]
    assert "Alice's sentence." in saved and "Bob's sentence." in saved


def test_show_markup_in_memo_as_text(desk, live_server, long_memo):
    open_editor(desk, live_server, long_memo)
    desk.locator("#draft-body").click()
    desk.keyboard.press("Control+End")
    desk.keyboard.type("\n\n<script>window.parent.__owned = 1</script><img src=x onerror=alert(1)>")
    frame = desk.frame_locator("#preview-frame")
    expect(frame.locator(".content")).to_contain_text("<script>window.parent.__owned = 1</script>", timeout=10_000)
    assert frame.locator(".content script, .content img").count() == 0
    assert desk.evaluate("window.__owned") is None


def test_play_paragraph_clicked_in_preview(desk, live_server, long_memo):
    open_editor(desk, live_server, long_memo)
    paragraphs = desk.evaluate("window.desk.paragraphs.paragraphs.map(p => p.start)")
    frame = desk.frame_locator("#preview-frame")
    expect(frame.locator(".content > p").first).to_be_visible(timeout=10_000)
    desk.evaluate("document.getElementById('audio').currentTime = 15")
    frame.locator(".content > p").first.click()
    time.sleep(0.3)
    now = audio(desk, "currentTime")
    assert paragraphs[0] <= now < paragraphs[0] + 1.0
    desk.keyboard.press("Escape")


def test_explain_refused_action(desk, live_server, long_memo):
    open_editor(desk, live_server, long_memo)
    release = desk.locator('[data-action="release"]')
    expect(release).to_have_attribute("aria-disabled", "true")
    reason = desk.locator("#why-release").text_content()
    assert "cannot be released" in reason  # in the workflow's words
    release.click(force=True)  # aria-disabled: still focusable and clickable, to hear why
    expect(desk.locator("#toast")).to_contain_text(reason)


def test_show_worklist_and_editor_in_french(page, live_server, long_memo):
    live_server.sign_in(page, "claire")
    page.goto(f"{live_server.url}/worklist")
    expect(page.locator("h1")).to_have_text("Liste de travail")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator(f'tr[data-memo-id="{long_memo["id"]}"]')).to_contain_text("Haute")
    screenshot(page, "worklist-fr")
    open_editor(page, live_server, long_memo)
    expect(page.locator("#h-transcript")).to_have_text("Transcription")
    expect(page.locator("#h-draft")).to_have_text("Brouillon")
    expect(page.locator("#tab-preview")).to_have_text("Aperçu")
    expect(page.locator('[data-action="claim"]')).to_have_text("Prendre en charge")
    screenshot(page, "editor-fr")


def test_claim_draft_and_comment(desk, live_server, long_memo):
    open_editor(desk, live_server, long_memo)
    desk.locator('[data-action="claim"]').click()
    expect(desk.locator("#assignee")).to_contain_text("Alice Martin")
    expect(desk.locator("#state-chip")).to_have_text("In review")
    expect(desk.locator('[data-action="release"]')).not_to_have_attribute("aria-disabled", "true")
    desk.locator("#tab-comments").click()
    desk.get_by_label("Add a comment").fill("Check the <b>name</b> of the crocodile.")
    desk.get_by_role("button", name="Comment", exact=True).click()
    expect(desk.locator("#comments li").last).to_contain_text("Check the <b>name</b> of the crocodile.")
    expect(desk.locator("#comment-count")).to_have_text("1")
    desk.locator("#draft-body").click()
    desk.keyboard.press("Control+End")
    desk.keyboard.type(" Crocodiles purr.")
    expect(desk.locator("#save-state")).to_have_attribute("data-state", "saved", timeout=15_000)
    desk.locator("#tab-changes").click()
    expect(desk.locator("#diff ins").last).to_contain_text("purr.")  # against the machine's text
