"""Memos full of names and jargon, spoken by espeak-ng (Debian's `espeak-ng`): what the desk
has to learn. Made-up products and real-sounding surnames are misheard by Whisper the way a
colleague's name is; each memo uses several terms, in sentences an executive would say.
Shared by tests/test_learning_model.py and bench/learning.py."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

# Names and jargon Whisper base does not know (checked: each is misheard without a prompt).
TERMS = ("Kowalczyk", "Okonkwo", "Quorvex", "Zentrix", "Daskalakis", "Vexaro", "Szczepanski",
         "Oyelaran", "Thalassor", "Pribyl", "Marquezine", "Lumetra")

_SENTENCES = (
    "This morning I met {a} about the {b} launch.",
    "Please ask {a} to send the {b} figures before Friday.",
    "The {a} dashboard is still slower than the {b} one.",
    "We agreed that {a} will lead the review with {b}.",
    "Our customers keep asking whether {a} works with {b}.",
    "I want a short note on {a} for the board, and one on {b} too.",
    "Tell {a} that the budget for {b} is approved.",
    "The team from {a} will visit us next week to discuss {b}.",
)


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


def memo_texts(count: int, seed: int = 12) -> list[str]:
    """`count` memos of five sentences, every term used about equally often."""
    rng = random.Random(seed)
    pool: list[str] = []
    texts = []
    for _ in range(count):
        sentences = []
        for template in rng.sample(_SENTENCES, 5):
            if len(pool) < 2:
                pool.extend(rng.sample(TERMS, len(TERMS)))
            a, b = pool.pop(), pool.pop()
            if a == b:
                b = next(t for t in TERMS if t != a)
            sentences.append(template.format(a=a, b=b))
        texts.append(" ".join(sentences))
    return texts


def speak(text: str, path: Path, voice: str = "en-us", words_per_minute: int = 150) -> Path:
    """`text` spoken into a 22 kHz mono WAV at `path`."""
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
                   check=True, capture_output=True, timeout=120)
    return path


def term_hits(reference: str, hypothesis: str) -> tuple[int, int]:
    """(terms said, terms written right): each term counted as often as the reference has it."""
    from tests.support.wer import normalise

    said, heard = normalise(reference).split(), normalise(hypothesis).split()
    total = right = 0
    for term in TERMS:
        wanted = said.count(term.lower())
        total += wanted
        right += min(wanted, heard.count(term.lower()))
    return total, right
