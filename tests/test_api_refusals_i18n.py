"""Every refusal of a save or a publication (403, 409, 412) in the caller's language: the
person's own setting, else Accept-Language, else English; one sentence in one language (no
"Non enregistré : Sam has claimed this draft"), and the reason id for programs. The API's
error handler says it; the services raise it with a reason id."""

from __future__ import annotations

from dictation.models import User
from tests.support.api import make_person, make_ready_draft

API = "/api/v1"
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


def people(api_app):
    return [make_person(api_app, role, name) for role, name in
            (("author", "Ada"), ("assistant", "Eve"), ("assistant", "Sam"))]


def claim(client, draft_id, person) -> None:
    answer = client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "claim"}, headers=person.auth)
    assert answer.status_code == 200, answer.text


def save(client, draft_id, person, version=1, headers=None):
    return client.patch(f"{API}/drafts/{draft_id}", json={"title": "Nouveau titre"},
                        headers={"If-Match": f'"{version}"', **person.auth, **(headers or {})})


def test_refuse_save_of_claimed_draft_in_french(client, api_app):
    ada, eve, sam = people(api_app)
    draft_id = make_ready_draft(api_app, ada)
    claim(client, draft_id, eve)
    refused = save(client, draft_id, sam, headers=FRENCH)
    assert refused.status_code == 409
    body = refused.json()
    assert body["message"] == (
        "Eve a pris en charge ce brouillon ; demandez-lui de le libérer, ou à un admin de le réattribuer.")
    assert body["reason"] == "claimed_edit" and body["holder"] == "Eve"
    english = save(client, draft_id, sam)
    assert english.json()["message"] == "Eve has claimed this draft; ask them to release it or an admin to reassign it."


def test_refuse_stale_save_in_french_with_current_text(client, api_app):
    ada, eve, _ = people(api_app)
    draft_id = make_ready_draft(api_app, ada)
    claim(client, draft_id, eve)
    assert save(client, draft_id, eve).status_code == 200
    stale = save(client, draft_id, eve, version=1, headers=FRENCH)
    assert stale.status_code == 412
    body = stale.json()
    assert body["message"].startswith("Quelqu’un a enregistré ce brouillon après que vous l’avez ouvert (il est "
                                      "maintenant en version 2)")
    assert body["reason"] == "stale_version" and body["current"]["version"] == 2


def test_refuse_author_edit_in_own_language_over_browsers(client, api_app):
    ada, _, _ = people(api_app)
    with api_app.state.database.session() as session:
        session.get(User, ada.id).language = "fr"
    draft_id = make_ready_draft(api_app, ada)
    refused = save(client, draft_id, ada, headers={"Accept-Language": "en-US"})
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "Les auteurs commentent et valident les brouillons ; ce sont les assistant·es qui les modifient.")


def test_refuse_publication_in_french(client, api_app):
    ada, eve, sam = people(api_app)
    draft_id = make_ready_draft(api_app, ada)
    claim(client, draft_id, eve)
    taken = client.post(f"{API}/drafts/{draft_id}/publish", json={}, headers={**sam.auth, **FRENCH})
    assert taken.status_code == 409
    assert taken.json()["message"] == (
        "Eve a pris en charge ce brouillon ; seul·e cette personne ou un admin peut le publier.")
    waiting = make_ready_draft(api_app, ada, status="transcribing")
    early = client.post(f"{API}/drafts/{waiting}/publish", json={}, headers={**sam.auth, **FRENCH})
    assert early.status_code == 409
    assert early.json()["message"] == (
        "Ce brouillon est en cours de transcription ; il pourra être publié une fois prêt, en relecture, "
        "validé ou déjà publié.")
    assert early.json()["reason"] == "not_publishable"


def test_say_why_publish_panel_cannot_publish_in_page_language(db):
    from review_ui import views
    from tests.support.dbfixtures import make_draft, make_memo, make_user

    with db.session() as session:
        memo = make_memo(session, make_user(session, "author"), status="awaiting_approval")
        make_draft(session, memo)
        assert views.publish_view(session, memo, "fr").refused == (
            "Ce brouillon est en attente de validation ; il pourra être publié une fois prêt, en relecture, "
            "validé ou déjà publié.")
        assert views.publish_view(session, memo).refused.startswith("This draft is awaiting sign-off;")
