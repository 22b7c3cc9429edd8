"""English and French for the pages: one JSON catalogue per language, a `t(key)` for
templates, and the choice of language (the user's setting, else Accept-Language)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"


@functools.cache
def catalog(language: str) -> dict[str, str]:
    return json.loads((LOCALE_DIR / f"{language}.json").read_text("utf-8"))


def _accepted(header: str) -> list[tuple[float, str]]:
    """`fr-CA,fr;q=0.9,en;q=0.5` -> [(1.0, 'fr'), (0.9, 'fr'), (0.5, 'en')], best first."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            # Earlier entries win ties, as browsers list them by preference.
            ranked.append((quality, -position, tag.split("-")[0].lower()))
    ranked.sort(reverse=True)
    return [(q, lang) for q, _, lang in ranked]


def pick_language(user_language: str | None, accept_language: str | None) -> str:
    """The user's own setting first, then the browser's best supported language."""
    if user_language in LANGUAGES:
        return user_language
    for quality, language in _accepted(accept_language or ""):
        if quality > 0 and language in LANGUAGES:
            return language
    return DEFAULT_LANGUAGE


def translator(language: str) -> Callable[..., str]:
    """`t("worklist.title")`, `t("upload.percent", n=40)`; a missing key shows itself, in
    English if the language lacks it, so a gap is visible but never breaks a page."""
    own, fallback = catalog(language), catalog(DEFAULT_LANGUAGE)

    def t(key: str, default: str | None = None, **values: object) -> str:
        text = own.get(key) or fallback.get(key) or default or key
        return text.format(**values) if values else text

    return t


def js_strings(language: str) -> dict[str, str]:
    """The whole catalogue for the scripts of a page (a few kB): one set of keys for both."""
    return {**catalog(DEFAULT_LANGUAGE), **catalog(language)}
