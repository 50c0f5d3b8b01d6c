"""The app as separate `amigo-slack run` processes, for restarts and replicas."""

from __future__ import annotations

import asyncio
import signal
from asyncio.subprocess import STDOUT
from pathlib import Path

import slackbot
from slackbot.sandbox.amigo_fake import FakeAmigo
from slackbot.sandbox.slack_fake import FakeSlack
from tests.test_cli import CLI, env_for, free_port, wait_healthy

SOURCE = str(Path(slackbot.__file__).resolve().parents[1])
"""Where the tests import the app from: its processes import it from there too (the
script's own environment may have another copy installed)."""


class App:
    """`amigo-slack run` as a child process that can be killed and started again."""

    def __init__(self, slack: FakeSlack, amigo: FakeAmigo, db: str, cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env_for(slack, amigo, db, PORT=str(self.port), HOST="127.0.0.1")
        self.env["SLACK_EDIT_INTERVAL_SECONDS"] = "0.3"
        self.env["THREAD_LEASE_SECONDS"] = "4"
        self.env["SLACK_RATE_LIMITS"] = "chat.update=6000/100"  # the fake Slack sets none here
        self.env["PYTHONPATH"] = SOURCE
        self.cwd = cwd
        self.database_url = db
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path: Path | None = None
        self.starts = 0

    async def start(self) -> None:
        # Output goes to a file: a pipe nobody reads would block the app once full.
        self.starts += 1
        self.log_path = self.cwd / f"app-{self.port}-{self.starts}.log"
        with self.log_path.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                CLI, "run", cwd=self.cwd, env=self.env, stdout=log, stderr=STDOUT
            )
        await wait_healthy(self.url, self.proc, 30)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
