"""Word diffs are bounded in work (the editor's Changes panel and the author's sign-off page run
one per request): counted in difflib's longest-match steps, never timed."""

from __future__ import annotations

import difflib
import random
from bisect import bisect_left

import pytest

from review_ui import diff


def _sides(result: diff.DiffSummary) -> tuple[str, str]:
    before = "".join(p.text for p in result.pieces if p.op != "added")
    after = "".join(p.text for p in result.pieces if p.op != "removed")
    return before, after


def _changed(result: diff.DiffSummary, op: str) -> list[str]:
    return [p.text for p in result.pieces if p.op == op]


def _draft(seed: int, characters: int, paragraphs: bool = True) -> str:
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(3000)]
    weights = [1 / (i + 1) for i in range(3000)]
    common = ["the", "a", "and", "to", "of", "we", "it", "is", "that", "in"]
    out: list[str] = []
    while sum(map(len, out)) < characters:
        words = [rng.choice(common) if rng.random() < 0.35 else rng.choices(vocabulary, weights)[0]
                 for _ in range(rng.randint(6, 20))]
        out.append(" ".join(words).capitalize() + ".")
        out.append("\n\n" if paragraphs and rng.random() < 0.12 else " ")
    return "".join(out).strip()


@pytest.fixture
def steps(monkeypatch):
    """difflib's longest-match loop walks, counted apart from diff's own count: per position of
    a, one step and each position of b (before bhi) holding the same item."""
    walked = [0]
    original = difflib.SequenceMatcher.find_longest_match

    def counting(self, alo=0, ahi=None, blo=0, bhi=None):
        ahi = len(self.a) if ahi is None else ahi
        bhi = len(self.b) if bhi is None else bhi
        walked[0] += sum(1 + bisect_left(self.b2j.get(self.a[i], []), bhi) for i in range(alo, ahi))
        return original(self, alo, ahi, blo, bhi)

    monkeypatch.setattr(difflib.SequenceMatcher, "find_longest_match", counting)
    return walked


def test_word_changes_in_an_ordinary_draft():
    result = diff.word_diff("the cat sat <here>\n\nthanks everyone", "the dog sat <here>\n\nthanks all")
    assert [(p.op, p.text) for p in result.pieces] == [
        ("same", "the "), ("removed", "cat"), ("added", "dog"), ("same", " sat <here>\n\nthanks "),
        ("removed", "everyone"), ("added", "all")]
    assert (result.added, result.removed, result.whole) == (2, 2, 0)


def test_word_changes_in_a_long_transcript_stay_word_by_word(steps):
    for paragraphs in (True, False):  # a transcript may be one paragraph of 127,000 characters
        before = _draft(2, 127_000, paragraphs)
        words = before.split(" ")
        rng = random.Random(5)
        edited = sorted(rng.sample(range(len(words)), 50))
        for i in edited:
            words[i] = f"edited{i}"
        after = " ".join(words)
        steps[0] = 0
        result = diff.word_diff(before, after)
        assert _sides(result) == (before, after)
        assert result.whole == 0 and steps[0] <= result.steps <= diff.MAX_STEPS
        assert [t.strip(".\n") for t in _changed(result, "added")] == [f"edited{i}" for i in edited]
        assert (result.added, result.removed) == (50, 50)


@pytest.mark.parametrize("before, after", [
    (_draft(1, 10_000), ("a " * 5000)[:10_000]),  # 62 s of CPU before
    (("a " * 5000)[:10_000], _draft(1, 10_000)),
    ("a\n\n" * 100_000, "b\n\n" * 100_000),  # many alike lines
    (". ".join("ab"[i % 3 == 0] for i in range(100_000)), ". ".join("ab"[i % 2] for i in range(100_000))),
    (" ".join(f"w{i}" for i in range(25_000)), " ".join(f"x{i}" if i % 2 else f"w{i}" for i in range(25_000))),
    ("\n".join(f"w{i} v" for i in range(30_000)), "\n".join(f"x{i}" if i % 2 else f"w{i} v" for i in range(30_000))),
])
def test_pathological_pairs_take_bounded_work_and_still_mark_the_change(steps, before, after):
    result = diff.word_diff(before, after)
    assert steps[0] <= result.steps <= diff.MAX_STEPS
    assert _sides(result) == (before, after)
    assert result.added and result.removed and _changed(result, "added") and _changed(result, "removed")


def test_a_pair_past_the_budget_is_shown_whole_less_its_common_ends(steps):
    words = _draft(7, 1_200, paragraphs=False).split(" ")
    edited = [f"edited{i}" if i % 10 == 5 else word for i, word in enumerate(words)]
    before = "Intro stays.\n\n" + " ".join(words) + " end\n\nOutro stays."
    after = "Intro stays.\n\n" + " ".join(edited) + " end\n\nOutro stays."
    result = diff.word_diff(before, after, max_steps=1_000)
    assert steps[0] <= result.steps <= 1_000 and result.whole == 1
    assert [p.op for p in result.pieces] == ["same", "removed", "added", "same"]
    assert result.pieces[0].text.startswith("Intro stays.") and result.pieces[-1].text.endswith(" end\n\nOutro stays.")
    assert _sides(result) == (before, after)
    exact = diff.word_diff(before, after)  # within the usual budget: word by word
    assert exact.whole == 0 and _sides(exact) == (before, after)
    assert _changed(exact, "added") == [w for w in edited if w.startswith("edited")]


def test_a_pair_too_large_for_words_is_shown_whole_without_comparing():
    before, after = " ".join(["a"] * 3000), " ".join(["b"] * 3000)  # one sentence, 6,000 tokens a side
    result = diff.word_diff(before, after)
    assert (result.steps, result.whole, result.added, result.removed) == (0, 1, 3000, 3000)
