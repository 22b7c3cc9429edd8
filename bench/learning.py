"""Does the desk learn? Memos full of names and jargon (espeak-ng), transcribed and composed
before any correction, then again after the corrections of the first memos were published and
every proposal accepted — on memos the desk has not seen. Prints WER and the term error rate
(the share of the listed terms not written right) before and after, and their ratios.

The learning runs the real parts: memos and drafts in a SQLite database, the published text
mined by dictation.learning (as the publish job does), proposals accepted through the service,
and each unseen memo transcribed with `terms_for` its author (prompt + hotwords) and composed
with the accepted substitutions. The assistant's published text is the memo's script.

    .venv/bin/python bench/learning.py [--model base] [--learn 4] [--unseen 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="base")
    parser.add_argument("--learn", type=int, default=4, help="memos whose corrections are learned")
    parser.add_argument("--unseen", type=int, default=4, help="memos measured before and after")
    args = parser.parse_args()

    from dictation import accounts
    from dictation.compose import ComposeOptions, compose
    from dictation.db import Database
    from dictation.learning import service as learning
    from dictation.models import Draft, Memo
    from dictation.schema import metadata
    from dictation.settings import Settings
    from dictation.transcribe import TranscribeOptions, transcribe
    from tests.support.jargon import have_espeak, memo_texts, speak, term_hits
    from tests.support.wer import word_error_rate

    if not have_espeak():
        sys.exit("espeak-ng is not installed (apt-get install espeak-ng; make system-deps installs it).")
    work = Path(tempfile.mkdtemp(prefix="learning-bench-"))
    settings = Settings(data_dir=work / "data", language="en", model=args.model)
    database = Database(settings)
    metadata.create_all(database.engine)
    texts = memo_texts(args.learn + args.unseen)
    audio = [speak(text, work / f"memo{k}.wav") for k, text in enumerate(texts)]

    def run(path: Path, vocabulary=(), substitutions=()) -> str:
        options = TranscribeOptions.from_settings(settings, vocabulary=tuple(vocabulary))
        return compose(transcribe(path, options), ComposeOptions(substitutions=tuple(substitutions))).body_markdown

    started = time.perf_counter()
    with database.session() as session:
        author = accounts.create_user(session, "ceo@example.test", "author", name="CEO")
        assistant = accounts.create_user(session, "pa@example.test", "assistant", name="PA")
        author_id = author.id
    for k in range(args.learn):  # the first memos: transcribed, corrected, published, mined
        options = TranscribeOptions.from_settings(settings)
        transcript = transcribe(audio[k], options)
        with database.session() as session:
            memo = Memo(author_id=author_id, status="published", media_sha256=f"{k:064d}", language="en",
                        transcript=transcript.to_dict())
            session.add(memo)
            session.flush()
            draft = Draft(memo_id=memo.id, title=f"Memo {k}", body_markdown=texts[k],
                          machine_markdown=compose(transcript).body_markdown)
            session.add(draft)
            session.flush()
            learning.mine(session, draft, texts[k])
    with database.session() as session:
        proposals = learning.proposals(session, "en")
        for proposal in proposals:  # the assistant accepts every proposal, for everyone
            learning.decide(session, session.get_one(type(assistant), assistant.id), proposal.heard,
                            proposal.written, proposal.language, accept=True)
        terms = learning.terms_for(session, author_id, "en")
    print(f"learned from {args.learn} memos: {len(proposals)} proposals accepted; "
          f"prompt terms: {', '.join(terms.vocabulary)}")

    rows = []
    for k in range(args.learn, args.learn + args.unseen):
        before = run(audio[k])
        after = run(audio[k], terms.vocabulary, terms.substitutions)
        rows.append((texts[k], before, after))
        print(f"memo {k}: before: {before}\n        after:  {after}")
    wer_before = sum(word_error_rate(ref, b) for ref, b, _ in rows) / len(rows)
    wer_after = sum(word_error_rate(ref, a) for ref, _, a in rows) / len(rows)
    said = sum(term_hits(ref, b)[0] for ref, b, _ in rows)
    ter_before = 1 - sum(term_hits(ref, b)[1] for ref, b, _ in rows) / said
    ter_after = 1 - sum(term_hits(ref, a)[1] for ref, _, a in rows) / said
    print(f"\nmodel {args.model}, {args.unseen} unseen memos ({said} terms said), "
          f"{time.perf_counter() - started:.0f} s in all")
    print("| measure | before learning | after | after ÷ before |")
    print("|---|---|---|---|")
    print(f"| WER | {wer_before:.1%} | {wer_after:.1%} | {wer_after / wer_before:.2f} |")
    print(f"| term error rate | {ter_before:.1%} | {ter_after:.1%} | "
          f"{(ter_after / ter_before) if ter_before else float('nan'):.2f} |")
    database.dispose()


if __name__ == "__main__":
    main()
