"""Slack-style message timestamps for the fakes and the sender."""

from __future__ import annotations

import threading
import time


class TsClock:
    """Unique, increasing, epoch-based ``ts`` strings whose last digit is ``last_digit``.

    The fake Slack's end in 0 and the sender's in 5, so people's posts and bot
    replies never share a ts and still sort by time.
    """

    def __init__(self, last_digit: int) -> None:
        self._last_digit = last_digit
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            now = time.time_ns() // 1000
            candidate = max(now, self._last + 1)
            candidate += (self._last_digit - candidate) % 10
            self._last = candidate
        return f"{candidate // 1_000_000}.{candidate % 1_000_000:06d}"
