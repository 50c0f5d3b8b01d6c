"""`amigo-slack try`: chat with the app in a terminal, without Slack (or Amigo).

The real app runs on a loopback port between the sandbox's fake Slack and, unless
the ``AMIGO_*`` settings are present, its fake Amigo. What a person types becomes
the signed Slack request Slack would send (a mention, a thread reply, a `/amigo`
command, a button click); what the app writes to the fake Slack is printed as the
thread would show it, each edit as it happens.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import uvicorn
from pydantic_settings import BaseSettings, SettingsConfigDict

from slackbot.config import Settings, SettingsError, load_settings
from slackbot.logs import configure_logging
from slackbot.runtime import Runtime
from slackbot.sandbox.amigo_fake import FakeAmigo
from slackbot.sandbox.slack_fake import FakeMessage, FakeSlack, message_text
from slackbot.sandbox.slack_sender import SlackSender
from slackbot.store.db import migrate
from slackbot.ui.markup import slack_to_plain
from slackbot.ui.render import fallback_text
from slackbot.web import create_web_app

CHANNEL = "C0TRY"
PERSON = "UYOU"
SERVICE_ID = "0123456789abcdef01234567"
POLL_SECONDS = 0.05
TURN_TIMEOUT_SECONDS = 300.0

EMOJI = {
    ":bulb:": "💡",
    ":checkered_flag:": "🏁",
    ":hourglass:": "⌛",
    ":label:": "🏷",
    ":no_entry:": "⛔",
    ":warning:": "⚠",
    ":white_check_mark:": "✅",
}
"""The shortcodes the app's messages use, as a terminal can show them."""

HELP = """\
Type a message and press Enter: the first one mentions the app and starts a conversation
in a new thread; the next ones are replies in that thread.
  /amigo ...   a slash command, as in Slack (try /amigo help)
  1, 2, ...    press that button under the latest reply (suggested replies, Retry)
  /new         start a new thread with your next message
  /help        this help
  /quit        leave (or Ctrl-D)"""


