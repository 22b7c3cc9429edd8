"""Drafts over HTTP: ETag and If-Match, revisions, transitions, comments and the worklist."""

from __future__ import annotations

import datetime as dt
import threading

import httpx

from dictation.models import Draft, State
from tests.support.api import MACHINE, make_person, make_ready_draft

API = "/api/v1"


def test_get_draft_has_etag_and_allowed_actions(client, api_app):
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    draft_id = make_ready_draft(api_app, ada)
    answer = client.get(f"{API}/drafts/{draft_id}", headers=eve.auth)
    assert answer.status_code == 200 and answer.headers["etag"] == '"1"'
    body = answer.json()
    assert body["version"] == 1 and body["status"] == "ready" and body["machine_markdown"] == MACHINE
    assert "claim" in body["actions"] and "approve" not in body["actions"]
    assert body["paragraphs"][0]["end"] == 2.1
    again = client.get(f"{API}/drafts/{draft_id}", headers={"If-None-Match": '"1"', **eve.auth})
    assert again.status_code == 304


def test_patch_without_if_match_gets_428(client, api_app):
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    draft_id = make_ready_draft(api_app, ada)
    answer = client.patch(f"{API}/drafts/{draft_id}", json={"title": "New"}, headers=eve.auth)
    assert answer.status_code == 428 and answer.json()["error"] == "precondition_required"
    assert "If-Match" in answer.json()["message"]
    malformed = client.patch(f"{API}/drafts/{draft_id}", json={"title": "New"}, headers={"If-Match": "*", **eve.auth})
    assert malformed.status_code == 428


def test_patch_saves_new_version_and_folds_one_persons_burst(client, api_app):
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    draft_id = make_ready_draft(api_app, ada)
    first = client.patch(f"{API}/drafts/{draft_id}", json={"title": "We ship Friday", "tags": ["news"]},
                         headers={"If-Match": '"1"', **eve.auth})
    assert first.status_code == 200 and first.headers["etag"] == '"2"'
    second = client.patch(f"{API}/drafts/{draft_id}", json={"body_markdown": "We ship on Friday."},
                          headers={"If-Match": first.headers["etag"], **eve.auth})
    body = second.json()
    assert (body["version"], body["title"], body["tags"], body["body_markdown"]) == (
        3,
        "We ship Friday",
        ["news"],
        "We ship on Friday.",
    )
    assert body["machine_markdown"] == MACHINE  # the machine's transcript is never overwritten
    revisions = client.get(f"{API}/drafts/{draft_id}/revisions", headers=eve.auth).json()
    # Eve's two saves in a row are one editing burst (DICTATION_REVISION_BURST_MINUTES): one
    # revision holding the latest text; tests/test_revisions.py has the rule's edges.
    assert [r["version"] for r in revisions] == [3, 1]
    assert revisions[1]["body_markdown"] == MACHINE and revisions[1]["saved_by"] is None
    assert (revisions[0]["title"], revisions[0]["body_markdown"]) == ("We ship Friday", "We ship on Friday.")
    assert revisions[0]["saved_by"]["id"] == eve.id


def test_patch_refuses_machine_fields_and_nulls(client, api_app):
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    draft_id = make_ready_draft(api_app, ada)
    headers = {"If-Match": '"1"', **eve.auth}
    assert client.patch(f"{API}/drafts/{draft_id}", json={"machine_markdown": "x"}, headers=headers).status_code == 422
    nulled = client.patch(f"{API}/drafts/{draft_id}", json={"title": None}, headers=headers)
    assert nulled.status_code == 422 and "'title'" in nulled.json()["message"]
    bad_slug = client.patch(f"{API}/drafts/{draft_id}", json={"slug": "Not A Slug"}, headers=headers)
    assert bad_slug.status_code == 422 and bad_slug.json()["message"].startswith("The field 'slug' is not valid")


def test_stale_if_match_gets_412_with_current_draft(client, api_app):
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    draft_id = make_ready_draft(api_app, ada)
    client.patch(f"{API}/drafts/{draft_id}", json={"title": "Theirs"}, headers={"If-Match": '"1"', **eve.auth})
    stale = client.patch(f"{API}/drafts/{draft_id}", json={"title": "Mine"}, headers={"If-Match": '"1"', **eve.auth})
    assert stale.status_code == 412 and stale.headers["etag"] == '"2"'
    body = stale.json()
    assert body["error"] == "stale_version" and "now version 2" in body["message"]
    assert body["current"]["title"] == "Theirs" and body["current"]["version"] == 2


