"""Slack's rate limits as the app knows them: each method's documented tier (or what the
settings say instead), and a plain token bucket for the app's own small limits."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

TIER_2 = (20.0, 5)
TIER_3 = (50.0, 10)
TIER_4 = (100.0, 20)


@dataclass(frozen=True, slots=True)
class Limit:
    per_minute: float
    burst: int
    per_channel: bool = False


DOCUMENTED: Mapping[str, Limit] = {
    "chat.startStream": Limit(*TIER_2),
    "chat.stopStream": Limit(*TIER_2),
    "chat.appendStream": Limit(*TIER_4),
    "chat.update": Limit(*TIER_3),
    "chat.delete": Limit(*TIER_3),
    "chat.postEphemeral": Limit(*TIER_4),
    "chat.getPermalink": Limit(*TIER_4),
    "users.info": Limit(*TIER_4),
    "users.list": Limit(*TIER_2),
    "conversations.replies": Limit(*TIER_3),
    "conversations.open": Limit(*TIER_3),
    "conversations.info": Limit(*TIER_3),
    "views.open": Limit(*TIER_4),
    "views.publish": Limit(*TIER_4),
    "views.update": Limit(*TIER_4),
    "assistant.threads.setTitle": Limit(*TIER_4),
    "assistant.threads.setSuggestedPrompts": Limit(*TIER_4),
    # "Special": about one message a second per channel, with short bursts.
    "chat.postMessage": Limit(60.0, 3, per_channel=True),
    # "Special" too, without a published figure. A status is shown only in its thread and
    # posts nothing to the channel, so it is assumed to allow twice posting's pace (two a
    # second per channel). Should Slack's be stricter, its 429 pauses the method for its
    # Retry-After and lowers the rate: a status comes late, nothing else suffers.
    "assistant.threads.setStatus": Limit(120.0, 5, per_channel=True),
}
"""Slack's documented limit of each method the app calls (Tier 2: 20 a minute, Tier 3:
50, Tier 4: 100, each with short bursts)."""

SAFETY = 0.9
"""The app keeps this share of each rate, so that clock drift never costs a 429. Bursts
are kept whole: a budget starts full when the app first uses it, as Slack's does, and
refills more slowly than Slack's, so it never holds more calls than Slack allows."""


def parse_limits(text: str) -> dict[str, Limit]:
    """``chat.update=25/4, chat.startStream=10``: per minute, optional burst. Raises
    ValueError naming the part it cannot read."""
    limits: dict[str, Limit] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        method, sep, value = part.partition("=")
        method = method.strip()
        rate, _, burst = value.strip().partition("/")
        try:
            per_minute = float(rate)
            bursts = int(burst) if burst else None
        except ValueError:
            raise ValueError(f"{part!r} is not method=per_minute[/burst]") from None
        if not sep or not method or per_minute <= 0 or (bursts is not None and bursts < 1):
            raise ValueError(f"{part!r} is not method=per_minute[/burst]")
        base = DOCUMENTED.get(method, Limit(per_minute, 1))
        limits[method] = Limit(per_minute, bursts or base.burst, base.per_channel)
    return limits


class TokenBucket:
    """``per_minute`` takes, ``burst`` at once; :meth:`try_take` never waits."""

    def __init__(
        self, per_minute: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_minute / 60.0
        self._capacity = float(max(1, burst))
        self._tokens = self._capacity
        self._clock = clock
        self._stamp = clock()

    def try_take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
