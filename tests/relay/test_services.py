"""Which service a conversation starts in, and who may change a channel's."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest

from slackbot.amigo.errors import AmigoNotFound, AmigoRateLimited
from slackbot.relay.admins import Admins
from slackbot.relay.config_commands import ResetChannelService, SetChannelService, ShowConfig
from slackbot.relay.controls import Caller, Permissions
from slackbot.relay.services import Refusal, Service, Services
from slackbot.store.repo import Store, ThreadKey
from tests.relay.core import ADMIN, OWNER, MemorySlack

DEFAULT = Service("0123456789abcdef0123456a")
B = "0123456789abcdef0123456b"


class StarterAmigo:
    """Answers conversation starters, or raises what it is told to."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.error: Exception | None = None

    async def conversation_starters(
        self, as_user: str, *, service_id: str, version_set: str = "release", **_: Any
    ) -> Sequence[str]:
        self.asked.append((service_id, version_set))
        if self.error is not None:
            raise self.error
        return ["Hi"]


def services_on(store: Store, amigo: StarterAmigo) -> Services:
    permissions = Permissions(MemorySlack(), Admins(frozenset({ADMIN})))
    return Services(store, amigo, permissions, default=DEFAULT, as_user="provisioner")  # type: ignore[arg-type]


async def test_only_an_admin_changes_a_channel_and_only_to_a_service_amigo_has(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    amigo = StarterAmigo()
    services = services_on(store, amigo)
    change = SetChannelService("C1", B, "beta")

    refused = await services.change(Caller("T1", OWNER), change)
    assert isinstance(refused, Refusal) and refused.field == "channel"
    assert amigo.asked == []
    assert "Only a workspace admin" in await services.run(ShowConfig(), Caller("T1", OWNER))

    amigo.error = AmigoNotFound(404, "Service not found.")
    unknown = await services.change(Caller("T1", ADMIN), change)
    assert isinstance(unknown, Refusal) and unknown.field == "service"
    amigo.error = AmigoRateLimited(429, "slow down")
    busy = await services.run(change, Caller("T1", ADMIN))
    assert "Amigo is busy" in busy and "Nothing changed" in busy
    assert await store.channel_services("T1") == []
    assert await store.channel_service_changes("T1") == []

    amigo.error = None
    with caplog.at_level(logging.INFO, logger="slackbot.services"):
        done = await services.change(Caller("T1", ADMIN), change)
    assert isinstance(done, str) and "now start in service" in done
    assert amigo.asked[-1] == (B, "beta")
    assert f"service {B}, version set beta (changed by {ADMIN})" in caplog.text
    assert await services.for_channel("T1", "C1") == Service(B, "beta")
    assert await services.for_channel("T2", "C1") == DEFAULT  # another workspace's channel
    assert await services.for_channel("T1", "D1") == DEFAULT

    back = await services.run(ResetChannelService("C1"), Caller("T1", ADMIN))
    assert "default service" in back
    assert "already uses the default" in await services.run(
        ResetChannelService("C1"), Caller("T1", ADMIN)
    )
    assert [c.service_id for c in await store.channel_service_changes("T1")] == [B, None]


async def test_a_conversation_gets_its_channels_service_once(store: Store) -> None:
    services = services_on(store, StarterAmigo())
    await store.set_channel_service("T1", "C1", B, "beta", by=ADMIN)
    thread = ThreadKey("T1", "C1", "1700000000.000100")
    claimed = await store.claim_start(thread, ts=thread.thread_ts, user_id=OWNER, text="hi")
    assert claimed is not None
    conversation, _ = claimed
    assert services.of(conversation) == DEFAULT  # none recorded yet
    chosen = await services.choose(conversation)
    assert services.of(chosen) == Service(B, "beta")
    await store.remove_channel_service("T1", "C1", by=ADMIN)
    again = await services.choose(chosen)
    assert services.of(again) == Service(B, "beta")  # it keeps the one it started in
    reread = await store.conversation(conversation.id)
    assert reread is not None and services.of(reread) == Service(B, "beta")
