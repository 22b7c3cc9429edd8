"""Sign-off binds, over HTTP, as the author, the claiming assistant, another assistant and an
admin (on SQLite and on PostgreSQL): the text is frozen while awaiting sign-off, the author
signs a version, exactly that version is published, and an edit after sign-off sends the
draft back to review."""

from __future__ import annotations

from sqlalchemy import select

from dictation import jobs
from dictation.models import AuditEntry, Draft, Job, Publication
from dictation.publish import service as publishing
from tests.support.api import make_person, make_ready_draft

API = "/api/v1"


def _act(client, person, draft_id, action, comment=None, **headers):
    body = {"action": action} | ({"comment": comment} if comment else {})
    return client.post(f"{API}/drafts/{draft_id}/transitions", json=body, headers={**person.auth, **headers})


def _save(client, person, draft_id, version, **fields):
    return client.patch(f"{API}/drafts/{draft_id}", json=fields, headers={"If-Match": f'"{version}"', **person.auth})


def _awaiting_signoff(client, api_app):
    """An author's draft, claimed and edited by an assistant (version 2), sent for sign-off."""
    author, assistant = make_person(api_app, "author"), make_person(api_app, "assistant")
    draft_id = make_ready_draft(api_app, author)
    assert _act(client, assistant, draft_id, "claim").status_code == 200
    saved = _save(client, assistant, draft_id, 1, title="We ship Friday", body_markdown="We ship on Friday.")
    assert saved.status_code == 200
    assert _act(client, assistant, draft_id, "submit_for_approval").status_code == 200
    return author, assistant, draft_id


def _draft(api_app, draft_id) -> Draft:
    with api_app.state.database.session() as session:
        draft = session.get_one(Draft, draft_id)
        session.expunge(draft)
        return draft


def _audit(api_app, draft_id) -> list[tuple[str, str | None, str]]:
    with api_app.state.database.session() as session:
        memo_id = session.get_one(Draft, draft_id).memo_id
        rows = session.scalars(select(AuditEntry).where(AuditEntry.memo_id == memo_id).order_by(AuditEntry.id))
        return [(e.action, e.from_state, e.to_state) for e in rows]


def test_save_draft_awaiting_signoff_refused_in_users_language(client, api_app):
    author, assistant, draft_id = _awaiting_signoff(client, api_app)
    admin = make_person(api_app, "admin")
    refused = _save(client, assistant, draft_id, 2, body_markdown="We ship on Monday.")
    assert refused.status_code == 409
    assert refused.json()["message"].startswith("This draft is awaiting sign-off, so its text cannot change")
    french = client.patch(f"{API}/drafts/{draft_id}", json={"title": "Lundi"},
                          headers={"If-Match": '"2"', "Accept-Language": "fr-FR,fr;q=0.9", **assistant.auth})
    assert french.status_code == 409 and french.json()["message"].startswith("Ce brouillon attend une validation")
    assert _save(client, admin, draft_id, 2, title="Admin too").status_code == 409  # frozen for everyone
    assert _save(client, author, draft_id, 2, title="Mine").status_code == 403  # authors sign, never edit
    draft = _draft(api_app, draft_id)
    assert (draft.version, draft.title, draft.body_markdown) == (2, "We ship Friday", "We ship on Friday.")


