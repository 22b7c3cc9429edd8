"""The two catalogues: the same keys, every key the pages use, and the language choice."""

from __future__ import annotations

import re

import pytest

from review_ui import i18n
from tests.conftest import ROOT

UI = ROOT / "review_ui"


def used_keys() -> set[str]:
    keys = set()
    for template in (UI / "templates").glob("*.html"):
        # t('a.b') but not t('state.' ~ value): dynamic keys are checked below.
        keys |= set(re.findall(r"\bt\('([a-z_]+\.[a-z0-9_]+)'\s*[,)]", template.read_text()))
    for script in (UI / "static" / "js").glob("*.js"):
        keys |= set(re.findall(r"\bt\(\"([a-z_]+\.[a-z0-9_]+)\"", script.read_text()))
    return keys


def test_define_same_keys_in_english_and_french():
    assert set(i18n.catalog("en")) == set(i18n.catalog("fr"))


def test_define_every_key_the_pages_use():
    from dictation import workflow
    from dictation.models import Priority, Role, State

    dynamic = {f"state.{s.value}" for s in State} | {f"priority.{p.value}" for p in Priority}
    dynamic |= {f"role.{r.value}" for r in Role} | {f"action.{a}" for a in workflow.ACTIONS}
    keys = used_keys()
    assert len(keys) > 100
    missing = sorted((keys | dynamic) - set(i18n.catalog("en")))
    assert not missing


@pytest.mark.parametrize(
    ("own", "header", "expected"),
    [
        (None, "fr-CA,fr;q=0.9,en;q=0.5", "fr"),
        (None, "de-DE,de;q=0.9,fr;q=0.4", "fr"),
        (None, "en-GB,fr;q=0.9", "en"),
        (None, "de, it", "en"),
        (None, None, "en"),
        ("fr", "en-US", "fr"),
        ("en", "fr", "en"),
        (None, "fr;q=0, en;q=0.1", "en"),
    ],
)
def test_pick_language(own, header, expected):
    assert i18n.pick_language(own, header) == expected


def test_fill_values_and_fall_back_to_english():
    t = i18n.translator("fr")
    assert t("worklist.total", n=3) == "Affichés : 3"
    assert t("no.such.key") == "no.such.key"
    assert t("audit.unknown", default="unknown") == "unknown"
