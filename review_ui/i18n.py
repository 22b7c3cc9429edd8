"""English and French for the pages: one JSON catalogue per language, a `t(key)` for
templates, and the choice of language (the user's setting, else Accept-Language)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

from dictation.workflow.messages import DEFAULT_LANGUAGE, LANGUAGES, preferred_language  # noqa: F401 (LANGUAGES: for the pages)

LOCALE_DIR = Path(__file__).with_name("locale")


@functools.cache
def catalog(language: str) -> dict[str, str]:
    return json.loads((LOCALE_DIR / f"{language}.json").read_text("utf-8"))


def pick_language(user_language: str | None, accept_language: str | None) -> str:
    """The user's own setting first, then the browser's best supported language: the same
    rule the API uses for its messages, so a page and its toasts speak one language."""
    return preferred_language(user_language, accept_language)


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