def test_two_writers_same_if_match_one_wins_nothing_lost(api_server, api_app, monkeypatch):
    from dictation.memos import drafts

    ada, eve, sam = (make_person(api_app, r) for r in ("author", "assistant", "assistant"))
    draft_id = make_ready_draft(api_app, ada)
    barrier = threading.Barrier(2)
    # Both requests have read version 1 before either writes: the conditional UPDATE decides.
    inside = threading.Barrier(2)
    checked = drafts.check_may_edit

    def both_read_first(user, draft):
        inside.wait(20)
        checked(user, draft)

    monkeypatch.setattr(drafts, "check_may_edit", both_read_first)
    answers = {}

    def save(person, title):
        with httpx.Client(base_url=api_server, timeout=60) as http:
            barrier.wait()
            answers[title] = http.patch(f"{API}/drafts/{draft_id}", json={"title": title},
                                        headers={"If-Match": '"1"', **person.auth})

    threads = [threading.Thread(target=save, args=a) for a in ((eve, "Eve's title"), (sam, "Sam's title"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = sorted(a.status_code for a in answers.values())
    assert codes == [200, 412], {k: (v.status_code, v.text) for k, v in answers.items()}
    winner = next(t for t, a in answers.items() if a.status_code == 200)
    loser = next(a for a in answers.values() if a.status_code == 412)
    assert loser.json()["current"]["title"] == winner  # the loser sees the winner's text to merge
    with httpx.Client(base_url=api_server) as http:
        revisions = http.get(f"{API}/drafts/{draft_id}/revisions", headers=eve.auth).json()
    assert [(r["version"], r["title"]) for r in revisions][0] == (2, winner)
    assert len(revisions) == 2


def test_author_cannot_edit_and_others_claim_locks_edits(client, api_app):
    ada, eve, sam = (make_person(api_app, r) for r in ("author", "assistant", "assistant"))
    draft_id = make_ready_draft(api_app, ada)
    refused = client.patch(f"{API}/drafts/{draft_id}", json={"title": "x"}, headers={"If-Match": '"1"', **ada.auth})
    assert refused.status_code == 403
    claimed = client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "claim"}, headers=eve.auth)
    assert claimed.status_code == 200 and claimed.json()["to_state"] == "in_review"
    locked = client.patch(f"{API}/drafts/{draft_id}", json={"title": "x"}, headers={"If-Match": '"1"', **sam.auth})
    assert locked.status_code == 409 and "has claimed this draft" in locked.json()["message"]


def test_refused_transition_gets_409_saying_why(client, api_app):
    ada, eve, sam = (make_person(api_app, r) for r in ("author", "assistant", "assistant"))
    draft_id = make_ready_draft(api_app, ada)
    early = client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "approve"}, headers=ada.auth)
    assert (
        early.status_code == 409 and early.json()["message"] == "A memo that is ready for review cannot be signed off."
    )
    client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "claim"}, headers=eve.auth)
    taken = client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "claim"}, headers=sam.auth)
    assert taken.status_code == 409 and "has claimed this draft" in taken.json()["message"]
    sent = client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "submit_for_approval"}, headers=eve.auth)
    assert (
        sent.json()["to_state"] == "awaiting_approval"
        and "approve" in client.get(f"{API}/drafts/{draft_id}", headers=ada.auth).json()["actions"]
    )
    silent = client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "request_changes"}, headers=ada.auth)
    assert silent.status_code == 409 and "reason is required" in silent.json()["message"]
    asked = client.post(f"{API}/drafts/{draft_id}/transitions",
                        json={"action": "request_changes", "comment": "Mention the date."}, headers=ada.auth)
    assert asked.status_code == 200 and asked.json()["to_state"] == "changes_requested"
    comments = client.get(f"{API}/drafts/{draft_id}/comments", headers=eve.auth).json()
    assert [c["body"] for c in comments] == ["Mention the date."]
    unknown = client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "publish"}, headers=eve.auth)
    assert unknown.status_code == 422


