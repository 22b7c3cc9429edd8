"""Every error the API answers with, as `{"error": code, "message": sentence, ...detail}`.

Written once here: routers raise `dictation.errors` classes and never build error bodies.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from dictation.db import unavailable
from dictation.errors import DISK_FULL_MESSAGE, DictationError, StorageFull, is_disk_full
from dictation.workflow import messages

log = logging.getLogger(__name__)
# Handled by ExceptionMiddleware (inside the app) rather than only by the last-resort handler.
_PASSING_FAULTS: tuple[type[Exception], ...] = (sa_exc.OperationalError, sa_exc.InterfaceError,
                                                 sa_exc.TimeoutError, sa_exc.DisconnectionError, OSError,
                                                 StorageFull)
# What a passing fault means for the person, in each language of the desk.
_FAULT_SENTENCES = {
    "database_unavailable": {
        "en": "The database is not answering for a moment. Please try again in a few seconds.",
        "fr": "La base de données ne répond pas pour le moment. Réessayez dans quelques secondes.",
    },
    "storage_full": {
        "en": DISK_FULL_MESSAGE,
        "fr": "Le disque du serveur est plein : rien n’a été gardé de cet enregistrement ; "
              "renvoyez-le quand un administrateur aura libéré de la place.",
    },
}

_HTTP_CODES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("not_authenticated", "Please sign in or send an API token."),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This address does not accept that method."),
    413: ("too_large", "The request is too large."),
    415: ("unsupported_media_type", "This kind of content is not accepted here."),
}


class ErrorOut(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(extra="allow")

    error: str  # a stable code for programs, e.g. "stale_version"
    message: str  # a sentence for people


def error_response(
    http_status: int, code: str, message: str, headers: dict | None = None, detail: dict | None = None
) -> JSONResponse:
    # Detail goes first: a detail key can never replace the code or the sentence.
    body = {**(detail or {}), "error": code, "message": message}
    return JSONResponse(body, status_code=http_status, headers=headers)


def errors_doc(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses=` entries for the errors a route may answer with."""
    return {status: {"model": ErrorOut, "description": _describe(status)} for status in statuses}


def _describe(status: int) -> str:
    return {
        401: "No credentials, or they are not valid (revoked token, expired session).",
        403: "Not allowed for this role, or a form without its CSRF token.",
        404: "No such item, or not yours to see.",
        409: "Refused in the current state; the message says why.",
        412: "The draft changed since you read it; the body holds the current version.",
        413: "The upload is over DICTATION_MAX_UPLOAD_MB.",
        415: "The file is not audio.",
        507: "The server's disk is full; nothing was kept. Send it again later.",
        422: "A field is missing or malformed.",
        428: "The request must carry If-Match with the draft's ETag.",
        429: "Too many failed sign-ins; the message says when to try again.",
        503: "Not ready: the database, the queue or the model is unavailable.",
    }.get(status, "Error.")


def _validation_sentence(exc: RequestValidationError) -> tuple[str, list[dict]]:
    problems = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path", "header")]
        field = ".".join(loc) or "request"
        problems.append({"field": field, "problem": err.get("msg", "is not valid")})
    if not problems:
        return "The request is not valid.", problems
    first = problems[0]
    more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
    return f"The field '{first['field']}' is not valid: {first['problem']}{more}.", problems


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DictationError)
    async def _dictation_error(request: Request, exc: DictationError) -> JSONResponse:
        if exc.status >= 500:
            log.warning("%s %s -> %s: %s", request.method, request.url.path, exc.status, exc.message)
        headers = {"WWW-Authenticate": 'Bearer realm="dictation"'} if exc.status == 401 else None
        # `detail` may carry an extra header (ETag of the current draft on 412).
        detail = dict(exc.detail)
        extra_headers = detail.pop("headers", None)
        if isinstance(extra_headers, dict) and extra_headers:
            headers = {**(headers or {}), **extra_headers}
        return error_response(exc.status, exc.code, _in_callers_language(request, exc, detail), headers=headers,
                              detail=detail)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, problems = _validation_sentence(exc)
        return error_response(422, "invalid", message, detail={"problems": problems})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, default = _HTTP_CODES.get(exc.status_code, ("error", "The request failed."))
        message = (
            exc.detail
            if isinstance(exc.detail, str) and exc.detail not in ("Not Found", "Method Not Allowed")
            else default
        )
        return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Also reached from middleware outside the routers, hence the checks here too.
        passing = passing_fault(request, exc)
        if passing is not None:
            return passing
        log.exception("%s %s failed", request.method, request.url.path)
        return error_response(500, "internal", "Something went wrong on the server; it has been logged.")

    async def _passing(request: Request, exc: Exception) -> JSONResponse:
        answer = passing_fault(request, exc)
        if answer is None:
            raise exc  # not a passing fault: the last-resort handler above logs it
        return answer

    for passing_class in _PASSING_FAULTS:
        app.add_exception_handler(passing_class, _passing)


def _in_callers_language(request: Request, exc: DictationError, detail: dict) -> str:
    """A refusal that carries a reason id (`dictation.workflow.messages`), said in the caller's
    language: their own setting, else Accept-Language, else English. Said here, once, so no
    door shows a French prefix before an English sentence; the others keep their words."""
    reason = detail.get("reason")
    if not isinstance(reason, str) or reason not in messages.TEMPLATES[messages.DEFAULT_LANGUAGE]:
        return exc.message
    language = messages.preferred_language(getattr(request.state, "user_language", None),
                                           request.headers.get("accept-language"))
    return messages.say(reason, language, **{k: v for k, v in detail.items() if k != "reason"})


def passing_fault(request: Request, exc: BaseException) -> JSONResponse | None:
    """A database that is restarting or a full disk: a sentence and a status a client can act
    on (retry later), not a 500 with a traceback."""
    # The person may not be known (the database is away): their setting if it was read, else
    # Accept-Language.
    language = messages.preferred_language(getattr(request.state, "user_language", None),
                                           request.headers.get("accept-language"))
    if unavailable(exc):
        log.warning("%s %s -> 503: the database is unavailable (%s)", request.method, request.url.path,
                    type(exc).__name__)
        return error_response(503, "database_unavailable", _FAULT_SENTENCES["database_unavailable"][language],
                              headers={"Retry-After": "5"})
    if isinstance(exc, StorageFull) or is_disk_full(exc):
        log.error("%s %s -> 507: the disk is full", request.method, request.url.path)
        return error_response(507, "storage_full", _FAULT_SENTENCES["storage_full"][language])
    return None
