"""What waiting costs on this machine: CPU spent per thread-pool hop, per asyncio timer wake and per
short sleep, beside the cost of a call that does not wait (the baseline, same process).

    .venv/bin/python bench/machine.py

Why: on a VM every block-and-wake may exit to the hypervisor. The server pays these on every
hop of a sync endpoint to the thread pool, every idle turn of the event loop (a phone's upload
arrives in many small pieces) and every database round trip, so bench/load.py's figures depend on
them as much as on the app's own code.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool


def _cpu_us(call: Callable[[], object], count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - started) * 1e6 / count


async def _cpu_us_async(call: Callable[[], Awaitable[object]], count: int) -> float:
    for _ in range(min(50, count)):
        await call()
    started = time.process_time()
    for _ in range(count):
        await call()
    return (time.process_time() - started) * 1e6 / count


async def _measure() -> list[tuple[str, float]]:
    return [
        ("event loop turn, nothing waits (asyncio.sleep(0))", await _cpu_us_async(lambda: asyncio.sleep(0), 20_000)),
        ("hop to the thread pool and back (run_in_threadpool)",
         await _cpu_us_async(lambda: run_in_threadpool(lambda: None), 2_000)),
        ("asyncio timer wake after 10 ms (asyncio.sleep(0.01))", await _cpu_us_async(lambda: asyncio.sleep(0.01), 200)),
    ]


def main() -> int:
    print(f"# What waiting costs: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"python {sys.version.split()[0]}")
    rows = [("a call that does not wait (os.getpid)", _cpu_us(os.getpid, 200_000))]
    rows += asyncio.run(_measure())
    rows.append(("thread sleep of 1 ms (time.sleep(0.001))", _cpu_us(lambda: time.sleep(0.001), 500)))
    baseline = rows[0][1]
    print(f"{'what':<56} {'CPU µs':>9} {'× baseline':>11}")
    for label, micros in rows:
        print(f"{label:<56} {micros:>9.2f} {micros / baseline:>11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
