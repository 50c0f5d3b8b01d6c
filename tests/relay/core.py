"""The relay core wired as the runtime wires it, on in-memory fakes of Slack and Amigo.

No sockets and no subprocesses: the Slack and Amigo ports are plain objects that record
what they were asked and answer as scripted; the store is the real one on a SQLite file.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from slackbot.amigo.errors import AmigoError
from slackbot.amigo.events import (
    AmigoEvent,
    ConversationCreated,
    InteractionComplete,
    NewMessage,
    UserMessageAvailable,
)
from slackbot.amigo.models import ConversationInfo, ConversationPage, MessageInfo, MessagePage
from slackbot.relay.admins import Admins
from slackbot.relay.controls import Controls, Permissions
from slackbot.relay.conversations import Conversations, Identities, IdentityConfig
from slackbot.relay.delivery import Delivery
from slackbot.relay.executor import ExecutorConfig, TurnExecutor
from slackbot.relay.heard import Heard, HeardConfig
from slackbot.relay.inbox import Inbox, IncomingMessage, Recorded, Routed
from slackbot.relay.mentions import Names
from slackbot.relay.options import ActivePolicy, SuggestionsMode
from slackbot.relay.ports import Blocks, NoMeter, Profile, SlackRefused, ThreadMessage
from slackbot.relay.reconcile import Reconciler
from slackbot.relay.recovery import Recovery
from slackbot.relay.replies import Replies
from slackbot.relay.services import Service, Services
from slackbot.relay.starts import Starts
from slackbot.relay.stream import EditingReply
from slackbot.relay.suggestions import ReplyMenu, Suggestions
from slackbot.relay.tasks import TaskTracker
from slackbot.relay.worker import ThreadWorkers, WorkerConfig
from slackbot.store.db import create_engine
from slackbot.store.models import Base, TurnRow
from slackbot.store.records import Turn
from slackbot.store.repo import Store, ThreadKey
from slackbot.ui.activity import Task

TEAM, CHANNEL = "T1", "C1"
OWNER, OTHER, ADMIN = "U1", "U2", "UADMIN"
SERVICE = "0123456789abcdef01234567"
_ts = itertools.count(1)


def new_ts() -> str:
    """A Slack ts of now, later than every one before it."""
    return f"{int(time.time())}.{next(_ts):06d}"


async def all_turns(store: Store) -> list[Turn]:
    """Every turn in the database, oldest first (the store itself only reads by thread)."""
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(TurnRow).order_by(TurnRow.id))
        return [Turn.of(TurnRow(**row._mapping)) for row in rows]


async def eventually(predicate: Callable[[], object], timeout: float = 3.0) -> None:
    """Wait until ``predicate()`` (or what it returns, awaited) holds, looking again at
    every turn of the event loop."""

    async def holds() -> bool:
        value = predicate()
        return bool(await value if inspect.isawaitable(value) else value)

    async with asyncio.timeout(timeout):
        while not await holds():  # noqa: ASYNC110 - a condition with a deadline
            await asyncio.sleep(0.001)


@dataclass
class Posted:
    channel: str
    ts: str
    thread_ts: str | None
    text: str
    blocks: Blocks | None
    versions: list[str] = field(default_factory=list)

    @property
    def body(self) -> str:
        return self.versions[-1]

    def actions(self) -> list[str]:
        return [
            element.get("action_id", "")
            for block in self.blocks or []
            if block.get("type") == "actions"
            for element in block.get("elements") or []
        ]


def _shown(text: str, blocks: Blocks | None) -> str:
    markdown = [str(b["text"]) for b in blocks or [] if b.get("type") == "markdown"]
    return "\n".join(markdown) if markdown else text


class MemoryStream:
    """A natively streamed message in :class:`MemorySlack` (refusals as ``refuse`` says)."""

    def __init__(self, slack: MemorySlack, channel: str, thread_ts: str) -> None:
        self._slack = slack
        self._channel = channel
        self._thread_ts = thread_ts
        self.ts: str | None = None
        self.open = False

    def _check(self, method: str) -> None:
        error = self._slack.refuse.get(method)
        if error:
            raise SlackRefused(method, error)
        if self.ts is not None and not self.open:
            raise SlackRefused(method, "message_not_in_streaming_state")

    async def append(self, markdown: str, tasks: Sequence[Task] = ()) -> None:
        if self.ts is None:
            self._check("chat.startStream")
            self.ts = new_ts()
            self.open = True
            self._slack.events.append("message")
            await asyncio.sleep(self._slack.write_delay)
            self._slack.messages[self.ts] = Posted(
                self._channel, self.ts, self._thread_ts, markdown, None, [markdown]
            )
        else:
            self._check("chat.appendStream")
            message = self._slack.messages[self.ts]
            message.text += markdown
            message.versions.append(message.text)
        self._slack.tasks.extend(tasks)

    async def stop(
        self, markdown: str = "", blocks: Blocks | None = None, tasks: Sequence[Task] = ()
    ) -> None:
        if self.ts is None:
            await self.append("")
        self._slack.tasks.extend(tasks)
        self._check("chat.stopStream")
        assert self.ts is not None
        message = self._slack.messages[self.ts]
        message.text += markdown
        message.blocks = [{"type": "markdown", "text": message.text}, *(blocks or [])]
        message.versions.append(message.text)
        self.open = False


class MemorySlack:
    """A :class:`~slackbot.relay.ports.SlackPort` that keeps what it was told."""

    def __init__(self) -> None:
        self.messages: dict[str, Posted] = {}
        self.ephemerals: list[tuple[str, str]] = []  # (user, text)
        self.admins: set[str] = set()
        self.lookups: list[str] = []
        self.refuse: dict[str, str] = {}
        """Slack method -> the error Slack answers it with, for as long as it is set."""
        self.dms: list[tuple[str, str]] = []  # (user, text)
        self.statuses: list[tuple[str, str, tuple[str, ...]]] = []  # (thread, status, loading)
        self.ended: list[str] = []
        self.status_delay = 0.0
        self.write_delay = 0.0
        self.events: list[str] = []
        """"status" and "message", in the order Slack saw them."""
        self.prompts: list[tuple[str, str | None, list[str]]] = []
        self.titles: list[tuple[str, str]] = []
        self.tasks: list[Task] = []
        """Task updates streamed, in order."""
        self.human: dict[str, list[ThreadMessage]] = {}
        """Thread ts -> people's messages there that Slack knows (``conversations.replies``)."""

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
        if self.refuse.get("chat.postMessage") and not channel.startswith("D"):
            raise SlackRefused("chat.postMessage", self.refuse["chat.postMessage"])
        ts = new_ts()
        self.messages[ts] = Posted(channel, ts, thread_ts, text, blocks, [_shown(text, blocks)])
        self.events.append("message")
        await asyncio.sleep(self.write_delay)
        return ts

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
        if self.refuse.get("chat.update"):
            raise SlackRefused("chat.update", self.refuse["chat.update"])
        message = self.messages[ts]
        message.text, message.blocks = text, blocks
        message.versions.append(_shown(text, blocks))

    async def delete_message(self, channel: str, ts: str) -> None:
        self.messages.pop(ts, None)

    async def set_status(
        self,
        channel: str,
        thread_ts: str,
        status: str,
        loading: Sequence[str] = (),
        *,
        prepaid: bool = False,
    ) -> None:
        if self.refuse.get("assistant.threads.setStatus"):
            raise SlackRefused(
                "assistant.threads.setStatus", self.refuse["assistant.threads.setStatus"]
            )
        self.statuses.append((thread_ts, status, tuple(loading)))
        self.events.append("status")
        await asyncio.sleep(self.status_delay)  # Slack took it; its answer takes a while

    async def set_prompts(self, channel: str, thread_ts: str | None, prompts: list[str]) -> None:
        self.prompts.append((channel, thread_ts, list(prompts)))

    async def set_title(self, channel: str, thread_ts: str, title: str) -> None:
        self.titles.append((thread_ts, title))

    async def end_stream(self, channel: str, ts: str) -> None:
        self.ended.append(ts)

    def stream(
        self, channel: str, thread_ts: str, recipient: str, team: str, *, reserved: bool = False
    ) -> MemoryStream:
        return MemoryStream(self, channel, thread_ts)

    async def post_ephemeral(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> None:
        self.ephemerals.append((user, text))

    async def permalink(self, channel: str, ts: str) -> str:
        return f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"

    async def message_text(self, channel: str, thread_ts: str, ts: str) -> str | None:
        message = self.messages.get(ts)
        return None if message is None else message.body

    async def thread_messages(
        self, channel: str, thread_ts: str, before_ts: str, limit: int
    ) -> list[ThreadMessage]:
        if error := self.refuse.get("conversations.replies"):
            raise SlackRefused("conversations.replies", error)
        older = [m for m in self.human.get(thread_ts, []) if float(m.ts) < float(before_ts)]
        return older[-limit:]

    async def profile(self, user_id: str) -> Profile:
        self.lookups.append(user_id)
        return Profile(user_id, "First", user_id, f"Person {user_id}", None, user_id in self.admins)

    async def direct_message(self, user: str, text: str) -> str:
        self.dms.append((user, text))
        return "D" + user

    def thread(self, thread_ts: str) -> list[Posted]:
        return [m for m in self.messages.values() if m.thread_ts == thread_ts]

    def told(self, user: str) -> list[str]:
        return [text for who, text in self.ephemerals if who == user]


Step = AmigoEvent | AmigoError | asyncio.Event
"""What a scripted stream does next: send an event, raise an error, or wait for a set."""


@dataclass
class Call:
    name: str
    as_user: str
    conversation_id: str | None = None
    text: str | None = None
    events: list[tuple[str, datetime]] = field(default_factory=list)


class MemoryAmigo:
    """An :class:`~slackbot.relay.ports.AmigoPort`: answers "Echo: <text>" unless scripted."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.scripts: deque[list[Step]] = deque()
        self.unfinished: list[str] = []
        self.tags: dict[str, str | None] = {}
        self.committed: dict[str, list[tuple[str, str, str]]] = {}
        """Conversation -> its completed interactions (id, user text, agent text)."""
        self.fail: dict[str, AmigoError] = {}
        self._ids = itertools.count(1)

    def _id(self, kind: str) -> str:
        return f"{kind[:2]}{next(self._ids):022d}"

    def script(self, *steps: Step) -> None:
        """The next stream (create or interact) does these steps instead of echoing."""
        self.scripts.append(list(steps))

    def named(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.name == name]

    def _echo(self, text: str) -> list[Step]:
        answer = f"Echo: {text}" if text else "Hello!"
        return [
            UserMessageAvailable(message_id=self._id("message"), user_message=text),
            NewMessage(message=answer[: len(answer) // 2]),
            NewMessage(message=answer[len(answer) // 2 :]),
            InteractionComplete(
                message_id=self._id("message"),
                interaction_id=self._id("interaction"),
                full_message=answer,
            ),
        ]

    async def _stream(
        self, steps: list[Step], conversation_id: str | None, text: str | None
    ) -> AsyncIterator[AmigoEvent]:
        for step in steps:
            if isinstance(step, AmigoError):
                raise step
            if isinstance(step, asyncio.Event):
                await step.wait()
                continue
            if isinstance(step, ConversationCreated):
                conversation_id = step.conversation_id
                self.unfinished.append(conversation_id)
            if isinstance(step, InteractionComplete) and conversation_id is not None:
                # Amigo commits an interaction when it completes, not before.
                self.committed.setdefault(conversation_id, []).append(
                    (step.interaction_id, text or "", step.full_message)
                )
            yield step

    def create_conversation(
        self,
        as_user: str,
        *,
        service_id: str,
        version_set: str = "release",
        initial_message: str | None = None,
    ) -> AsyncIterator[AmigoEvent]:
        self.calls.append(Call("create", as_user, text=initial_message))
        steps = self.scripts.popleft() if self.scripts else self._echo(initial_message or "")
        if steps and isinstance(steps[0], AmigoError):
            return self._stream(steps, None, initial_message)
        created: list[Step] = [ConversationCreated(conversation_id=self._id("conversation"))]
        return self._stream(created + steps, None, initial_message)

    def interact(
        self,
        as_user: str,
        conversation_id: str,
        text: str = "",
        *,
        external_events: Sequence[tuple[str, datetime]] = (),
        audio: bytes | None = None,
    ) -> AsyncIterator[AmigoEvent]:
        self.calls.append(Call("interact", as_user, conversation_id, text, list(external_events)))
        steps = self.scripts.popleft() if self.scripts else self._echo(text)
        return self._stream(steps, conversation_id, text)

    async def _maybe_fail(self, name: str) -> None:
        error = self.fail.pop(name, None)
        if error is not None:
            raise error

    async def finish_conversation(self, as_user: str, conversation_id: str) -> None:
        self.calls.append(Call("finish", as_user, conversation_id))
        await self._maybe_fail("finish")
        if conversation_id in self.unfinished:
            self.unfinished.remove(conversation_id)

    async def modify_tags(
        self,
        as_user: str,
        conversation_id: str,
        *,
        updates: Mapping[str, str | None] | None = None,
        deletes: Iterable[str] = (),
    ) -> None:
        self.calls.append(Call("tags", as_user, conversation_id))
        await self._maybe_fail("tags")
        self.tags.update(updates or {})
        for key in deletes:
            self.tags.pop(key, None)

    async def recommend_responses(
        self, as_user: str, conversation_id: str, interaction_id: str
    ) -> list[str]:
        self.calls.append(Call("recommend", as_user, conversation_id, interaction_id))
        await self._maybe_fail("recommend")
        return ["Tell me more.", "Thanks!"]

    async def get_conversations(self, as_user: str, **filters: Any) -> ConversationPage:
        self.calls.append(Call("get_conversations", as_user))
        await self._maybe_fail("get_conversations")
        ids = list(filters.get("ids") or []) or self.unfinished
        infos = [
            ConversationInfo(
                id=i,
                user_id=as_user,
                created_at="2026-01-01T00:00:00Z",
                is_finished=False,
                tags=dict(self.tags),
            )
            for i in ids
        ]
        return ConversationPage(conversations=infos)

    async def get_messages(self, as_user: str, conversation_id: str, **_: Any) -> MessagePage:
        self.calls.append(Call("get_messages", as_user, conversation_id))
        await self._maybe_fail("get_messages")
        found: list[MessageInfo] = []
        for interaction, user_text, agent_text in reversed(self.committed.get(conversation_id, [])):
            at = "2026-01-01T00:00:00Z"
            found.append(
                MessageInfo(
                    id=self._id("m"),
                    interaction_id=interaction,
                    created_at=at,
                    sender="Agent",
                    message=agent_text,
                    message_type="agent-message",
                )
            )
            if user_text:
                found.append(
                    MessageInfo(
                        id=self._id("m"),
                        interaction_id=interaction,
                        created_at=at,
                        sender="Person",
                        message=user_text,
                        message_type="user-message",
                    )
                )
        return MessagePage(messages=found)

    async def find_user_by_email(self, as_user: str, email: str) -> str | None:
        return None

    async def create_user(
        self, as_user: str, *, first_name: str, last_name: str, email: str, role_name: str
    ) -> str:
        self.calls.append(Call("create_user", as_user, text=email))
        return self._id("user")


@dataclass
class Core:
    store: Store
    slack: MemorySlack
    amigo: MemoryAmigo
    tasks: TaskTracker
    workers: ThreadWorkers
    inbox: Inbox
    controls: Controls
    recovery: Recovery
    executor: TurnExecutor

    async def say(
        self, text: str, *, user: str = OWNER, thread_ts: str | None = None, mention: bool = True
    ) -> tuple[str, Routed]:
        """A person posts: a mention starting a thread, or a reply in one. Saved as the
        Slack layer saves it, then routed."""
        ts = new_ts()
        message = IncomingMessage(
            team_id=TEAM,
            channel_id=CHANNEL,
            user_id=user,
            ts=ts,
            thread_ts=thread_ts,
            text=text,
            mentions_bot=mention and thread_ts is None,
            is_dm=False,
        )
        return ts, await self.deliver(message)

    async def deliver(self, message: IncomingMessage) -> Routed:
        recorded = await self.inbox.record(message)
        if recorded == Recorded.QUEUED:
            return Routed.QUEUED
        if recorded == Recorded.DUPLICATE:
            return Routed.DUPLICATE
        routed = await self.inbox.route(message.thread)
        return routed[-1] if routed else Routed.DUPLICATE

    async def settle(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self.tasks.wait_idle(), timeout)

    def replies(self, thread_ts: str) -> list[str]:
        return [m.body for m in self.slack.thread(thread_ts)]

    def thread(self, thread_ts: str) -> ThreadKey:
        return ThreadKey(TEAM, CHANNEL, thread_ts)


async def build_core(
    path: Path,
    *,
    holder: str = "here",
    lease_seconds: float = 15.0,
    coalesce: bool = True,
    policy: ActivePolicy = "finish-previous",
    suggestions: SuggestionsMode = "on-request",
    retry_attempts: int = 2,
    store: Store | None = None,
    slack: MemorySlack | None = None,
    amigo: MemoryAmigo | None = None,
    heard: HeardConfig | None = None,
) -> Core:
    """The relay as the runtime builds it (``store``/``slack``/``amigo`` shared to make a
    second process on the same database)."""
    if store is None:
        store = Store(create_engine(f"sqlite+aiosqlite:///{path / 'relay.db'}"))
        async with store.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    slack = slack or MemorySlack()
    amigo = amigo or MemoryAmigo()
    tasks = TaskTracker()
    identities = Identities(
        store, amigo, slack, IdentityConfig("admin", "Role", "{user_id}@x.test")
    )
    conversations = Conversations(store, amigo, slack, policy)
    offered = Suggestions(store, amigo, slack, suggestions)
    endings = Replies(
        store=store,
        slack=slack,
        conversations=conversations,
        delivery=Delivery(slack, waits=(0.0,)),
        extras=ReplyMenu(store, offered),
        meter=NoMeter(),
    )
    names = Names(slack)
    shared = Heard(store, slack, amigo, names, heard or HeardConfig())
    permissions = Permissions(slack, Admins(frozenset({ADMIN})))
    services = Services(store, amigo, permissions, default=Service(SERVICE), as_user="admin")
    executor = TurnExecutor(
        store=store,
        amigo=amigo,
        slack=slack,
        conversations=conversations,
        starts=Starts(store, identities, conversations, services),
        names=names,
        replies=lambda channel, thread_ts, reply_ts, user, team: EditingReply(
            slack, channel, thread_ts, min_interval=0, reply_ts=reply_ts
        ),
        endings=endings,
        reconciler=Reconciler(store, amigo, SERVICE),
        config=ExecutorConfig(SERVICE, retry_attempts=retry_attempts, retry_max_wait=0.0),
        heard=shared,
    )
    workers = ThreadWorkers(store, executor, tasks, WorkerConfig(holder, lease_seconds, coalesce))
    inbox = Inbox(store, slack, workers, shared)
    controls = Controls(
        store=store,
        amigo=amigo,
        slack=slack,
        conversations=conversations,
        suggestions=offered,
        permissions=permissions,
        inbox=inbox,
    )
    recovery = Recovery(store, slack, inbox, workers, permissions.may_act)
    return Core(store, slack, amigo, tasks, workers, inbox, controls, recovery, executor)
