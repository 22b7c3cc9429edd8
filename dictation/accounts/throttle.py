"""The sign-in throttle."""

from __future__ import annotations

import collections
import threading
import time

from dictation.errors import TooManyAttempts


class SignInThrottle:
    """Slows password guessing: after `limit` failed sign-ins for one address, or from one
    client, within `window_s`, further attempts are refused until the oldest failure ages out.

    Kept in memory, so it counts per server process; a few processes multiply the limit by a
    few, which still turns millions of guesses into dozens.
    """

    def __init__(self, limit: int = 5, window_s: float = 900.0, clock=None) -> None:
        self.limit, self.window_s = limit, window_s
        self._clock = clock or time.monotonic
        self._failures: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float):
        failures = self._failures[key]
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures

    def check(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                failures = self._recent(key, now)
                if len(failures) >= self.limit:
                    wait = int(failures[0] + self.window_s - now) + 1
                    raise TooManyAttempts(
                        f"Too many failed sign-ins; try again in {max(1, wait // 60)} minute(s).",
                        retry_after_s=wait, headers={"Retry-After": str(wait)},
                    )

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
