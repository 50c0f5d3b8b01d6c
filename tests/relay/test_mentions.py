"""Naming the people a message mentions: bounded lookups, each workspace within its own."""

from __future__ import annotations

from slackbot.relay import workspace
from slackbot.relay.mentions import Names
from slackbot.relay.ports import Profile, SlackRefused
from tests.relay.core import MemorySlack


def mentions(prefix: str, count: int) -> str:
    return " ".join(f"<@U{prefix}{i:03d}>" for i in range(count))


async def test_a_workspace_that_spends_its_lookups_leaves_anothers_untouched() -> None:
    slack = MemorySlack()
    now = [0.0]
    names = Names(slack, per_message=5, per_minute=5, clock=lambda: now[0])

    with workspace.within("T0BUSY"):
        first = await names.plain(mentions("A", 5))
        second = await names.plain(mentions("B", 5))  # the minute's lookups are spent
    assert first.count("@Person") == 5
    assert second.count("@Person") == 0 and "@UB000" in second
    assert len(slack.lookups) == 5

    with workspace.within("T0QUIET"):
        other = await names.plain(mentions("C", 5))
    assert other.count("@Person") == 5
    assert len(slack.lookups) == 10

    now[0] += 60.0  # a minute later the busy workspace may look up again
    with workspace.within("T0BUSY"):
        assert (await names.plain(mentions("B", 5))).count("@Person") == 5


class GuestSlack(MemorySlack):
    """Knows UGUEST only in T0HOST (a guest of that workspace alone)."""

    async def profile(self, user_id: str) -> Profile:
        if workspace.key() != "T0HOST":
            self.lookups.append(user_id)
            raise SlackRefused("users.info", "user_not_found")
        return await super().profile(user_id)


async def test_a_name_that_could_not_be_had_in_one_workspace_is_asked_in_another() -> None:
    slack = GuestSlack()
    names = Names(slack)
    with workspace.within("T0ELSE"):
        assert await names.author("UGUEST") == "UGUEST"
        assert await names.author("UGUEST") == "UGUEST"  # the failure is kept here
    with workspace.within("T0HOST"):
        assert await names.author("UGUEST") == "Person UGUEST"
    assert slack.lookups == ["UGUEST", "UGUEST"]
