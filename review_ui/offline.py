"""The phone page as an installable app that opens without a network: its service worker,
its web app manifest and the offline shell the worker keeps.

The worker is scoped to /phone. It keeps only what holds no memo: the shell (the phone page
without the memo lists and without a CSRF token; the scripts fetch one when they send) and
the versioned scripts and style sheet. API answers and every other page go to the network
untouched, so nothing another person could read is kept. Its cache is named after a hash of
what it holds, so a release installs a new worker and the old cache is dropped.
"""

from __future__ import annotations

import hashlib
import json
import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from review_ui import i18n
from review_ui.context import HERE, STATIC, current_user, language_for, render, static_url, templates, to_login

router = APIRouter(include_in_schema=False)

WORKER_PATH = "/phone-sw.js"  # at the root: the page registers it with the narrower scope /phone
SCOPE = "/phone"
SHELL_PATH = "/phone/shell"
MANIFEST_PATH = "/phone/manifest.webmanifest"
CACHE_PREFIX = "phone-shell-"  # common.js drops these caches at sign-out
ICONS = (("icons/phone-192.png", "192x192", "image/png"), ("icons/phone-512.png", "512x512", "image/png"),
         ("icons/phone.svg", "any", "image/svg+xml"))
# The files whose change must reach phones: a new hash makes a new worker and a new cache.
_SOURCES = ("templates/phone.html", "templates/base.html", "templates/phone-sw.js", "offline.py")


_IMPORT = re.compile(r"""^import\s[^;]*?from\s+["']\./([\w.-]+\.js)["']""", re.M)


def phone_scripts() -> list[str]:
    """phone.js and every module it imports, read from the scripts themselves, so a new import
    is kept for offline use without anyone remembering to list it here."""
    seen, todo = set(), ["common.js", "phone.js"]  # common.js: base.html loads it on every page
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_IMPORT.findall((STATIC / "js" / name).read_text("utf-8")))
    return sorted(seen)


def shell_assets() -> list[str]:
    """What the shell loads, at the versioned addresses the page itself uses."""
    return [static_url("css/desk.css"), *(static_url(f"js/{name}") for name in phone_scripts())]


def cache_version(assets: list[str]) -> str:
    digest = hashlib.sha256(json.dumps(assets).encode())
    for name in _SOURCES:
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()[:16]


@router.get(WORKER_PATH)
def service_worker(request: Request) -> Response:
    assets = shell_assets()
    body = templates.get_template("phone-sw.js").render(
        cache=CACHE_PREFIX + cache_version(assets), cache_prefix=CACHE_PREFIX, assets=assets,
        shell=SHELL_PATH, scope=SCOPE,
    )
    # no-cache: a phone asks for the worker again on each visit, so a release is never stuck.
    return Response(body, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get(SHELL_PATH)
def phone_shell(request: Request) -> Response:
    """The phone page with no memo in it and no CSRF token: what the worker keeps."""
    with request.app.state.database.session() as session:
        user = current_user(request, session)
        if user is None:
            return to_login(request)
        return render(request, "phone.html", user, with_csrf=False, memos=[], waiting=[], shell=True,
                      post_url=lambda _: None, max_upload_mb=request.app.state.settings.max_upload_mb)


@router.get(MANIFEST_PATH)
def manifest(request: Request) -> Response:
    """Public (browsers fetch manifests without cookies): names and icons only."""
    t = i18n.translator(language_for(request, None))
    body = {
        "name": "Dictation Desk",
        "short_name": t("phone.app_short_name"),
        "description": t("phone.app_description"),
        "lang": language_for(request, None),
        "start_url": SCOPE,
        "scope": SCOPE,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#f5b942",
        "icons": [{"src": static_url(path), "sizes": sizes, "type": kind} for path, sizes, kind in ICONS],
    }
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/manifest+json",
                    headers={"Vary": "Accept-Language"})