def test_comments_are_kept_in_order_and_private(client, api_app):
    ada, bob, eve = (make_person(api_app, r) for r in ("author", "author", "assistant"))
    draft_id = make_ready_draft(api_app, ada)
    for person, text in ((eve, "Is Friday firm?"), (ada, "Yes.")):
        made = client.post(f"{API}/drafts/{draft_id}/comments", json={"body": text}, headers=person.auth)
        assert made.status_code == 201
    listed = client.get(f"{API}/drafts/{draft_id}/comments", headers=ada.auth).json()
    assert [(c["author"]["id"], c["body"]) for c in listed] == [(eve.id, "Is Friday firm?"), (ada.id, "Yes.")]
    assert client.get(f"{API}/drafts/{draft_id}/comments", headers=bob.auth).status_code == 404
    assert client.get(f"{API}/drafts/{draft_id}", headers=bob.auth).status_code == 404
    assert client.post(f"{API}/drafts/{draft_id}/comments", json={"body": "  "}, headers=eve.auth).status_code == 422


def test_worklist_orders_overdue_then_priority_then_due_date(client, api_app):
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    now = dt.datetime.now(dt.UTC)
    made = {
        "normal-later": make_ready_draft(api_app, ada, priority="normal", due_at=now + dt.timedelta(days=2)),
        "urgent-no-date": make_ready_draft(api_app, ada, priority="urgent"),
        "normal-overdue": make_ready_draft(api_app, ada, priority="normal", due_at=now - dt.timedelta(hours=1)),
        "high-soon": make_ready_draft(api_app, ada, priority="high", due_at=now + dt.timedelta(days=1)),
        "urgent-soon": make_ready_draft(api_app, ada, priority="urgent", due_at=now + dt.timedelta(hours=3)),
        "published": make_ready_draft(api_app, ada, priority="urgent", status="published"),
    }
    with api_app.state.database.session() as session:
        memo_of = {name: session.get(Draft, d).memo_id for name, d in made.items()}
    answer = client.get(f"{API}/worklist", headers=eve.auth).json()
    order = [next(n for n, m in memo_of.items() if m == item["memo"]["id"]) for item in answer["items"]]
    assert order == ["normal-overdue", "urgent-soon", "urgent-no-date", "high-soon", "normal-later"]
    assert answer["items"][0]["overdue"] and not answer["items"][1]["overdue"]
    assert answer["counts"]["ready"] == 5 and answer["counts"]["published"] == 1 and answer["counts"]["failed"] == 0
    only = client.get(f"{API}/worklist?state=published", headers=eve.auth).json()
    assert [i["memo"]["id"] for i in only["items"]] == [memo_of["published"]]


def test_worklist_mine_and_authors_see_their_own(client, api_app):
    ada, bob, eve = (make_person(api_app, r) for r in ("author", "author", "assistant"))
    ours, theirs = make_ready_draft(api_app, ada), make_ready_draft(api_app, bob)
    client.post(f"{API}/drafts/{ours}/transitions", json={"action": "claim"}, headers=eve.auth)
    mine = client.get(f"{API}/worklist?mine=true", headers=eve.auth).json()["items"]
    assert [i["assignee"]["id"] for i in mine] == [eve.id] and mine[0]["memo"]["status"] == State.in_review
    bobs = client.get(f"{API}/worklist", headers=bob.auth).json()
    assert [i["memo"]["draft_id"] for i in bobs["items"]] == [theirs]
    assert sum(bobs["counts"].values()) == 1


def test_admin_reassigns_claimed_draft(client, api_app):
    ada, eve, sam, admin = (make_person(api_app, r) for r in ("author", "assistant", "assistant", "admin"))
    draft_id = make_ready_draft(api_app, ada)
    client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "claim"}, headers=eve.auth)
    refused = client.post(
        f"{API}/drafts/{draft_id}/transitions", json={"action": "reassign", "to_user_id": sam.id}, headers=sam.auth
    )
    assert refused.status_code == 409 and refused.json()["message"] == "Only an admin can reassign a draft."
    nobody = client.post(f"{API}/drafts/{draft_id}/transitions", json={"action": "reassign"}, headers=admin.auth)
    assert nobody.status_code == 422
    moved = client.post(
        f"{API}/drafts/{draft_id}/transitions", json={"action": "reassign", "to_user_id": sam.id}, headers=admin.auth
    )
    assert moved.status_code == 200 and moved.json()["draft"]["assignee"]["id"] == sam.id
    saved = client.patch(f"{API}/drafts/{draft_id}", json={"title": "Sam's"}, headers={"If-Match": '"1"', **sam.auth})
    assert saved.status_code == 200
