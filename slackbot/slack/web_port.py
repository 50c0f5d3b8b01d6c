"""The relay's :class:`~slackbot.relay.ports.SlackPort`, on slack_sdk's Web API client.

Every call first takes from the workspace's budget for its method
(:class:`~slackbot.relay.budgets.SlackBudgets`); rate limits that still happen and
dropped connections are retried by slack_sdk's own retry handlers, installed on the
client in :func:`~slackbot.slack.web_client.web_client`. Native streams use slack_sdk's
streaming helper.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from cachetools import TTLCache
from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient

from slackbot.relay.budgets import SlackBudgets
from slackbot.relay.ports import Blocks, Profile, SlackRefused, SlackUnreachable, ThreadMessage
from slackbot.slack.directory import PAGE_SIZE, Directory, profile_of
from slackbot.slack.failures import failures
from slackbot.slack.payloads import RELAYED_SUBTYPES
from slackbot.slack.streams import NativeStream
from slackbot.slack.web_client import ObservedWebClient
from slackbot.ui import prompts as ui_prompts

log = logging.getLogger("slackbot.slack")

REPLY_PAGES = 5

PROFILE_CACHE_SECONDS = 300.0
"""How long a Slack profile (and with it, admin status) is trusted before it is asked again."""
PROFILE_CACHE_SIZE = 10_000


class WebApiPort:
    """Posts, edits and looks up through the Web API of one workspace."""

    def __init__(
        self,
        client: AsyncWebClient,
        budgets: SlackBudgets | None = None,
        *,
        profile_seconds: float = PROFILE_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.budgets = budgets or SlackBudgets()
        self.team_id: str | None = None
        """The workspace, once Slack said (auth.test); streams in channels need it."""
        self.workspace_url: str | None = None
        """``https://<domain>.slack.com/`` once Slack said (auth.test): links to threads."""
        self.enterprise_id: str | None = None
        """The Enterprise Grid org, when the workspace is in one (its install may be the
        org's)."""
        self._bot_user_id: str | None = None
        self._asking = asyncio.Lock()
        self._profiles: TTLCache[str, Profile] = TTLCache(
            PROFILE_CACHE_SIZE, profile_seconds, timer=clock
        )
        self._directory = Directory(self._list_users, self.budgets, self._remember)

    async def bot_user_id(self) -> str:
        """The app's bot user here, as ``auth.test`` with this workspace's token says
        (asked once; "" while Slack cannot say)."""
        async with self._asking:
            if self._bot_user_id is None:
                try:
                    with failures("auth.test"):
                        auth = await self.client.auth_test()
                except (SlackRefused, SlackUnreachable) as exc:
                    log.warning("auth.test failed in workspace %s: %s", self.team_id, exc)
                    return ""
                self._bot_user_id = str(auth.get("user_id") or "")
                self.team_id = self.team_id or auth.get("team_id")
                self.workspace_url = self.workspace_url or auth.get("url") or None
            return self._bot_user_id

    async def aclose(self) -> None:
        """Close the connections kept to Slack."""
        if isinstance(self.client, ObservedWebClient):
            await self.client.aclose()

    async def post_message(
        self,
        channel: str,
        thread_ts: str | None,
        text: str,
        blocks: Blocks | None = None,
        *,
        final: bool = False,
        prepaid: bool = False,
    ) -> str:
        args: dict[str, Any] = {"channel": channel, "text": text}
        if thread_ts is not None:
            args["thread_ts"] = thread_ts
        if blocks is not None:
            args["blocks"] = blocks
        if not prepaid:
            await self.budgets.acquire("chat.postMessage", channel, final=final)
        with failures("chat.postMessage"):
            response = await self.client.chat_postMessage(**args)
        return str(response["ts"])

    async def update_message(
        self,
        channel: str,
        ts: str,
        text: str,
        blocks: Blocks | None = None,
        *,
        final: bool = False,
        prepaid: bool = False,
    ) -> None:
        if not prepaid:
            await self.budgets.acquire("chat.update", channel, final=final)
        with failures("chat.update"):
            await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks or [])

    async def set_status(
        self,
        channel: str,
        thread_ts: str,
        status: str,
        loading: Sequence[str] = (),
        *,
        prepaid: bool = False,
    ) -> None:
        if not prepaid:
            await self.budgets.acquire("assistant.threads.setStatus", channel)
        with failures("assistant.threads.setStatus"):
            await self.client.assistant_threads_setStatus(
                channel_id=channel,
                thread_ts=thread_ts,
                status=status,
                loading_messages=list(loading) or None,
            )

    def stream(
        self, channel: str, thread_ts: str, recipient: str, team: str, *, reserved: bool = False
    ) -> NativeStream:
        # the client's chat_stream method builds this same helper, but as a coroutine
        helper = AsyncChatStream(
            self.client,
            logger=log,
            channel=channel,
            thread_ts=thread_ts,
            buffer_size=1,
            recipient_user_id=recipient,
            recipient_team_id=team or self.team_id,
        )
        return NativeStream(helper, self.budgets, channel, reserved=reserved)

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        await self.budgets.acquire("views.open", first=True)
        with failures("views.open"):
            response = await self.client.views_open(trigger_id=trigger_id, view=view)
        return str((response.get("view") or {}).get("id") or "")

    async def update_view(self, view_id: str, view: dict[str, Any]) -> None:
        await self.budgets.acquire("views.update")
        with failures("views.update"):
            await self.client.views_update(view_id=view_id, view=view)

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        await self.budgets.acquire("views.publish")
        with failures("views.publish"):
            await self.client.views_publish(user_id=user_id, view=view)

    async def set_prompts(self, channel: str, thread_ts: str | None, prompts: list[str]) -> None:
        await self.budgets.acquire("assistant.threads.setSuggestedPrompts")
        with failures("assistant.threads.setSuggestedPrompts"):
            await self.client.assistant_threads_setSuggestedPrompts(
                channel_id=channel,
                thread_ts=thread_ts,
                title=ui_prompts.PROMPTS_TITLE,
                prompts=ui_prompts.prompt_items(prompts),
            )

    async def set_title(self, channel: str, thread_ts: str, title: str) -> None:
        await self.budgets.acquire("assistant.threads.setTitle")
        with failures("assistant.threads.setTitle"):
            await self.client.assistant_threads_setTitle(
                channel_id=channel, thread_ts=thread_ts, title=title
            )

    async def end_stream(self, channel: str, ts: str) -> None:
        await self.budgets.acquire("chat.stopStream", channel, final=True)
        with failures("chat.stopStream"):
            await self.client.chat_stopStream(channel=channel, ts=ts)

    async def delete_message(self, channel: str, ts: str) -> None:
        await self.budgets.acquire("chat.delete", channel, final=True)
        with failures("chat.delete"):
            await self.client.chat_delete(channel=channel, ts=ts)

    async def post_ephemeral(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> None:
        args: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if thread_ts is not None:
            args["thread_ts"] = thread_ts
        await self.budgets.acquire("chat.postEphemeral", channel)
        with failures("chat.postEphemeral"):
            await self.client.chat_postEphemeral(**args)

    async def permalink(self, channel: str, ts: str) -> str:
        await self.budgets.acquire("chat.getPermalink", channel)
        with failures("chat.getPermalink"):
            response = await self.client.chat_getPermalink(channel=channel, message_ts=ts)
        return str(response["permalink"])

    async def message_text(self, channel: str, thread_ts: str, ts: str) -> str | None:
        await self.budgets.acquire("conversations.replies", channel)
        with failures("conversations.replies"):
            response = await self.client.conversations_replies(
                channel=channel, ts=thread_ts, latest=ts, oldest=ts, inclusive=True, limit=1
            )
        for message in response.get("messages") or []:
            if message.get("ts") != ts:
                continue
            for block in message.get("blocks") or []:
                if block.get("type") == "markdown":
                    return str(block.get("text") or "")
            return str(message.get("text") or "")
        return None

    async def thread_messages(
        self, channel: str, thread_ts: str, before_ts: str, limit: int
    ) -> list[ThreadMessage]:
        found: list[ThreadMessage] = []
        cursor = None
        for _ in range(REPLY_PAGES):  # a thread longer than this keeps its oldest part
            await self.budgets.acquire("conversations.replies", channel)
            with failures("conversations.replies"):
                response = await self.client.conversations_replies(
                    channel=channel, ts=thread_ts, latest=before_ts, limit=200, cursor=cursor
                )
            for m in response.get("messages") or []:
                person = (
                    m.get("user") and not m.get("bot_id") and m.get("subtype") in RELAYED_SUBTYPES
                )
                if person and m.get("text") and float(m["ts"]) < float(before_ts):
                    found.append(ThreadMessage(str(m["ts"]), str(m["user"]), str(m["text"])))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not response.get("has_more") or not cursor:
                break
        return found[-limit:] if limit > 0 else []

    async def profile(self, user_id: str) -> Profile:
        cached = self._profiles.get(user_id)
        if cached is not None:
            return cached
        if not self.budgets.try_take("users.info"):
            # Many new people at once: a users.list walk answers them by the hundred.
            listed = await self._directory.find(user_id)
            if listed is not None:
                return listed
            await self.budgets.acquire("users.info")
        with failures("users.info"):
            response = await self.client.users_info(user=user_id)
        profile = profile_of({**response["user"], "id": user_id})
        self._remember(profile)
        return profile

    def _remember(self, profile: Profile) -> None:
        self._profiles[profile.user_id] = profile

    async def _list_users(self, cursor: str | None) -> dict[str, Any]:
        response = await self.client.users_list(limit=PAGE_SIZE, cursor=cursor)
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def direct_message(self, user: str, text: str) -> str:
        await self.budgets.acquire("conversations.open")
        with failures("conversations.open"):
            opened = await self.client.conversations_open(users=user)
        channel = str((opened.get("channel") or {}).get("id") or "")
        await self.post_message(channel, None, text)
        return channel