def test_withdraw_signoff_request_only_by_claiming_assistant_or_admin(client, api_app):
    author, assistant, draft_id = _awaiting_signoff(client, api_app)
    other, admin = make_person(api_app, "assistant"), make_person(api_app, "admin")
    shown = client.get(f"{API}/drafts/{draft_id}", headers=assistant.auth).json()
    assert "withdraw" in shown["actions"]
    assert "withdraw" not in client.get(f"{API}/drafts/{draft_id}", headers=author.auth).json()["actions"]
    by_author = _act(client, author, draft_id, "withdraw")
    assert by_author.status_code == 409 and by_author.json()["reason"] == "wrong_role"
    by_other = _act(client, other, draft_id, "withdraw")
    assert by_other.status_code == 409 and "has claimed this draft" in by_other.json()["message"]
    withdrawn = _act(client, assistant, draft_id, "withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["to_state"] == "in_review"
    assert _save(client, assistant, draft_id, 2, body_markdown="We ship on Monday.").status_code == 200
    # An admin may take a request back from under someone else's claim.
    assert _act(client, assistant, draft_id, "submit_for_approval").status_code == 200
    assert _act(client, admin, draft_id, "withdraw").status_code == 200
    assert _audit(api_app, draft_id)[-1] == ("withdraw", "awaiting_approval", "in_review")


def test_approve_binds_version_and_edit_after_sends_back_to_review(client, api_app):
    author, assistant, draft_id = _awaiting_signoff(client, api_app)
    other = make_person(api_app, "assistant")
    assert _act(client, other, draft_id, "approve").json()["reason"] == "wrong_role"
    signed = _act(client, author, draft_id, "approve", **{"If-Match": '"2"'})
    assert signed.status_code == 200 and signed.json()["to_state"] == "approved"
    assert _draft(api_app, draft_id).approved_version == 2

    edited = _save(client, assistant, draft_id, 2, body_markdown="We ship on Monday.")
    assert edited.status_code == 200 and edited.json()["status"] == "in_review"
    assert "submit_for_approval" in edited.json()["actions"]
    assert _draft(api_app, draft_id).approved_version is None
    assert _audit(api_app, draft_id)[-1] == ("edited_after_signoff", "approved", "in_review")
    # The author was asked: nothing unsigned goes out, whoever asks.
    for person in (assistant, make_person(api_app, "admin")):
        refused = client.post(f"{API}/drafts/{draft_id}/publish", json={}, headers=person.auth)
        assert refused.status_code == 409 and refused.json()["reason"] == "signoff_needed"


def test_approve_read_version_refused_after_withdraw_and_edit(client, api_app):
    author, assistant, draft_id = _awaiting_signoff(client, api_app)
    # The author opened version 2; meanwhile the assistant withdrew, edited, and asked again.
    assert _act(client, assistant, draft_id, "withdraw").status_code == 200
    assert _save(client, assistant, draft_id, 2, body_markdown="We ship on Monday.").status_code == 200
    assert _act(client, assistant, draft_id, "submit_for_approval").status_code == 200
    stale = _act(client, author, draft_id, "approve", **{"If-Match": '"2"', "Accept-Language": "fr"})
    assert stale.status_code == 409 and stale.json()["reason"] == "signoff_version_changed"
    assert "version 3" in stale.json()["message"] and stale.json()["message"].startswith("Le brouillon a changé")
    assert _draft(api_app, draft_id).approved_version is None
    assert _act(client, author, draft_id, "approve", **{"If-Match": '"3"'}).status_code == 200
    assert _draft(api_app, draft_id).approved_version == 3


def test_admin_signs_off_and_request_changes_needs_author_or_admin(client, api_app):
    author, assistant, draft_id = _awaiting_signoff(client, api_app)
    other_author = make_person(api_app, "author")
    assert client.get(f"{API}/drafts/{draft_id}", headers=other_author.auth).status_code == 404
    assert _act(client, assistant, draft_id, "request_changes", "no").json()["reason"] == "wrong_role"
    admin = make_person(api_app, "admin")
    assert _act(client, admin, draft_id, "approve").status_code == 200
    assert _draft(api_app, draft_id).approved_version == 2


def test_publish_sends_exactly_signed_version(client, api_app):
    author, assistant, draft_id = _awaiting_signoff(client, api_app)
    assert _act(client, author, draft_id, "approve", **{"If-Match": '"2"'}).status_code == 200
    other = make_person(api_app, "assistant")
    assert client.post(f"{API}/drafts/{draft_id}/publish", json={}, headers=other.auth).status_code == 409
    queued = client.post(f"{API}/drafts/{draft_id}/publish", json={}, headers=assistant.auth)
    assert queued.status_code == 202, queued.text
    # While the signed text waits to go out, nobody edits it.
    assert _save(client, assistant, draft_id, 2, body_markdown="Sneaky").status_code == 409
    with api_app.state.database.session() as session:
        # A write that went around the rules (a script, an old client): the signature still holds.
        session.get_one(Draft, draft_id).body_markdown = "Text nobody signed."
        session.get_one(Draft, draft_id).version = 3
        job_id = session.scalar(select(Job.id).where(Job.kind == publishing.PUBLISH))
    assert jobs.run_job(job_id, api_app.state.settings, jobs.make_queue(api_app.state.settings)) == "done"
    post = client.get("/blog/we-ship-friday/")
    assert post.status_code == 200 and "We ship on Friday." in post.text and "nobody signed" not in post.text
    with api_app.state.database.session() as session:
        assert session.scalar(select(Publication.published_version).where(Publication.draft_id == draft_id)) == 2


def test_send_for_signoff_again_after_changes_requested_by_holder_only(client, api_app):
    author, assistant, draft_id = _awaiting_signoff(client, api_app)
    asked = _act(client, author, draft_id, "request_changes", "Say which Friday.")
    assert asked.json()["to_state"] == "changes_requested"
    assert _save(client, assistant, draft_id, 2, body_markdown="We ship on Friday the 4th.").status_code == 200
    other = make_person(api_app, "assistant")
    assert "has claimed this draft" in _act(client, other, draft_id, "submit_for_approval").json()["message"]
    shown = client.get(f"{API}/drafts/{draft_id}", headers=assistant.auth).json()
    assert "submit_for_approval" in shown["actions"]  # no need to claim a draft one already holds
    again = _act(client, assistant, draft_id, "submit_for_approval")
    assert again.status_code == 200 and again.json()["to_state"] == "awaiting_approval"
    assert _act(client, author, draft_id, "approve", **{"If-Match": '"3"'}).status_code == 200
