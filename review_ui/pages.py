"""The pages: sign-in, worklist, editor, tokens, and the author's phone page. Each page is
rendered here from the tables; what a page changes goes through the JSON API from its
scripts, with the session cookie and the CSRF token this module puts in the page."""

from __future__ import annotations

import contextlib
from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field

from api.errors import error_response
from api.schemas import MAX_DRAFT_CHARS, Id, Input
from dictation import accounts
from dictation.memos import additions
from dictation.models import Memo, State, User
from dictation.publish import service as publishing
from dictation.publish.cms.render import MarkdownTooComplex
from dictation.workflow import messages
from review_ui import diff, views
from review_ui import worklist as worklist_model
from review_ui.context import (
    check_csrf,
    current_user,
    is_staff,
    language_for,
    render,
    to_login,
)
from review_ui.i18n import LANGUAGES
from review_ui.preview import PREVIEWS, post_meta, preview_html

router = APIRouter(include_in_schema=False)


def _database(request: Request):
    return request.app.state.database


def _error(request: Request, user, status: int, key: str) -> HTMLResponse:
    return render(request, "error.html", user, status_code=status, status=status, message_key=key)


def _safe_next(target: str | None) -> str:
    return accounts.safe_next(target) or "/"


@router.get("/")
def home(request: Request) -> Response:
    with _database(request).session() as session:
        user = current_user(request, session)
    if user is None:
        return to_login(request)
    return RedirectResponse("/worklist" if is_staff(user) else "/phone", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    with _database(request).session() as session:
        user = current_user(request, session)
        return render(request, "login.html", None, next=_safe_next(next), signed_in_as=user)


@router.get("/worklist")
def worklist_page(request: Request) -> Response:
    with _database(request).session() as session:
        user = current_user(request, session)
        if user is None:
            return to_login(request)
        if not is_staff(user):
            return RedirectResponse("/phone", status_code=303)
        wanted = worklist_model.WorklistFilter.from_query(request.query_params)
        work = worklist_model.load(session, user, wanted)
        response = render(request, "worklist.html", user, work=work, wanted=wanted, states=list(State),
                          sorts=worklist_model.SORTS)
        response.headers["X-Jobs-Running"] = "1" if work.running else "0"
        return response


def _memo_for(session, user: User, memo_id: int | None) -> Memo | None:
    """The memo if this user may see it (the API's own rule), else None."""
    memo = session.get(Memo, memo_id) if memo_id is not None else None
    return memo if memo is not None and accounts.can_see(user, memo) else None


@router.get("/memos/{memo_id}")
def editor_page(request: Request, memo_id: Id) -> Response:
    with _database(request).session() as session:
        user = current_user(request, session)
        if user is None:
            return to_login(request)
        memo = _memo_for(session, user, memo_id)
        if memo is None:
            return _error(request, user, 404, "error.not_found")
        if not is_staff(user):
            return RedirectResponse(f"/phone/memos/{memo_id}", status_code=303)
        view = views.editor_view(session, memo, user, language_for(request, user))
        settings = request.app.state.settings
        return render(request, "editor.html", user, view=view, memo=memo, draft=memo.draft,
                      rewind_seconds=settings.rewind_seconds,
                      publish=views.publish_view(session, memo, language_for(request, user)),
                      max_image_mb=settings.max_image_mb)


@router.get("/memos/{memo_id}/publications")
def publications_fragment(request: Request, memo_id: Id) -> Response:
    """Where the draft went and how it is going: the editor's publish panel asks for this
    while a publication moves, as the worklist asks for its rows."""
    with _database(request).session() as session:
        user = current_user(request, session)
        if user is None or not is_staff(user):
            return Response(status_code=401)
        memo = _memo_for(session, user, memo_id)
        if memo is None:
            return Response(status_code=404)
        return render(request, "_publications.html", user, memo=memo,
                      publish=views.publish_view(session, memo, language_for(request, user)))


@router.get("/memos/{memo_id}/diff")
def diff_fragment(request: Request, memo_id: Id, version: Id | None = None) -> Response:
    """Word by word: what the current text changed from one saved version (`version`), or from
    what the machine wrote (no version)."""
    from dictation.errors import NotFound
    from dictation.memos import revisions

    with _database(request).session() as session:
        user = current_user(request, session)
        memo = _memo_for(session, user, memo_id) if user else None
        if user is None or not is_staff(user):
            return Response(status_code=401)
        if memo is None or memo.draft is None:
            return Response(status_code=404)
        draft = memo.draft
        before = draft.machine_markdown
        if version is not None:
            try:
                before = revisions.revision(session, draft, version).body_markdown
            except NotFound:
                return Response(status_code=404)
        result = diff.word_diff(before, draft.body_markdown)
        return render(request, "_diff.html", user, result=result, version=version, current=draft.version)


class PreviewIn(Input):
    one_line = frozenset({"title"})

    title: str = Field("", max_length=300)
    body_markdown: str = Field("", max_length=MAX_DRAFT_CHARS)  # what a draft may hold, no more
    memo_id: Id | None = None
    # The post fields as typed; only those in `manual` count, the others follow the text.
    slug: str = Field("", max_length=200)
    excerpt: str = Field("", max_length=5_000)
    tags: list[Annotated[str, Field(max_length=100)]] = Field([], max_length=50)
    manual: list[Literal["slug", "excerpt", "tags"]] = Field([], max_length=3)


@router.post("/preview")
def preview(request: Request, body: PreviewIn) -> Response:
    with contextlib.ExitStack() as turn:
        with _database(request).session() as session:
            user = current_user(request, session)
            if user is None:
                return Response(status_code=401)
            if not check_csrf(request, request.headers.get("x-csrf-token")):
                return Response(status_code=403)
            ui_language = language_for(request, user)
            if not turn.enter_context(PREVIEWS.turn(user.id)):
                # One preview at a time per person: the editor asks again with its latest text.
                return error_response(429, "preview_busy", messages.say("preview_busy", ui_language),
                                      headers={"Retry-After": "1"}, detail={"reason": "preview_busy"})
            memo = _memo_for(session, user, body.memo_id)
            author = (memo.author.name or memo.author.email) if memo else ""
            language = (memo.transcript or {}).get("language", "en") if memo else "en"
            settings = request.app.state.settings
            meta = post_meta(settings, memo.draft if memo else None, body.title, body.body_markdown,
                             {"slug": body.slug, "excerpt": body.excerpt, "tags": body.tags}, body.manual)
        try:  # with the database connection given back: the rendering needs none
            page = preview_html(settings, body.title, body.body_markdown, author, language, meta=meta,
                                ui_language=ui_language)
        except MarkdownTooComplex as exc:
            reason = str(exc.detail["reason"])
            return error_response(422, exc.code, messages.say(reason, ui_language), detail={"reason": reason})
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/tokens")
def tokens_page(request: Request) -> Response:
    with _database(request).session() as session:
        user = current_user(request, session)
        if user is None:
            return to_login(request)
        tokens = [t for t in session.scalars(accounts.visible_tokens_query(user)) if t.user_id == user.id]
        settings = request.app.state.settings
        return render(request, "tokens.html", user, tokens=tokens, public_url=settings.public_url.rstrip("/"),
                      max_upload_mb=settings.max_upload_mb)


@router.get("/phone")
def phone_page(request: Request) -> Response:
    with _database(request).session() as session:
        user = current_user(request, session)
        if user is None:
            return to_login(request)
        memos, waiting = views.author_memos(session, user)
        return render(request, "phone.html", user, memos=memos, waiting=waiting, post_url=publishing.published_url,
                      max_upload_mb=request.app.state.settings.max_upload_mb)


@router.get("/phone/memos/{memo_id}")
def signoff_page(request: Request, memo_id: Id) -> Response:
    with _database(request).session() as session:
        user = current_user(request, session)
        if user is None:
            return to_login(request)
        memo = _memo_for(session, user, memo_id)
        if memo is None:
            return _error(request, user, 404, "error.not_found")
        draft = memo.draft
        post = None
        language = language_for(request, user)
        if draft is not None:
            try:
                post = preview_html(request.app.state.settings, draft.title, draft.body_markdown,
                                    memo.author.name or memo.author.email,
                                    (memo.transcript or {}).get("language", "en"), draft.tags)
            except MarkdownTooComplex as exc:  # the frame says why there is no post to read
                post = f"<p>{escape(messages.say(str(exc.detail['reason']), language))}</p>"
        changed = diff.since_answer(session, draft, user) if draft is not None else None
        return render(request, "signoff.html", user, memo=memo, draft=draft, post=post, changed=changed,
                      actions=views.actions_for(memo, draft, user, language),
                      add_refusal=additions.refusal(session, memo, user, language))


@router.post("/language")
def set_language(request: Request, language: str = Form(""), csrf_token: str = Form(""),
                 next: str = Form("/")) -> Response:
    """The user's UI language, kept on their account ("" = follow the browser)."""
    with _database(request).session() as session:
        user = current_user(request, session)
        if user is None:
            return to_login(request)
        if not check_csrf(request, csrf_token):
            return _error(request, user, 403, "error.csrf")
        user.language = language if language in LANGUAGES else None
    return RedirectResponse(_safe_next(next), status_code=303)
