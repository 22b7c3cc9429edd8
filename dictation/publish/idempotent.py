"""One draft, one remote post: the publish step the job calls, and its retries.

No CMS here has an idempotency key: a POST retried after a cut connection makes a second
post. So once an attempt may have reached the CMS ("ambiguous": a timeout, a reset, a 5xx
during create), the next attempt first looks for the post that attempt may have made
(`Publisher.find`: stored id, marker, slug) and updates it instead of creating again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from dictation.errors import PublishError
from dictation.publish.cms.base import Post, Publisher, RemotePost

log = logging.getLogger("dictation.publish")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # tries in all, the first included (settings.publish_max_attempts)
    base_delay_s: float = 2.0  # the first wait; doubles after each failure
    max_delay_s: float = 300.0  # no single wait is longer, however many failures


@dataclass
class PublishOutcome:
    remote: RemotePost
    attempts: int  # how many tries it took, 1 when the first one worked
    errors: list[str] = field(default_factory=list)  # the transient failures on the way


def publish_idempotently(
    publisher: Publisher,
    post: Post,
    known_remote_id: str | None = None,
    ambiguous_before: bool = False,
) -> RemotePost:
    """Update the post when its remote id is known; otherwise, when an earlier attempt may
    have created it, find it and update it; create only when there is nothing to find."""
    if known_remote_id:
        return publisher.update(known_remote_id, post)
    if ambiguous_before:
        found = publisher.find(post)
        if found is not None:
            log.info("draft %s: found the post an earlier attempt made (%s)", post.draft_id, found.remote_id)
            return publisher.update(found.remote_id, post)
    return publisher.create(post)


def backoff_delay(failures: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """Full jitter: a random wait up to the exponential ceiling, so many workers retrying
    the same CMS after an outage do not come back all at the same second."""
    ceiling = min(policy.max_delay_s, policy.base_delay_s * (2 ** max(failures - 1, 0)))
    return (rng or random).uniform(0, ceiling)


def with_retries(
    action: Callable[[int], T],
    policy: RetryPolicy = RetryPolicy(),
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    errors: list[str] | None = None,
) -> tuple[T, int]:
    """Call `action(attempt)` until it succeeds, retrying transient PublishErrors with
    backoff; returns (result, attempts). A permanent error, or the last one, is raised."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return action(attempt), attempt
        except PublishError as exc:
            if errors is not None:
                errors.append(exc.message)
            if not exc.transient or attempt >= policy.attempts:
                if exc.transient:
                    exc.message = f"{exc.message} (gave up after {attempt} attempts)"
                    exc.args = (exc.message,)
                raise
            delay = backoff_delay(attempt, policy, rng)
            log.info("attempt %d failed (%s); retrying in %.1f s", attempt, exc.message, delay)
            sleep(delay)


def publish_with_retries(
    publisher: Publisher,
    post: Post,
    known_remote_id: str | None = None,
    policy: RetryPolicy = RetryPolicy(),
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    ambiguous_before: bool = False,
) -> PublishOutcome:
    """`publish_idempotently`, retried; a transient failure makes later attempts look first."""
    state = {"ambiguous": ambiguous_before}
    errors: list[str] = []

    def attempt(_: int) -> RemotePost:
        try:
            return publish_idempotently(publisher, post, known_remote_id, state["ambiguous"])
        except PublishError as exc:
            if exc.transient:
                state["ambiguous"] = True  # it may have reached the CMS: never blindly create again
            raise

    remote, attempts = with_retries(attempt, policy, sleep=sleep, rng=rng, errors=errors)
    return PublishOutcome(remote=remote, attempts=attempts, errors=errors)
