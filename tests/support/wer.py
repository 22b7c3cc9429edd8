"""Word error rate the way the tests and the benchmark measure it, written once.

Both sides are normalised the same way so that punctuation, case and typographic
apostrophes (phones and Whisper disagree on ’ vs ') do not count as errors.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lowercase, unify apostrophes, turn punctuation into spaces, collapse spaces.

    Apostrophes and hyphens become spaces rather than vanishing, so "l'équipe" and
    "trade-offs" split the same way whether the model wrote them glued or not.
    """
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    kept = [
        " " if unicodedata.category(char)[0] in "PS" else char
        for char in text
    ]
    return _SPACES.sub(" ", "".join(kept)).strip()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER of `hypothesis` against `reference` after `normalise` (jiwer, a dev dependency)."""
    import jiwer

    reference, hypothesis = normalise(reference), normalise(hypothesis)
    if not reference:
        return 0.0 if not hypothesis else 1.0
    return jiwer.wer(reference, hypothesis or "")
