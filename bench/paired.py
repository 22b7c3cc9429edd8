"""Paired load benchmark: this checkout against another, both servers up at once.

    git worktree add /tmp/base <commit>
    .venv/bin/python bench/paired.py --base /tmp/base [--postgres] [--seconds 30] [--rounds 4]

Why: this machine's speed drifts by 2-3x within minutes, so alternated runs of bench/load.py
differed more between runs of the same code than between two versions. Here both versions' apps
run side by side (2 processes each, each on its own database of 10,000 drafts), and each round
sends each of them half of bench/load.py's load at the same time (25 uploaders, 100 reads a
second), so both meet the same moments of the machine. Printed per round and as medians:
worklist and draft p50/p95/p99, uploads, errors, server CPU a request. The base's own
bench/server.py starts its server, so each app runs its own checkout's code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np

HERE = Path(__file__).resolve().parent


def _load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="a checkout of the code to compare against")
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL (default: SQLite)")
    parser.add_argument("--seconds", type=float, default=30.0, help="each round's length")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--drafts", type=int, default=10_000)
    options = parser.parse_args()
    load = _load_module(HERE / "load.py", "load_this")
    sides = {"base": _load_module(options.base.resolve() / "bench" / "load.py", "load_base"), "this": load}
    # One process imports one `dictation`: this checkout's seeds both databases (so the two must
    # share a schema); each server still runs its own checkout's code, in its own directory.
    sys.path[:] = [entry for entry in sys.path if Path(entry).resolve() != options.base.resolve()]
    # Half of bench/load.py's load for each side: together, the load it specifies.
    args = argparse.Namespace(seconds=options.seconds, uploaders=25, rate=100.0, drafts=options.drafts,
                              upload_seconds=load.UPLOAD_SECONDS, uplink_kbps=load.UPLINK_KBPS)
    results: dict[str, list[tuple[float, float, float]]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory(prefix="dictation-paired-") as tmp, contextlib.ExitStack() as stack:
        work, servers, tokens = Path(tmp), {}, {}
        for side, module in sides.items():
            url = stack.enter_context(load.pg_database()) if options.postgres else None
            if options.postgres and url is None:
                print(f"PostgreSQL does not answer at {load.base.PG_URL}")
                return 2
            settings = load.base.Settings(data_dir=work / side, database_url=url)
            tokens[side] = load.base.prepare_users(settings)
            load.seed(settings, options.drafts, url)
            env = {"dictation_database_url": url} if url else {}
            servers[side] = stack.enter_context(
                module.base.app_server("api.app:create_app", work / side, work / f"{side}.log", 2, **env))
        print(f"# paired, {'PostgreSQL' if options.postgres else 'SQLite'}: {options.base} against {HERE.parent}")
        for round_ in range(options.rounds):
            args.upload_seconds = load.UPLOAD_SECONDS + 0.01 * round_  # new recordings each round, not duplicates
            tallies = {side: (load.Tally(), load.Tally()) for side in sides}
            before = {side: servers[side][1].cpu_seconds() for side in sides}
            gc.collect()

            async def both() -> None:
                await asyncio.gather(*(load.load(servers[side][0], tokens[side], args, *tallies[side])  # noqa: B023
                                       for side in sides))

            asyncio.run(both())
            for side in sides:
                tally = tallies[side][0]
                worklist, draft = tally.times.get("worklist", []), tally.times.get("draft", [])
                uploads, errors = len(tally.times.get("upload", [])), sum(map(len, tally.errors.values()))
                answered = max(1, len(worklist) + len(draft) + uploads)
                cpu_ms = (servers[side][1].cpu_seconds() - before[side]) * 1000 / answered
                print(f"round {round_ + 1} {side:<4}  worklist {load.percentiles(worklist)}  draft "
                      f"{load.percentiles(draft)}  uploads {uploads}  errors {errors}  "
                      f"server CPU {cpu_ms:.2f} ms a request")
                if worklist and draft:
                    results[side].append((float(np.percentile(worklist, 95)), float(np.percentile(draft, 95)), cpu_ms))
    for side, rows in results.items():
        if rows:
            worklist_p95, draft_p95, cpu_ms = np.median(np.array(rows), axis=0)
            print(f"{side:<4} medians: worklist p95 {worklist_p95:.1f} ms, draft p95 {draft_p95:.1f} ms, "
                  f"server CPU {cpu_ms:.2f} ms a request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
