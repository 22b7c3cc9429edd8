"""The editor marks a word compose wrote from the vocabulary ("was: …") and a click puts the
heard form back, saved with If-Match like any edit. On the shared live desk: the term is accepted
for this module's own author only, so no other test's memo is touched."""

from __future__ import annotations

from dictation import accounts
from dictation.learning.tables import VocabularyEntry
from tests.conftest import shared_file
from tests.support.browser import PASSWORD, Account, wait_until


def test_revert_learned_word_in_editor(page, live_server):
    app = live_server.app
    with app.state.database.session() as session:
        vera = accounts.create_user(session, "vera@example.com", "author", password=PASSWORD, name="Vera Lind")
        _, token = accounts.create_token(session, vera, "tests")
        session.add(VocabularyEntry(heard_key="country", written="Kowalczyk", language="en", author_id=vera.id,
                                    status="accepted"))
    live_server.accounts["vera"] = Account("vera@example.com", "author", "Vera Lind", token=token)
    memo = live_server.upload("vera", shared_file("audio/real/jfk.flac"), title="Learned words")
    memo = live_server.wait_for("vera", memo["id"])
    draft_id = memo["draft_id"]
    assert live_server.draft("alice", draft_id)["body_markdown"].count("Kowalczyk") == 2

    live_server.sign_in(page, "alice", f"/memos/{memo['id']}")
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