class _AmigoPresence(BaseSettings):
    """Whether the person gave Amigo credentials (then the real Amigo answers)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")
    amigo_api_key: str | None = None


@dataclass
class Button:
    label: str
    action_id: str
    value: str | None
    block_id: str | None
    message: FakeMessage


def _buttons(message: FakeMessage) -> list[Button]:
    found: list[Button] = []
    for block in message.blocks or []:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements") or []:
            if element.get("type") == "button":
                label = str((element.get("text") or {}).get("text") or "")
                found.append(
                    Button(
                        label,
                        element["action_id"],
                        element.get("value"),
                        block.get("block_id"),
                        message,
                    )
                )
    return found


class Transcript:
    """Prints what the fake Slack shows in the trial channel, as it changes."""

    def __init__(self, slack: FakeSlack, out: TextIO, names: dict[str, str]) -> None:
        self._slack = slack
        self._out = out
        self._names = names
        self._versions: dict[str, int] = {}
        self._statuses: dict[str, int] = {}
        self._views = 0
        self._ephemerals = 0
        self._responses = 0
        self._last: tuple[str, int] | None = None  # (message ts, lines it took)
        self._rewrite = out.isatty()
        self.buttons: list[Button] = []

    async def _plain(self, text: str) -> str:
        async def name(user_id: str) -> str | None:
            return self._names.get(user_id)

        plain = await slack_to_plain(text, name)
        for code, emoji in EMOJI.items():
            plain = plain.replace(code, emoji)
        return plain

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()

    def _lines(self, text: str) -> int:
        width = max(20, shutil.get_terminal_size().columns)
        return sum(max(1, -(-len(line) // width)) for line in text.split("\n"))

    async def show_new(self) -> None:
        """Print every change since the last call."""
        for message in self._slack.messages(CHANNEL):
            if message.user != self._slack.bot_user_id:
                self._show_status(message.ts)
                continue
            seen = self._versions.get(message.ts, 0)
            versions = message.history[seen:]
            self._versions[message.ts] = len(message.history)
            for number, version in enumerate(versions, start=seen):
                shown = message_text({"text": version.text, "blocks": version.blocks or []})
                text = fallback_text(await self._plain(shown)) or "…"
                await self._print_version(message, number, text)
            if versions:
                buttons = _buttons(message)
                if buttons or message.ts in {b.message.ts for b in self.buttons}:
                    self.buttons = buttons
                    self._print_buttons()
        views = self._slack.views()
        for window in views[self._views :]:
            if window.method in ("views.open", "views.update", "views.push"):
                await self._print_window(window.view)
        self._views = len(views)
        ephemerals = self._slack.ephemerals(user=PERSON)
        for ephemeral in ephemerals[self._ephemerals :]:
            self._print_private(await self._plain(ephemeral.visible_text))
        self._ephemerals = len(ephemerals)
        responses = self._slack.responses()
        for call in responses[self._responses :]:
            if call.args.get("text"):
                self._print_private(await self._plain(str(call.args["text"])))
        self._responses = len(responses)

    async def _print_window(self, view: dict[str, Any]) -> None:
        """A window Slack would open (a modal), as its text."""
        title = str((view.get("title") or {}).get("text") or "")
        lines = [
            await self._plain(str((block.get("text") or {}).get("text") or ""))
            for block in view.get("blocks") or []
        ]
        body = "\n".join(line for line in lines if line)
        self._write(f"(window: {title})\n{body}\n")
        self._last = None

    def _show_status(self, thread_ts: str) -> None:
        """The thread's status (what the agent is doing) as it changes."""
        history = self._slack.status_history(CHANNEL, thread_ts)
        for status in history[self._statuses.get(thread_ts, 0) :]:
            if status.status:
                words = ", ".join(status.loading_messages) or status.status
                self._write(f"amigo (status): {words}\n")
                self._last = None
        self._statuses[thread_ts] = len(history)

    async def _print_version(self, message: FakeMessage, number: int, text: str) -> None:
        line = f"amigo{' (edited)' if number else ''}: {text}"
        if self._rewrite and number and self._last is not None and self._last[0] == message.ts:
            self._write(f"\x1b[{self._last[1]}F\x1b[J")  # up over the last version, clear
            line = f"amigo: {text}"
        self._write(line + "\n")
        self._last = (message.ts, self._lines(line))

    def _print_buttons(self) -> None:
        if self.buttons:
            labels = "   ".join(f"[{i}] {b.label}" for i, b in enumerate(self.buttons, start=1))
            self._write(f"   {labels}\n")
        self._last = None

    def _print_private(self, text: str) -> None:
        self._write(f"(only you) {text}\n")
        self._last = None

    async def ack(self, body: str) -> None:
        """The answer in a slash command's own response (help, a parse error)."""
        if body.strip().startswith("{"):
            text = str(json.loads(body).get("text") or "")
        else:
            text = body
        if text.strip():
            self._print_private(await self._plain(text))


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@asynccontextmanager
async def _serving(settings: Settings) -> AsyncIterator[tuple[Runtime, str]]:
    await migrate(settings.database_url)
    runtime = Runtime(settings)
    sock = _free_socket()
    server = uvicorn.Server(
        uvicorn.Config(create_web_app(runtime), log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if serving.done():
                serving.result()
                raise RuntimeError("the app stopped while starting")
            await asyncio.sleep(POLL_SECONDS)
        yield runtime, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving
        sock.close()


class Trial:
    """One terminal session: reads lines, sends them as Slack would, prints the thread."""

    def __init__(
        self, runtime: Runtime, sender: SlackSender, transcript: Transcript, out: TextIO
    ) -> None:
        self._runtime = runtime
        self._sender = sender
        self._transcript = transcript
        self._out = out
        self._thread_ts: str | None = None

    async def handle(self, line: str) -> bool:
        """Act on one line; False when the person wants to leave."""
        text = line.strip()
        if not text:
            return True
        if text in ("/quit", "/exit"):
            return False
        if text == "/help":
            self._out.write(HELP + "\n")
            return True
        if text == "/new":
            self._thread_ts = None
            self._out.write("(your next message starts a new thread)\n")
            return True
        if text.startswith("/amigo"):
            response = await self._sender.slash_command(
                "/amigo", text[len("/amigo") :].strip(), user=PERSON, channel=CHANNEL
            )
            await self._transcript.ack(response.text)
        elif text.isdigit() and self._transcript.buttons:
            await self._press(int(text))
        elif text.startswith("/"):
            self._out.write(f"Unknown command {text.split()[0]}; type /help.\n")
            return True
        elif self._thread_ts is None:
            self._thread_ts = await self._sender.post_mention(
                PERSON, f"<@{self._sender.bot_user_id}> {text}", channel=CHANNEL
            )
        else:
            await self._sender.post_message(
                PERSON, text, channel=CHANNEL, thread_ts=self._thread_ts
            )
        await self.settle()
        return True

    async def _press(self, number: int) -> None:
        buttons = self._transcript.buttons
        if not 1 <= number <= len(buttons):
            self._out.write(f"There is no button {number}; pick 1 to {len(buttons)}.\n")
            return
        button = buttons[number - 1]
        await self._sender.block_action(
            PERSON,
            button.action_id,
            button.value,
            channel=CHANNEL,
            message_ts=button.message.ts,
            thread_ts=button.message.thread_ts,
            block_id=button.block_id,
        )

    async def settle(self) -> None:
        """Print the thread while the app works, until it has nothing left to do."""
        idle = asyncio.ensure_future(self._runtime.tasks.wait_idle())
        try:
            async with asyncio.timeout(TURN_TIMEOUT_SECONDS):
                while not idle.done():
                    await self._transcript.show_new()
                    await asyncio.wait({idle}, timeout=POLL_SECONDS)
        finally:
            idle.cancel()
        await self._transcript.show_new()


async def _read_lines(source: TextIO, prompt: Callable[[], None]) -> AsyncIterator[str]:
    while True:
        prompt()
        line = await asyncio.to_thread(source.readline)
        if not line:
            return
        yield line


def _overrides(slack: FakeSlack, database_url: str) -> dict[str, Any]:
    return {
        **slack.app_settings(secrets.token_hex(16)),
        "slack_app_token": "",
        "database_url": database_url,
        "shutdown_grace_seconds": 2.0,
        "slack_edit_interval_seconds": 0.2,
    }


async def run_trial(source: TextIO, out: TextIO, *, database_url: str | None = None) -> int:
    person = getpass.getuser() or "you"
    async with AsyncExitStack() as stack:
        slack = stack.enter_context(FakeSlack())
        # Alone in the sandbox, you are its admin (so "why this answer?" opens for you).
        slack.add_user(
            PERSON, name=person, real_name=person, email="you@example.com", is_admin=True
        )
        slack.add_channel(CHANNEL, name="try")
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="amigo-try-")))
        overrides = _overrides(slack, database_url or f"sqlite+aiosqlite:///{workdir}/try.db")
        if _AmigoPresence().amigo_api_key:
            where = "the Amigo service in your AMIGO_* settings"
        else:
            amigo = stack.enter_context(FakeAmigo())
            amigo.default_pieces, amigo.default_delay = 12, 0.05
            overrides |= amigo.app_settings(SERVICE_ID)
            where = "a fake Amigo agent that echoes what you write"
        try:
            settings = load_settings(**overrides)
        except SettingsError as exc:
            print(exc.report(), file=sys.stderr)
            return 2
        configure_logging(os.environ.get("TRY_LOG_LEVEL", "WARNING"), settings.secrets())
        runtime, url = await stack.enter_async_context(_serving(settings))
        sender = await stack.enter_async_context(
            SlackSender(
                url,
                settings.slack_signing_secret.get_secret_value()
                if settings.slack_signing_secret
                else "",
                team_id=slack.team_id,
                response_url_base=slack.response_url_base,
                on_event=slack.ingest_event,
            )
        )
        names = {PERSON: person, slack.bot_user_id: "amigo"}
        transcript = Transcript(slack, out, names)
        trial = Trial(runtime, sender, transcript, out)
        out.write(f"amigo-slack try: the app is running against {where}.\n{HELP}\n")
        interactive = source.isatty()

        def prompt() -> None:
            if interactive:
                out.write("you: ")
                out.flush()

        async for line in _read_lines(source, prompt):
            if not interactive and line.strip():
                out.write(f"you: {line.rstrip()}\n")
            if not await trial.handle(line):
                break
    return 0


def main(database_url: str | None = None) -> int:
    logging.getLogger().setLevel(logging.WARNING)
    try:
        return asyncio.run(run_trial(sys.stdin, sys.stdout, database_url=database_url))
    except KeyboardInterrupt:
        return 0
