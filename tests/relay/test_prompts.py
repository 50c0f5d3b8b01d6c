"""Suggested prompts: one Amigo call for many people opening the DM at once, kept for the
expiry; the static prompts while Amigo cannot suggest, and Amigo asked again later."""

from __future__ import annotations

import asyncio
from typing import Any

from slackbot.amigo.errors import AmigoTransportError
from slackbot.relay.prompts import Prompts, PromptsConfig
from tests.relay.core import MemorySlack


class Starters:
    def __init__(self, answers: list[list[str] | Exception]) -> None:
        self.answers = answers
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def conversation_starters(self, as_user: str, **kwargs: Any) -> list[str]:
        self.calls += 1
        await self.gate.wait()
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


CONFIG = PromptsConfig("0" * 24, "release", ("billing",), "Be brief.", ("Static one",), 600.0)


def prompts(amigo: Starters, clock: Clock) -> tuple[Prompts, MemorySlack]:
    slack = MemorySlack()
    return Prompts(amigo, slack, CONFIG, as_user="u", clock=clock), slack  # type: ignore[arg-type]


async def test_many_opens_at_once_make_one_amigo_call_kept_until_expiry() -> None:
    amigo, clock = Starters([["A", "B", "C", "D", "E"], ["F"]]), Clock()
    p, _ = prompts(amigo, clock)
    amigo.gate.clear()
    opens = [asyncio.create_task(p.starters()) for _ in range(20)]
    await asyncio.sleep(0)
    amigo.gate.set()
    results = await asyncio.gather(*opens)
    assert amigo.calls == 1
    assert all(r == ["A", "B", "C", "D"] for r in results)  # Slack shows four at most
    clock.now += 599
    assert await p.starters() == ["A", "B", "C", "D"] and amigo.calls == 1
    clock.now += 2
    assert await p.starters() == ["F"] and amigo.calls == 2


async def test_amigo_failing_shows_the_static_prompts_and_is_asked_again_a_minute_later() -> None:
    amigo, clock = Starters([AmigoTransportError("down", request_sent=False), ["Fresh"]]), Clock()
    p, _ = prompts(amigo, clock)
    assert await p.starters() == ["Static one"]
    clock.now += 30
    assert await p.starters() == ["Static one"] and amigo.calls == 1
    clock.now += 31
    assert await p.starters() == ["Fresh"] and amigo.calls == 2


async def test_only_threads_of_the_dm_get_titles() -> None:
    amigo, clock = Starters([]), Clock()
    p, slack = prompts(amigo, clock)
    await p.title("C1", "1.0", "In a channel")
    await p.title("D1", "2.0", "  A   question\\nwith lines  ")
    assert slack.titles == [("2.0", "A question\\nwith lines")]
