"""The desk's side of learning, in Chromium. The editor marks a word compose wrote from the
vocabulary ("was: …") and a click puts the heard form back, saved with If-Match like any edit;
the Vocabulary page plays an example where the model misheard and accepts a term for one author.
On the shared live desk: terms are for this module's own author only, so no other test's memo
is touched."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dictation import accounts
from dictation.learning.tables import Correction, VocabularyEntry
from dictation.models import Draft
from tests.conftest import shared_file
from tests.support.browser import PASSWORD, Account, wait_until


@pytest.fixture(scope="module")
def vera_memo(live_server) -> dict:
    """jfk.flac by Vera, transcribed after "country" → "Kowalczyk" was accepted for her."""
    with live_server.app.state.database.session() as session:
        vera = accounts.create_user(session, "vera@example.com", "author", password=PASSWORD, name="Vera Lind")
        _, token = accounts.create_token(session, vera, "tests")
        session.add(VocabularyEntry(heard_key="country", written="Kowalczyk", language="en", author_id=vera.id,
                                    status="accepted"))
    live_server.accounts["vera"] = Account("vera@example.com", "author", "Vera Lind", token=token)
    memo = live_server.upload("vera", shared_file("audio/real/jfk.flac"), title="Learned words")
    return {**live_server.wait_for("vera", memo["id"]), "author_id": vera.id}


def test_revert_learned_word_in_editor(page, live_server, vera_memo):
    draft_id = vera_memo["draft_id"]
    assert live_server.draft("alice", draft_id)["body_markdown"].count("Kowalczyk") == 2
    live_server.sign_in(page, "alice", f"/memos/{vera_memo['id']}")
    marks = page.locator("#learned-words button.learned")
    marks.first.wait_for()
    assert marks.count() == 2
    assert marks.nth(1).get_attribute("title").startswith("was: country")
    marks.nth(1).click()
    wait_until(page, "document.querySelector('#learned-words button.learned.reverted') !== null")
    body = page.locator("#draft-body").input_value()
    assert body.count("Kowalczyk") == 1 and body.rstrip(".").endswith("for your country")
    saved = live_server.draft("alice", draft_id)
    assert saved["body_markdown"] == body and saved["version"] == 2


def test_play_example_then_accept_for_one_author(page, live_server, vera_memo):
    database = live_server.app.state.database
    with database.session() as session:
        draft_id = session.scalars(select(Draft.id).where(Draft.memo_id == vera_memo["id"])).one()
        session.add(Correction(draft_id=draft_id, memo_id=vera_memo["id"], author_id=vera_memo["author_id"],
                               language="en", heard="fellow", heard_key="fellow", written="Fellowes", is_name=True,
                               context="my Fellowes Americans", start=3.0, end=3.4))
    live_server.sign_in(page, "alice", "/vocabulary")
    row = page.locator('[data-proposal][data-written="Fellowes"]')
    row.locator("[data-play-memo]").click()
    # Played from a second before the heard word (3.0 s) until a second after it.
    wait_until(page, "(a => a.played.length > 0 && a.played.end(0) > 2.5)(document.getElementById('vocab-audio'))")
    assert page.evaluate("document.getElementById('vocab-audio').played.start(0)") == pytest.approx(2.0, abs=0.1)
    row.locator("[data-scope]").select_option(label="for Vera Lind only")
    row.locator('[data-decide="accept"]').click()
    page.locator('[data-decision][data-status="accepted"]', has_text="Fellowes").wait_for()
    with database.session() as session:
        entry = session.scalars(select(VocabularyEntry).where(VocabularyEntry.written == "Fellowes")).one()
        assert (entry.status, entry.author_id) == ("accepted", vera_memo["author_id"])
