"""What the live worklist costs the server: the desk polls /worklist/live every 0.7 s per open
page, answered 304 while `dictation.memos.worklist.stamp` has not moved.

    .venv/bin/python bench/worklist_live.py [--memos 2000] [--rounds 40]

The whole desk app in process (Starlette's TestClient, no network), SQLite in a temporary data
dir, `--memos` open memos with drafts. Printed, median of `--rounds` requests each:
- GET /healthz (baseline in the same run: framework, session, no worklist),
- GET /worklist/live with the current ETag (the 304 a quiet desk gets each poll),
- GET /worklist/live without it (the fragment sent after a change),
- GET /worklist (the whole page, what a reload costs);
and each as a multiple of the baseline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "correct horse battery"


def median_ms(client: TestClient, path: str, rounds: int, headers: dict | None = None, expect: int = 200) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = client.get(path, headers=headers or {})
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == expect, (path, answer.status_code)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memos", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()

    from dictation import accounts
    from dictation.models import Draft, Memo
    from dictation.settings import Settings
    from review_ui.app import create_app

    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(Settings(data_dir=Path(data_dir), workers=0), worker=False)
        now = dt.datetime.now(dt.UTC)
        with app.state.database.session() as session:
            author = accounts.create_user(session, "erin@example.com", "author", password=PASSWORD, name="Erin")
            accounts.create_user(session, "alice@example.com", "assistant", password=PASSWORD, name="Alice")
            for n in range(args.memos):
                memo = Memo(author_id=author.id, status="ready", title=f"Memo {n}", media_sha256=f"{n:064x}",
                            priority=("urgent", "high", "normal")[n % 3],
                            due_at=now + dt.timedelta(hours=n - args.memos // 2) if n % 2 else None)
                session.add(memo)
                session.flush()
                session.add(Draft(memo_id=memo.id, title=memo.title, body_markdown="Words.", machine_markdown="Words."))
        with TestClient(app) as client:
            signed = client.post("/api/v1/session", json={"email": "alice@example.com", "password": PASSWORD})
            assert signed.status_code == 200, signed.text
            tag = client.get("/worklist/live").headers["etag"]
            figures = {
                "GET /healthz (baseline)": median_ms(client, "/healthz", args.rounds),
                "GET /worklist/live, 304": median_ms(client, "/worklist/live", args.rounds,
                                                     {"If-None-Match": tag}, expect=304),
                "GET /worklist/live, 200": median_ms(client, "/worklist/live", args.rounds),
                "GET /worklist (page)": median_ms(client, "/worklist", args.rounds),
            }
        app.state.database.dispose()
    base = figures["GET /healthz (baseline)"]
    print(f"{args.memos} open memos, SQLite, median of {args.rounds} requests")
    for name, ms in figures.items():
        print(f"  {name:<28} {ms:8.1f} ms  {ms / base:6.1f}x baseline")


if __name__ == "__main__":
    main()
