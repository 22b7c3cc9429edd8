"""A burst of reads on the real server (uvicorn, loopback) is answered, not stalled: every thread
of the pool waiting for a database connection held by requests waiting for a thread used to
freeze the app until the pool's 30 s timeout answered 503s (api/admission.py)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.api import make_person, make_ready_draft

BURST = 120  # requests at once: far more than the 40 threads and the 15 connections


def test_answer_burst_of_reads_without_pool_deadlock(api_app, api_server):
    ada, eve = make_person(api_app, "author"), make_person(api_app, "assistant")
    drafts = [make_ready_draft(api_app, ada) for _ in range(3)]

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=api_server, headers=eve.auth, timeout=60,
                                     limits=httpx.Limits(max_connections=BURST)) as client:
            paths = [f"/api/v1/drafts/{drafts[i % 3]}" if i % 2 else "/api/v1/worklist" for i in range(BURST)]
            answers = await asyncio.gather(*(client.get(path) for path in paths))
        return [answer.status_code for answer in answers]

    # On a thread of its own: sync Playwright, earlier in the same run, leaves a loop running here.
    with ThreadPoolExecutor(1) as pool:
        statuses = pool.submit(asyncio.run, burst()).result()
    assert statuses == [200] * BURST, {s: statuses.count(s) for s in set(statuses)}
