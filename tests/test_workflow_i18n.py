"""The workflow's refusals in English and French: complete tables, the API's 409 in the
request's language (English by default) and the editor's greyed buttons in the page's."""

from __future__ import annotations

import pytest

from dictation import workflow
from dictation.errors import TransitionRefused
from dictation.models import Role, State, User
from dictation.workflow import messages
from tests.support.api import make_person, make_ready_draft
from tests.support.dbfixtures import make_draft, make_memo, make_user

API = "/api/v1"


def test_define_every_refusal_in_both_languages_with_same_placeholders():
    english, french = messages.TEMPLATES["en"], messages.TEMPLATES["fr"]
    assert set(english) == set(french) and len(english) >= 10
    for reason, template in english.items():
        assert messages.placeholders(template) == messages.placeholders(french[reason]), reason
        assert french[reason] != template, reason


def test_define_words_for_every_state_action_and_role_in_both_languages():
    for lang in messages.LANGUAGES:
        assert set(messages.STATES[lang]) == {s.value for s in State}
        assert set(messages.ACTIONS[lang]) == set(workflow.ACTIONS)
        assert set(messages.ROLES[lang]) == {r.value for r in Role}


@pytest.mark.parametrize(
    ("own", "header", "expected"),
    [(None, "fr-CA,fr;q=0.9,en;q=0.5", "fr"), (None, "en-GB,fr;q=0.9", "en"), (None, None, "en"),
     (None, "de", "en"), ("fr", "en-US", "fr"), ("en", "fr", "en"), (None, "fr;q=0", "en")],
)
def test_pick_preferred_language(own, header, expected):
    assert messages.preferred_language(own, header) == expected


def test_say_refusal_in_french_with_french_words():
    said = messages.say("wrong_state", "fr", action="approve", state="ready")
    assert said == "Un mémo prêt pour la relecture ne peut pas être validé."
    said = messages.say("wrong_role", "fr", action="claim", roles=["assistant", "admin"])
    assert said == "« Prendre en charge » est réservé aux rôles admin et assistant·e."
    assert (
        messages.say("claimed_by_other", "de", holder=None)
        == "Someone else has claimed this draft; an admin can reassign it."
    )


def test_refuse_claim_in_french_over_api_with_accept_language(client, api_app):
    ada, eve, sam = (
        make_person(api_app, r, n) for r, n in (("author", "Ada"), ("assistant", "Eve"), ("assistant", "Sam"))
    )
    draft_id = make_ready_draft(api_app, ada)
    assert (
        client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "claim"}, headers=eve.auth).status_code
        == 200
    )
    taken = client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "claim"},
                        headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5", **sam.auth})
    assert taken.status_code == 409
    body = taken.json()
    assert body["message"] == "Eve a pris en charge ce brouillon ; un admin peut le réattribuer."
    # The same shape as in English, plus what a client needs to say it itself.
    assert body["error"] == "transition_refused" and body["reason"] == "claimed_by_other"
    assert body["holder"] == "Eve" and body["action"] == "claim" and body["state"] == "in_review"


@pytest.mark.parametrize("header", [None, "de-DE,de;q=0.9", "en-US,fr;q=0.8"])
def test_refuse_claim_in_english_by_default(client, api_app, header):
    ada, eve, sam = (
        make_person(api_app, r, n) for r, n in (("author", "Ada"), ("assistant", "Eve"), ("assistant", "Sam"))
    )
    draft_id = make_ready_draft(api_app, ada)
    client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "claim"}, headers=eve.auth)
    headers = {**sam.auth, **({"Accept-Language": header} if header else {})}
    taken = client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "claim"}, headers=headers)
    assert taken.status_code == 409
    assert taken.json()["message"] == "Eve has claimed this draft; an admin can reassign it."


def test_refuse_in_users_own_language_over_browsers(client, api_app):
    ada = make_person(api_app, "author", "Ada")
    with api_app.state.database.session() as session:
        session.get(User, ada.id).language = "fr"
    draft_id = make_ready_draft(api_app, ada)
    early = client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "approve"},
                        headers={"Accept-Language": "en-US", **ada.auth})
    assert early.status_code == 409
    assert early.json()["message"] == "Un mémo prêt pour la relecture ne peut pas être validé."
    assert early.json()["reason"] == "wrong_state"


def test_say_same_sentence_from_refusal_and_from_its_detail(db):
    with db.session() as session:
        author, helper = make_user(session, "author"), make_user(session, "assistant", name="Zoé")
        memo = make_memo(session, author, status="in_review")
        draft = make_draft(session, memo, assignee_id=helper.id)
        other = make_user(session, "assistant")
        session.flush()
        for lang in messages.LANGUAGES:
            try:
                workflow.apply(session, memo, "submit_for_approval", other)
            except TransitionRefused as refused:
                assert workflow.refused_message(refused, lang) == workflow.refusal(
                    memo, draft, "submit_for_approval", other, lang=lang
                )
            else:
                pytest.fail("someone else's claim must refuse the action")
        assert "Zoé a pris en charge" in workflow.refusal(memo, draft, "claim", other, lang="fr")


def test_show_greyed_buttons_reasons_in_page_language(db):
    from review_ui import views

    with db.session() as session:
        author = make_user(session, "author")
        helper = make_user(session, "assistant", name="Zoé")
        french = make_user(session, "assistant", language="fr")
        memo = make_memo(session, author, status="in_review")
        draft = make_draft(session, memo, assignee_id=helper.id)
        session.flush()
        own = {a.name: a.reason for a in views.actions_for(memo, draft, french)}
        assert own["claim"] == "Zoé a pris en charge ce brouillon ; un admin peut le réattribuer."
        asked = {a.name: a.reason for a in views.actions_for(memo, draft, french, "en")}
        assert asked["claim"] == "Zoé has claimed this draft; an admin can reassign it."
