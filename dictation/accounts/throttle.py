"""The sign-in throttle: slows password guessing without letting anyone lock an account.

Failures are counted per (e-mail address, client address) pair, so someone guessing from
their own machine slows only themselves: the account's owner, signing in from elsewhere, is
never held up. A second, larger budget per client address slows one machine spraying many
e-mail addresses. Past the free attempts each further failure doubles the wait (backoff),
up to a cap, instead of a fixed lock-out.

Kept in memory, so it counts per server process; a few processes multiply the budget by a
few, which still turns millions of guesses into dozens.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from dictation.errors import TooManyAttempts


@dataclass(frozen=True)
class ThrottleOptions:
    # Failed sign-ins for one (e-mail, client) pair before any wait: typos are free.
    free_per_pair: int = 5
    # Failed sign-ins from one client address, over every e-mail, before any wait.
    free_per_client: int = 30
    # The first wait after the free attempts; it doubles with each further failure.
    first_wait_s: float = 30.0
    # The longest wait one more failure can cost.
    max_wait_s: float = 900.0
    # A key with no failure for this long is forgotten (its count starts again).
    forget_after_s: float = 3600.0
    # Above this many keys, forgotten ones are pruned so a spray cannot grow memory forever.
    max_keys: int = 100_000


@dataclass
class _Record:
    failures: int
    last_failure: float


class SignInThrottle:
    def __init__(self, options: ThrottleOptions | None = None, clock=None) -> None:
        self.options = options or ThrottleOptions()
        self._clock = clock or time.monotonic
        self._records: dict[tuple[str, ...], _Record] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(email: str, client: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return ("pair", email.strip().lower(), client), ("client", client)

    def _wait_s(self, record: _Record | None, free: int, now: float) -> float:
        if record is None or record.failures < free:
            return 0.0
        opts = self.options
        wait = min(opts.max_wait_s, opts.first_wait_s * 2 ** (record.failures - free))
        return max(0.0, record.last_failure + wait - now)

    def _live(self, key: tuple[str, ...], now: float) -> _Record | None:
        record = self._records.get(key)
        if record is not None and now - record.last_failure > self.options.forget_after_s:
            del self._records[key]
            return None
        return record

    def check(self, email: str, client: str) -> None:
        """Raise TooManyAttempts (429 with Retry-After) while this pair or client must wait."""
        now = self._clock()
        pair, per_client = self._keys(email, client)
        with self._lock:
            wait = max(
                self._wait_s(self._live(pair, now), self.options.free_per_pair, now),
                self._wait_s(self._live(per_client, now), self.options.free_per_client, now),
            )
        if wait > 0:
            seconds = math.ceil(wait)
            when = f"{seconds} second(s)" if seconds < 120 else f"{math.ceil(seconds / 60)} minute(s)"
            raise TooManyAttempts(
                f"Too many failed sign-ins from here; try again in {when}.",
                retry_after_s=seconds, headers={"Retry-After": str(seconds)},
            )

    def failed(self, email: str, client: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._records) >= self.options.max_keys:
                self._prune(now)
            for key in self._keys(email, client):
                record = self._live(key, now)
                if record is None:
                    self._records[key] = _Record(1, now)
                else:
                    record.failures += 1
                    record.last_failure = now

    def succeeded(self, email: str, client: str) -> None:
        """The right password clears the pair; the client's spray budget is left as it was."""
        pair, _ = self._keys(email, client)
        with self._lock:
            self._records.pop(pair, None)

    def _prune(self, now: float) -> None:
        stale = [k for k, r in self._records.items() if now - r.last_failure > self.options.forget_after_s]
        for key in stale:
            del self._records[key]
        if len(self._records) >= self.options.max_keys:
            # Still full (a spray from very many addresses): the oldest half goes first.
            oldest = sorted(self._records, key=lambda k: self._records[k].last_failure)
            for key in oldest[: len(oldest) // 2]:
                del self._records[key]
