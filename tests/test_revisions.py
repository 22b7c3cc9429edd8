"""Revisions people can use, over HTTP (SQLite and PostgreSQL): one person's autosaves in a
burst are one revision, while another person's save, a workflow step or a pause starts a new
one; any version can be restored (a new version, If-Match respected, in the history) by those
who may edit; and the author's phone page learns what changed since they answered."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from dictation.models import AuditEntry, Draft, DraftRevision, User
from review_ui import diff
from tests.support.api import MACHINE, make_person, make_ready_draft

API = "/api/v1"


def _save(client, person, draft_id, version, **fields):
    return client.patch(f"{API}/drafts/{draft_id}", json=fields, headers={"If-Match": f'"{version}"', **person.auth})


def _act(client, person, draft_id, action, comment=None):
    body = {"action": action} | ({"comment": comment} if comment else {})
    return client.post(f"{API}/drafts/{draft_id}/transitions", json=body, headers=person.auth)


def _restore(client, person, draft_id, version, if_match):
    headers = {"If-Match": f'"{if_match}"'} if if_match is not None else {}
    return client.post(f"{API}/drafts/{draft_id}/revisions/{version}/restore", headers={**headers, **person.auth})


def _listed(client, person, draft_id):
    return [(r["version"], r["body_markdown"]) for r in
            client.get(f"{API}/drafts/{draft_id}/revisions", headers=person.auth).json()]


def test_fold_autosaves_until_someone_else_or_workflow_step(client, api_app):
    author, alice, admin = (make_person(api_app, role) for role in ("author", "assistant", "admin"))
    draft_id = make_ready_draft(api_app, author)
    for version, text in enumerate(("We", "We ship", "We ship Friday."), start=1):
        saved = _save(client, alice, draft_id, version, body_markdown=text)
        assert saved.status_code == 200 and saved.headers["etag"] == f'"{version + 1}"'  # the ETag still moves
    assert _listed(client, alice, draft_id) == [(4, "We ship Friday."), (1, MACHINE)]
    # Someone else's save is a revision of its own, and Alice's next one starts a new burst.
    assert _save(client, admin, draft_id, 4, body_markdown="We ship on Friday.").status_code == 200
    assert _save(client, alice, draft_id, 5, body_markdown="We ship on Friday!").status_code == 200
    assert [v for v, _ in _listed(client, alice, draft_id)] == [6, 5, 4, 1]
    # A workflow step between two saves keeps the version it was taken on (what the author reads).
    assert _act(client, alice, draft_id, "claim").status_code == 200
    assert _save(client, alice, draft_id, 6, body_markdown="We ship on Friday 4th!").status_code == 200
    assert [v for v, _ in _listed(client, alice, draft_id)] == [7, 6, 5, 4, 1]
    # A pause longer than the burst starts a new revision too.
    with api_app.state.database.session() as session:
        session.execute(update(DraftRevision).where(DraftRevision.draft_id == draft_id, DraftRevision.version == 7)
                        .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6)))
    assert _save(client, alice, draft_id, 7, body_markdown="We ship on Friday the 4th!").status_code == 200
    assert [v for v, _ in _listed(client, alice, draft_id)] == [8, 7, 6, 5, 4, 1]


def test_restore_revision_as_new_version_with_if_match(client, api_app):
    author, alice = make_person(api_app, "author"), make_person(api_app, "assistant")
    draft_id = make_ready_draft(api_app, author)
    assert _act(client, alice, draft_id, "claim").status_code == 200
    assert _save(client, alice, draft_id, 1, title="Friday", body_markdown="We ship Friday.").status_code == 200

    assert _restore(client, alice, draft_id, 1, None).status_code == 428
    stale = _restore(client, alice, draft_id, 1, 1)
    assert stale.status_code == 412 and stale.json()["current"]["version"] == 2  # nothing overwritten
    assert _restore(client, alice, draft_id, 9, 2).status_code == 404
    assert _restore(client, alice, draft_id, 2, 2).status_code == 422  # it is the current text
    restored = _restore(client, alice, draft_id, 1, 2)
    assert restored.status_code == 200 and restored.headers["etag"] == '"3"'
    assert restored.json()["body_markdown"] == MACHINE and restored.json()["title"].startswith("Memo ")
    # Version 2 is still there to go back to, and the history says what happened.
    assert _listed(client, alice, draft_id) == [(3, MACHINE), (2, "We ship Friday."), (1, MACHINE)]
    with api_app.state.database.session() as session:
        memo_id = session.get_one(Draft, draft_id).memo_id
        entry = session.scalars(select(AuditEntry).where(AuditEntry.memo_id == memo_id)
                                .order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.detail) == ("restore_revision", "version 1 restored as version 3")


def test_restore_revision_only_by_who_may_edit(client, api_app):
    author, alice, bob, admin = (make_person(api_app, role) for role in ("author", "assistant", "assistant", "admin"))
    draft_id = make_ready_draft(api_app, author)
    assert _act(client, alice, draft_id, "claim").status_code == 200
    assert _save(client, alice, draft_id, 1, body_markdown="We ship Friday.").status_code == 200
    assert _restore(client, author, draft_id, 1, 2).status_code == 403
    assert _restore(client, make_person(api_app, "author"), draft_id, 1, 2).status_code == 404
    claimed = _restore(client, bob, draft_id, 1, 2)
    assert claimed.status_code == 409 and "has claimed this draft" in claimed.json()["message"]
    assert _act(client, alice, draft_id, "submit_for_approval").status_code == 200
    frozen = _restore(client, admin, draft_id, 1, 2)
    assert frozen.status_code == 409 and frozen.json()["message"].startswith("This draft is awaiting sign-off")
    assert _act(client, alice, draft_id, "withdraw").status_code == 200
    assert _restore(client, admin, draft_id, 1, 2).status_code == 200


def test_show_author_what_changed_since_their_answer(client, api_app):
    author, alice = make_person(api_app, "author"), make_person(api_app, "assistant")
    draft_id = make_ready_draft(api_app, author)
    assert _act(client, alice, draft_id, "claim").status_code == 200
    assert _act(client, alice, draft_id, "submit_for_approval").status_code == 200  # the machine's text, v1
    assert _act(client, author, draft_id, "request_changes", "Say which Friday.").status_code == 200
    assert _save(client, alice, draft_id, 1, title="Friday the 4th", body_markdown=MACHINE + " on the 4th").is_success
    with api_app.state.database.session() as session:
        draft, user = session.get_one(Draft, draft_id), session.get_one(User, author.id)
        asked = diff.since_answer(session, draft, user)
        assert asked is not None and (asked.version, asked.signed) == (1, False)
        assert asked.title_before is not None and asked.title_before.startswith("Memo ")
        assert [(p.op, p.text) for p in asked.body.pieces if p.op != "same"] == [("added", " on the 4th")]
        assert diff.since_answer(session, draft, session.get_one(User, alice.id)) is None  # she never answered
    assert _act(client, alice, draft_id, "submit_for_approval").status_code == 200
    assert _act(client, author, draft_id, "approve").status_code == 200
    assert _save(client, alice, draft_id, 2, body_markdown=MACHINE.replace("friday", "monday")).is_success
    with api_app.state.database.session() as session:
        draft, user = session.get_one(Draft, draft_id), session.get_one(User, author.id)
        signed = diff.since_answer(session, draft, user)
        assert signed is not None and (signed.version, signed.signed, signed.title_before) == (2, True, None)
        assert (signed.body.added, signed.body.removed) == (1, 4)  # monday in; friday on the 4th out
