"""The whole application: the JSON API (api.app, the resumable upload endpoint included) plus
the pages and their static files. `dictation serve` runs `serve_app` as a uvicorn factory
(`web_app` in each of its processes when there are several)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dictation.settings import Settings
from review_ui import account, admin, admin_storage, mail_address, offline, pages, vocabulary, worklist_live
from review_ui.context import STATIC


def create_app(settings: Settings | None = None, *, worker: bool = False) -> FastAPI:
    from api.app import create_app as create_api

    app = create_api(settings, worker=worker)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(pages.router)
    app.include_router(offline.router)
    app.include_router(worklist_live.router)
    app.include_router(admin.router)
    app.include_router(vocabulary.router)
    app.include_router(admin_storage.router)
    app.include_router(account.router)
    app.include_router(mail_address.router)
    return app


def serve_app() -> FastAPI:
    """`dictation serve`: the whole app with its in-process worker, from the settings."""
    return create_app(worker=True)


def web_app() -> FastAPI:
    """One of `dictation serve`'s processes with DICTATION_WEB_PROCESSES over 1: the whole app
    without workers (the parent supervises those). Started afresh by uvicorn, so it sets up
    its own logging, as the parent did for itself."""
    from dictation.settings import get_settings
    from dictation.telemetry.logs import configure_logging

    configure_logging(get_settings())
    return create_app(worker=False)
