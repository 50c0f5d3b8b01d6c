"""Many Slack threads at once: how the app keeps up, and what pacing its edits buys.

Run from the repository root (the virtualenv active, the project installed)::

    python -m benchmarks.concurrency                      # 200 threads x 3 turns, both writers
    python -m benchmarks.concurrency --threads 20 --turns 2
    python -m benchmarks.concurrency --replicas 2 --database postgresql \\
        --database-url postgresql+asyncpg://user:password@127.0.0.1/postgres

What happens, once per reply writer (``paced``, then the naive ``edit-per-piece``):

1. A fresh :class:`FakeSlack` (``chat.update`` limited to Slack's Tier 3: 50 a minute,
   bursts of 10) and a fresh :class:`FakeAmigo` start in this process, on loopback ports.
2. The real app, ``amigo-slack run`` in HTTP mode, starts as one or more child processes
   (``--replicas``) on a fresh database, so that its CPU time and memory are its own.
3. N simulated people (one Slack user per thread, about ten threads per channel) each
   mention the app to start a thread, then reply in it K-1 times, each time after the
   previous answer is complete. Every Amigo answer is scripted: 300-900 characters,
   streamed in pieces of 20-60 characters 50-120 ms apart after a short "think".
   Event deliveries go round-robin to the replicas.
4. Both fakes record every call with ``time.monotonic()``; the figures come from those
   records, from the timed event POSTs, and from ``/proc/<pid>`` of the app processes.

At the end a table compares the writers (and their ratio, naive / paced). It measures the
app against fakes on one machine: absolute latencies include the fakes' and this driver's
own work, and the machine's cores are shared by all of it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import os
import random
import re
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlalchemy.engine import make_url

import slackbot
from slackbot.sandbox.amigo_fake import FakeAmigo, Reply, split_text
from slackbot.sandbox.slack_fake import FakeSlack, RecordedCall, message_text
from slackbot.sandbox.slack_sender import SlackSender, new_ts

WRITERS = ("paced", "edit-per-piece")
SIGNING_SECRET = "made-up-signing-secret-for-the-benchmark"
SERVICE_ID = "0123456789abcdef01234567"
THREADS_PER_CHANNEL = 10
SLACK_EDITS_PER_MINUTE = 50
"""Slack's Tier-3 budget for `chat.update`, per workspace (FakeSlack enforces it)."""
SLACK_EDIT_BURST = 10
APP_EDIT_BURST = 8
"""The app's default SLACK_EDIT_BURST (kept below Slack's burst)."""
POLL_SECONDS = 0.1
"""How often the fakes' records are read to notice that a reply is complete."""
SETTLE_SECONDS = 10.0
"""A reply whose last edit (the answer with its menu, or a notice) was refused with a 429 and
whose message then saw no `chat.update` attempt for this long is taken as ended without it:
the app gave up retrying (slack_sdk waits at most Retry-After + 1 s between attempts)."""
PLACEHOLDER_TIMEOUT_SECONDS = 120.0
TURN_TIMEOUT_SECONDS = 600.0
"""A thread whose message gets no placeholder within PLACEHOLDER_TIMEOUT_SECONDS, or whose
reply has not ended within TURN_TIMEOUT_SECONDS, stops there (counted as timed out)."""
CLI = Path(sys.executable).parent / "amigo-slack"

# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    threads: int
    turns: int
    replicas: int
    database: str
    database_url: str | None
    writers: tuple[str, ...]
    seed: int
    timeout: float
    """Seconds one writer's run may take before it stops and reports what finished."""
    ramp: float
    """Threads start at random moments within this many seconds."""
    workdir: Path | None
    """Where databases and app logs go (kept); None: a temporary directory."""


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.concurrency",
        description="Concurrent Slack threads against the sandbox; prints figures.",
    )
    parser.add_argument("--threads", type=int, default=200, help="concurrent threads (200)")
    parser.add_argument("--turns", type=int, default=3, help="turns per thread (3)")
    parser.add_argument("--replicas", type=int, default=1, help="app processes (1)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--database-url",
        help="postgresql+asyncpg://user:password@host/db (required for postgresql; "
        "each run creates and drops its own database there, so the role needs CREATEDB)",
    )
    parser.add_argument("--writer", choices=(*WRITERS, "both"), default="both")
    parser.add_argument("--seed", type=int, default=1, help="seed of the scripted texts (1)")
    parser.add_argument(
        "--timeout-minutes",
        type=float,
        default=15.0,
        help="per writer run; after it the run stops and reports what finished (15)",
    )
    parser.add_argument(
        "--ramp", type=float, default=10.0, help="seconds over which threads start (10)"
    )
    parser.add_argument("--workdir", type=Path, help="keep databases and app logs here")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.turns < 1 or args.replicas < 1:
        parser.error("--threads, --turns and --replicas must be at least 1")
    if args.database == "postgresql" and not args.database_url:
        parser.error("--database postgresql needs --database-url postgresql+asyncpg://...")
    if args.database == "sqlite" and args.database_url:
        parser.error("--database-url goes with --database postgresql")
    if args.database_url and not args.database_url.startswith("postgresql+asyncpg://"):
        parser.error("--database-url must start with postgresql+asyncpg://")
    return Options(
        threads=args.threads,
        turns=args.turns,
        replicas=args.replicas,
        database=args.database,
        database_url=args.database_url,
        writers=WRITERS if args.writer == "both" else (args.writer,),
        seed=args.seed,
        timeout=args.timeout_minutes * 60,
        ramp=max(0.0, args.ramp),
        workdir=args.workdir,
    )


# --------------------------------------------------------------------------- the script

_WORDS = (
    "account access admin answer app billing browser cache change check client code "
    "config connect customer data default device email error export file first follow "
    "guide help install invoice issue key limit link list login message network next "
    "option order page password plan policy profile project report request reset role "
    "search server service settings setup share sign step support team ticket token "
    "update upload user version view workspace"
).split()


def _sentence(rng: random.Random, end: str = ".") -> str:
    words = rng.choices(_WORDS, k=rng.randint(6, 16))
    return " ".join(words).capitalize() + end


def _reply_text(rng: random.Random) -> str:
    """300-900 characters of plain prose in short paragraphs."""
    target = rng.randint(300, 780)
    paragraphs: list[list[str]] = [[]]
    length = 0
    while length < target:
        if paragraphs[-1] and rng.random() < 0.3:
            paragraphs.append([])
        sentence = _sentence(rng)
        paragraphs[-1].append(sentence)
        length += len(sentence) + 1
    return "\n\n".join(" ".join(p) for p in paragraphs)


@dataclass(frozen=True)
class TurnScript:
    """One message of a person and the answer Amigo streams to it."""

    user_text: str
    reply_text: str
    pieces: int
    delay: float
    """Seconds between two pieces."""
    think: float
    """Seconds before the first piece."""
    pause: float
    """Seconds the person waits, after the answer is complete, before the next message."""

    @property
    def first_piece(self) -> str:
        return split_text(self.reply_text, self.pieces)[0]


@dataclass(frozen=True)
class ThreadScript:
    index: int
    user_id: str
    channel: str
    start_delay: float
    turns: tuple[TurnScript, ...]


def write_scripts(opts: Options) -> list[ThreadScript]:
    """Every thread's messages and answers, the same for every writer (given the seed).

    User texts are unique (FakeAmigo matches an answer to its message by the text) and so
    are the answers' first pieces (which tell whose answer a stream is).
    """
    rng = random.Random(opts.seed)
    channels = math.ceil(opts.threads / THREADS_PER_CHANNEL)
    user_texts: set[str] = set()
    first_pieces: set[str] = set()
    threads = []
    for index in range(opts.threads):
        turns = []
        for _ in range(opts.turns):
            user_text = _sentence(rng, "?")
            while user_text in user_texts:
                user_text = _sentence(rng, "?")
            user_texts.add(user_text)
            while True:
                reply_text = _reply_text(rng)
                pieces = max(1, round(len(reply_text) / rng.uniform(20, 60)))
                turn = TurnScript(
                    user_text=user_text,
                    reply_text=reply_text,
                    pieces=pieces,
                    delay=rng.uniform(0.05, 0.12),
                    think=rng.uniform(0.3, 1.2),
                    pause=rng.uniform(1.0, 3.0),
                )
                if turn.first_piece not in first_pieces:
                    break
            first_pieces.add(turn.first_piece)
            turns.append(turn)
        threads.append(
            ThreadScript(
                index=index,
                user_id=f"UBENCH{index:05d}",
                channel=f"CBENCH{index % channels:04d}",
                start_delay=rng.uniform(0, opts.ramp),
                turns=tuple(turns),
            )
        )
    return threads


# --------------------------------------------------------------------------- measurements


@dataclass
class ReplyRecord:
    """What was seen of one turn: the person's message and the app's reply to it.

    Every time is ``time.monotonic()`` in this process (the fakes run here too).
    """

    thread: ThreadScript
    turn: int
    script: TurnScript
    sent_at: float | None = None
    acks: list[float] = field(default_factory=list)
    """Seconds each event POST of this message took to be answered."""
    ack_failures: int = 0
    reply_ts: str | None = None
    placeholder_at: float | None = None
    amigo_opened_at: float | None = None
    """Amigo's first event of the answer's stream (it had the request)."""
    amigo_first_piece_at: float | None = None
    amigo_complete_at: float | None = None
    first_visible_at: float | None = None
    final_at: float | None = None
    """The final edit: the whole answer, with the menu under it."""
    notice_at: float | None = None
    """The reply ended with a notice instead (failed or interrupted turn)."""
    last_activity: float | None = None
    ending_refused_at: float | None = None
    update_calls: int = 0
    """`chat.update` requests on the reply's message, answered or refused."""
    updates_applied: int = 0
    rate_limited: int = 0
    settled: bool = False
    """Taken as ended although its last edit was refused (see SETTLE_SECONDS)."""
    timed_out: bool = False
    placed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the placeholder is seen."""
    done: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the reply has ended: final edit, notice, or given up (settled)."""


def _has_footer(args: dict[str, Any]) -> bool:
    """Whether an edit carries the buttons the app puts under a reply that has ended."""
    blocks = args.get("blocks")
    return isinstance(blocks, list) and any(
        isinstance(b, dict) and b.get("type") == "actions" for b in blocks
    )


def _is_status(text: str) -> bool:
    """The placeholder and other statuses shown before the answer: one italic line."""
    return text.startswith("_") and text.endswith("_") and "\n" not in text


class Observer:
    """Reads the fakes' records as they grow and files each call under its reply."""

    def __init__(self, slack: FakeSlack, amigo: FakeAmigo, records: list[ReplyRecord]) -> None:
        self._slack = slack
        self._amigo = amigo
        self._by_first_piece = {r.script.first_piece: r for r in records}
        self._by_message_id: dict[str, ReplyRecord] = {}
        self._stream_opened: dict[str, float] = {}
        """When the stream now open on each Amigo conversation sent its first event."""
        self._by_reply_ts: dict[tuple[str, str], ReplyRecord] = {}
        self._threads: dict[tuple[str, str], list[ReplyRecord]] = {}
        self._records = records
        self._slack_seen = 0
        self._amigo_seen = 0
        self.unmatched_updates = 0

    def watch_thread(self, channel: str, root_ts: str, records: list[ReplyRecord]) -> None:
        self._threads[(channel, root_ts)] = records

    async def run(self) -> None:
        while True:
            self.poll()
            await asyncio.sleep(POLL_SECONDS)

    def poll(self) -> None:
        calls = self._slack.calls
        for call in calls[self._slack_seen :]:
            self._on_slack_call(call)
        self._slack_seen = len(calls)
        emitted = self._amigo.emitted
        for item in emitted[self._amigo_seen :]:
            if isinstance(item.event, dict):
                self._on_amigo_event(item.conversation_id, item.event, item.at)
        self._amigo_seen = len(emitted)
        now = time.monotonic()
        for record in self._records:
            if (
                record.ending_refused_at is not None
                and record.last_activity is not None
                and not record.done.is_set()
                and now - record.last_activity > SETTLE_SECONDS
            ):
                record.settled = True
                record.done.set()

    def _on_slack_call(self, call: RecordedCall) -> None:
        if call.method == "chat.postMessage" and call.ok:
            self._on_post(call)
        elif call.method == "chat.update":
            self._on_update(call)

    def _on_post(self, call: RecordedCall) -> None:
        """The first post in a thread after a message was sent is that turn's placeholder."""
        channel = str(call.args.get("channel"))
        for record in self._threads.get((channel, str(call.args.get("thread_ts"))), []):
            if record.sent_at is not None and record.reply_ts is None:
                if call.at >= record.sent_at:
                    record.reply_ts = str(call.response.get("ts"))
                    record.placeholder_at = call.at
                    record.placed.set()
                    self._by_reply_ts[(channel, record.reply_ts)] = record
                return

    def _on_update(self, call: RecordedCall) -> None:
        record = self._by_reply_ts.get((str(call.args.get("channel")), str(call.args.get("ts"))))
        if record is None:
            self.unmatched_updates += 1
            return
        record.update_calls += 1
        record.last_activity = call.at
        text = message_text(call.args)
        answer = record.script.reply_text
        # An edit ends the reply when it brings the menu (or a Retry button), or a text that
        # is neither a status nor the answer so far: a notice such as "could not start".
        ending = _has_footer(call.args) or not (answer.startswith(text) or _is_status(text))
        if call.status == 429:
            record.rate_limited += 1
            if ending:
                record.ending_refused_at = call.at
        if not call.ok:
            return
        record.updates_applied += 1
        if record.first_visible_at is None and text and answer.startswith(text):
            record.first_visible_at = call.at
        if ending and not record.done.is_set():
            if text == answer:
                record.final_at = call.at
            else:
                record.notice_at = call.at
            record.done.set()

    def _on_amigo_event(self, conversation_id: str, event: dict[str, Any], at: float) -> None:
        kind = event.get("type")
        message_id = str(event.get("message_id"))
        if kind in ("conversation-created", "user-message-available"):
            self._stream_opened[conversation_id] = at  # one stream at a time per conversation
        elif kind == "new-message" and event.get("sequence_number") == 0:
            record = self._by_first_piece.get(str(event.get("message")))
            if record is not None:
                record.amigo_opened_at = self._stream_opened.get(conversation_id)
                record.amigo_first_piece_at = at
                self._by_message_id[message_id] = record
        elif kind == "interaction-complete":
            record = self._by_message_id.get(message_id)
            if record is not None:
                record.amigo_complete_at = at


# --------------------------------------------------------------------------- databases


async def create_database(opts: Options, workdir: Path, label: str) -> str:
    """The URL of a fresh, empty database for one run."""
    if opts.database == "sqlite":
        path = workdir / f"{label}.db"
        for stale in (path, path.with_suffix(".db-wal"), path.with_suffix(".db-shm")):
            stale.unlink(missing_ok=True)
        return f"sqlite+aiosqlite:///{path}"
    assert opts.database_url is not None
    server = make_url(opts.database_url)
    name = f"amigo_bench_{label.replace('-', '_')}_{os.getpid()}"
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server.set(database=name).render_as_string(hide_password=False)


async def drop_database(opts: Options, url: str) -> None:
    if opts.database == "sqlite":
        return  # the file goes with the temporary directory
    assert opts.database_url is not None
    name = make_url(url).database
    admin_dsn = make_url(opts.database_url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# --------------------------------------------------------------------------- the app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_env(slack: FakeSlack, amigo: FakeAmigo, database_url: str, replicas: int) -> dict[str, str]:
    """Settings for `amigo-slack`: the fakes, the database, and each replica's
    share of the workspace's edit budget (as the README says to set it); the rest default."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    # The naive writer's app is `python -m benchmarks.naive_writer`, run from a work dir.
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    fakes = slack.app_settings(SIGNING_SECRET) | amigo.app_settings(SERVICE_ID)
    return (
        env
        | {name.upper(): value for name, value in fakes.items()}
        | {
            "AMIGO_RETRY_MAX_WAIT_SECONDS": "5",
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "SLACK_EDITS_PER_MINUTE": f"{SLACK_EDITS_PER_MINUTE / replicas:g}",
            "SLACK_EDIT_BURST": str(max(1, APP_EDIT_BURST // replicas)),
            "SHUTDOWN_GRACE_SECONDS": "5",
            "LOG_LEVEL": "INFO",
        }
    )


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float
    peak_rss_mb: float


def read_usage(pid: int) -> Usage | None:
    """CPU time (user + system) and peak resident memory of a live process, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    peak = int(match.group(1)) / 1024 if match else math.nan
    return Usage(cpu, peak)


def app_command(writer: str) -> list[str]:
    """How to start the app with this writer: `amigo-slack run`, or the naive writer's
    copy of it (benchmarks/naive_writer.py; it is not part of the app)."""
    if writer == "edit-per-piece":
        return [sys.executable, "-m", "benchmarks.naive_writer", "run"]
    return [str(CLI), "run"]


class AppProcess:
    """One app child process in HTTP mode; its output goes to a log file."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str, command: list[str]) -> None:
        self.command = command
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env | {"PORT": str(self.port)}
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.command, cwd=self.workdir, env=self.env, stdout=self._log, stderr=self._log
        )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=1) as client:
            while time.monotonic() < deadline and self.proc.returncode is None:
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the app did not start; see its log:\n{self.log_tail()}")

    def usage(self) -> Usage | None:
        return read_usage(self.proc.pid) if self.proc is not None else None

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._log.close()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def log_counts(self) -> tuple[int, int]:
        """(warnings, errors) the app logged."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        levels = re.findall(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) ", text, re.MULTILINE)
        return levels.count("WARNING"), len(levels) - levels.count("WARNING")


async def migrate(env: dict[str, str], workdir: Path) -> None:
    """Create the schema once, before any replica starts (they would race to do it)."""
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        "migrate",
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 120)
    if proc.returncode != 0:
        raise RuntimeError("amigo-slack migrate failed:\n" + output.decode(errors="replace"))


def code_fingerprint() -> str:
    """A short hash of the app's source, to tell whether it changed between two runs."""
    digest = hashlib.sha256()
    for path in sorted(Path(slackbot.__file__).parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# --------------------------------------------------------------------------- the people


class Deliveries:
    """Sends events as Slack does, to the replicas in turn, timing each answer."""

    def __init__(self, senders: list[SlackSender]) -> None:
        self._senders = senders
        self._next = 0
        self.builder = senders[0]
        """Builds events (any sender would do: they differ only in where they send)."""

    async def send(self, event: dict[str, Any], record: ReplyRecord) -> None:
        sender = self._senders[self._next % len(self._senders)]
        self._next += 1
        started = time.monotonic()
        try:
            response = await sender.event(event)
        except httpx.HTTPError:
            record.ack_failures += 1
            return
        record.acks.append(time.monotonic() - started)
        if response.status_code != 200:
            record.ack_failures += 1


async def drive_thread(
    thread: ThreadScript,
    records: list[ReplyRecord],
    amigo: FakeAmigo,
    deliveries: Deliveries,
    observer: Observer,
) -> None:
    """One person: a mention starts the thread; each reply waits for the previous answer."""
    await asyncio.sleep(thread.start_delay)
    sender = deliveries.builder
    root_ts = new_ts()
    observer.watch_thread(thread.channel, root_ts, records)
    for index, (turn, record) in enumerate(zip(thread.turns, records, strict=True)):
        amigo.queue_reply(
            Reply(
                text=turn.reply_text,
                pieces=turn.pieces,
                delay=turn.delay,
                think=turn.think,
                user_text=turn.user_text,
                kind="create" if index == 0 else "interact",
            )
        )
        if index == 0:
            # Slack sends both an app_mention and a message event for one such post.
            text = f"<@{sender.bot_user_id}> {turn.user_text}"
            mention = sender.mention(thread.user_id, text, channel=thread.channel, ts=root_ts)
            message = sender.message(thread.user_id, text, channel=thread.channel, ts=root_ts)
            message["client_msg_id"] = mention["client_msg_id"]
            message["blocks"] = mention["blocks"]
            record.sent_at = time.monotonic()
            await asyncio.gather(deliveries.send(mention, record), deliveries.send(message, record))
        else:
            event = sender.message(
                thread.user_id, turn.user_text, channel=thread.channel, thread_ts=root_ts
            )
            record.sent_at = time.monotonic()
            await deliveries.send(event, record)
        try:
            await asyncio.wait_for(record.placed.wait(), PLACEHOLDER_TIMEOUT_SECONDS)
            await asyncio.wait_for(record.done.wait(), TURN_TIMEOUT_SECONDS)
        except TimeoutError:
            record.timed_out = True
            return
        if index == 0 and record.notice_at is not None:
            return  # the conversation could not start: the thread's later messages go nowhere
        await asyncio.sleep(turn.pause)


# --------------------------------------------------------------------------- one run


@dataclass
class RunFigures:
    writer: str
    code: str
    """:func:`code_fingerprint` when the app started."""
    wall_seconds: float
    threads: int
    turns_planned: int
    turns_sent: int
    replies_final: int
    replies_notice: int
    replies_settled: int
    replies_timed_out: int
    starts_failed: int
    replies_wrong_text: int
    """Replies whose message, at the end, does not read exactly as Amigo's answer."""
    ack_ms: list[float]
    ack_failures: int
    placeholder_s: list[float]
    amigo_open_s: list[float]
    """From the message being sent to Amigo's first event of the answer."""
    first_visible_s: list[float]
    reply_s: list[float]
    """From the message being sent to the final edit."""
    amigo_stream_s: list[float]
    """From Amigo's first piece to its interaction-complete."""
    update_calls: int
    updates_applied: int
    unmatched_updates: int
    update_429s: int
    all_429s: int
    posts: int
    cpu_seconds: float | None
    peak_rss_mb: float | None
    log_warnings: int
    log_errors: int
    stopped_early: bool
    app_exits: list[int]
    """Exit codes of app processes that ended before the run did (they should not)."""

    @property
    def replies(self) -> int:
        return self.turns_sent


async def run_writer(
    writer: str, opts: Options, scripts: list[ThreadScript], workdir: Path
) -> RunFigures:
    print(f"\n== {writer}: {opts.threads} threads x {opts.turns} turns", flush=True)
    with FakeSlack() as slack, FakeAmigo() as amigo:
        slack.set_rate_limit(
            "chat.update", per_minute=SLACK_EDITS_PER_MINUTE, burst=SLACK_EDIT_BURST
        )
        for thread in scripts:
            name = f"Bench User{thread.index}"
            slack.add_user(thread.user_id, real_name=name, email=f"bench{thread.index}@example.com")
        database_url = await create_database(opts, workdir, writer)
        env = app_env(slack, amigo, database_url, opts.replicas)
        apps = [
            AppProcess(env, workdir, f"{writer}-{n}", app_command(writer))
            for n in range(opts.replicas)
        ]
        try:
            await migrate(env, workdir)
            code = code_fingerprint()
            for app in apps:
                await app.start()
            before = [app.usage() for app in apps]
            records = {
                t.index: [ReplyRecord(t, k, s) for k, s in enumerate(t.turns)] for t in scripts
            }
            every_record = [r for rs in records.values() for r in rs]
            observer = Observer(slack, amigo, every_record)
            watching = asyncio.create_task(observer.run(), name="observer")
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
            async with httpx.AsyncClient(timeout=30, limits=limits) as http:
                senders = [
                    SlackSender(app.url, SIGNING_SECRET, team_id=slack.team_id, http=http)
                    for app in apps
                ]
                for sender in senders:
                    sender.on_event = slack.ingest_event
                deliveries = Deliveries(senders)
                started = time.monotonic()
                people = [
                    asyncio.create_task(
                        drive_thread(t, records[t.index], amigo, deliveries, observer)
                    )
                    for t in scripts
                ]
                progress = asyncio.create_task(report_progress(every_record, started))
                try:
                    _, unfinished = await asyncio.wait(people, timeout=opts.timeout)
                finally:  # also on Ctrl-C: stop the people before their HTTP client closes
                    for task in [*people, progress]:
                        task.cancel()
                    await asyncio.gather(*people, return_exceptions=True)
                wall = time.monotonic() - started
            watching.cancel()
            observer.poll()
            after = [app.usage() for app in apps]
            died = [
                app.proc.returncode for app in apps if app.proc and app.proc.returncode is not None
            ]
        finally:
            for app in apps:
                await app.stop()
            await drop_database(opts, database_url)
        counts = [app.log_counts() for app in apps]
        return summarize(
            writer,
            code,
            every_record,
            slack,
            observer,
            wall=wall,
            usage=(before, after),
            log_counts=counts,
            stopped_early=bool(unfinished),
            app_exits=died,
        )


async def report_progress(records: list[ReplyRecord], started: float) -> None:
    """A line every 30 s, so that a long run shows it is alive."""
    while True:
        await asyncio.sleep(30)
        sent = sum(r.sent_at is not None for r in records)
        done = sum(r.done.is_set() for r in records)
        elapsed = time.monotonic() - started
        print(f"   {elapsed:5.0f} s: {done}/{len(records)} replies done, {sent} sent", flush=True)


def summarize(
    writer: str,
    code: str,
    records: list[ReplyRecord],
    slack: FakeSlack,
    observer: Observer,
    *,
    wall: float,
    usage: tuple[list[Usage | None], list[Usage | None]],
    log_counts: list[tuple[int, int]],
    stopped_early: bool,
    app_exits: list[int],
) -> RunFigures:
    sent = [r for r in records if r.sent_at is not None]
    wrong = 0
    for r in sent:
        message = slack.message(r.thread.channel, r.reply_ts) if r.reply_ts else None
        if message is None or message_text(message) != r.script.reply_text:
            wrong += 1

    def spans(
        start: Callable[[ReplyRecord], float | None], end: Callable[[ReplyRecord], float | None]
    ) -> list[float]:
        out = []
        for r in sent:
            a, b = start(r), end(r)
            if a is not None and b is not None:
                out.append(b - a)
        return out

    before, after = usage
    cpu: float | None = None
    peak: float | None = None
    if all(before) and all(after):
        cpu = sum(
            a.cpu_seconds - b.cpu_seconds for a, b in zip(after, before, strict=True) if a and b
        )
        peak = max(a.peak_rss_mb for a in after if a)
    return RunFigures(
        writer=writer,
        code=code,
        wall_seconds=wall,
        threads=len({r.thread.index for r in records}),
        turns_planned=len(records),
        turns_sent=len(sent),
        replies_final=sum(r.final_at is not None for r in sent),
        replies_notice=sum(r.notice_at is not None for r in sent),
        replies_settled=sum(r.settled and r.final_at is None for r in sent),
        replies_timed_out=sum(r.timed_out for r in sent),
        starts_failed=sum(r.turn == 0 and r.notice_at is not None for r in sent),
        replies_wrong_text=wrong,
        ack_ms=[a * 1000 for r in sent for a in r.acks],
        ack_failures=sum(r.ack_failures for r in sent),
        placeholder_s=spans(lambda r: r.sent_at, lambda r: r.placeholder_at),
        amigo_open_s=spans(lambda r: r.sent_at, lambda r: r.amigo_opened_at),
        first_visible_s=spans(lambda r: r.amigo_first_piece_at, lambda r: r.first_visible_at),
        reply_s=spans(lambda r: r.sent_at, lambda r: r.final_at),
        amigo_stream_s=spans(lambda r: r.amigo_first_piece_at, lambda r: r.amigo_complete_at),
        update_calls=sum(r.update_calls for r in sent),
        updates_applied=sum(r.updates_applied for r in sent),
        unmatched_updates=observer.unmatched_updates,
        update_429s=slack.rate_limited_count("chat.update"),
        all_429s=slack.rate_limited_count(),
        posts=len(slack.calls_named("chat.postMessage", ok=True)),
        cpu_seconds=cpu,
        peak_rss_mb=peak,
        log_warnings=sum(w for w, _ in log_counts),
        log_errors=sum(e for _, e in log_counts),
        stopped_early=stopped_early,
        app_exits=app_exits,
    )


# --------------------------------------------------------------------------- the report


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def _per(total: float | None, count: int) -> float | None:
    return None if total is None or count == 0 else total / count


Row = tuple[str, Callable[[RunFigures], float | None], str]
ROWS: list[Row] = [
    ("turns sent", lambda f: f.turns_sent, "{:.0f}"),
    ("threads that could not start", lambda f: f.starts_failed, "{:.0f}"),
    ("replies complete (answer + menu)", lambda f: f.replies_final, "{:.0f}"),
    ("replies ended with an error notice", lambda f: f.replies_notice, "{:.0f}"),
    ("replies whose last edit was refused", lambda f: f.replies_settled, "{:.0f}"),
    ("replies timed out", lambda f: f.replies_timed_out, "{:.0f}"),
    ("replies not showing Amigo's answer", lambda f: f.replies_wrong_text, "{:.0f}"),
    ("event ack p50 (ms)", lambda f: percentile(f.ack_ms, 50), "{:.1f}"),
    ("event ack p99 (ms)", lambda f: percentile(f.ack_ms, 99), "{:.1f}"),
    ("event acks failed / not 200", lambda f: f.ack_failures, "{:.0f}"),
    ("placeholder p50 (s)", lambda f: percentile(f.placeholder_s, 50), "{:.2f}"),
    ("placeholder p99 (s)", lambda f: percentile(f.placeholder_s, 99), "{:.2f}"),
    ("message -> Amigo stream opens p50 (s)", lambda f: percentile(f.amigo_open_s, 50), "{:.2f}"),
    ("message -> Amigo stream opens p99 (s)", lambda f: percentile(f.amigo_open_s, 99), "{:.2f}"),
    ("first piece -> visible p50 (s)", lambda f: percentile(f.first_visible_s, 50), "{:.2f}"),
    ("first piece -> visible p99 (s)", lambda f: percentile(f.first_visible_s, 99), "{:.2f}"),
    ("message -> final edit p50 (s)", lambda f: percentile(f.reply_s, 50), "{:.1f}"),
    ("message -> final edit p99 (s)", lambda f: percentile(f.reply_s, 99), "{:.1f}"),
    (
        "Amigo stream (1st piece -> complete) p50",
        lambda f: percentile(f.amigo_stream_s, 50),
        "{:.2f}",
    ),
    ("chat.update calls / reply", lambda f: _per(f.update_calls, f.replies), "{:.2f}"),
    ("chat.update applied / reply", lambda f: _per(f.updates_applied, f.replies), "{:.2f}"),
    ("chat.update applied / minute", lambda f: f.updates_applied * 60 / f.wall_seconds, "{:.1f}"),
    ("chat.update 429s", lambda f: f.update_429s, "{:.0f}"),
    ("Slack 429s (all methods)", lambda f: f.all_429s, "{:.0f}"),
    ("CPU seconds / turn", lambda f: _per(f.cpu_seconds, f.turns_sent), "{:.3f}"),
    ("CPU seconds total", lambda f: f.cpu_seconds, "{:.1f}"),
    ("peak RSS (MB, largest replica)", lambda f: f.peak_rss_mb, "{:.0f}"),
    ("wall time (s)", lambda f: f.wall_seconds, "{:.0f}"),
    ("app log warnings", lambda f: f.log_warnings, "{:.0f}"),
    ("app log errors", lambda f: f.log_errors, "{:.0f}"),
]


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None or math.isnan(value) else fmt.format(value)


def print_report(opts: Options, runs: list[RunFigures]) -> None:
    ratio = len(runs) == 2
    headers = ["", *(r.writer for r in runs), *(["naive/paced"] if ratio else [])]
    lines = []
    for label, get, fmt in ROWS:
        values = [get(r) for r in runs]
        cells = [label, *(_cell(v, fmt) for v in values)]
        if ratio:
            paced, naive = values
            cells.append(
                "-" if paced is None or naive is None or paced == 0 else f"{naive / paced:.2f}x"
            )
        lines.append(cells)
    widths = [max(len(row[i]) for row in [headers, *lines]) for i in range(len(headers))]

    def fmt_row(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join([first, *rest]) + " |"

    print()
    print(
        f"threads={opts.threads} turns={opts.turns} replicas={opts.replicas} "
        f"database={opts.database} seed={opts.seed} app code {runs[0].code if runs else '?'}"
    )
    print(fmt_row(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for cells in lines:
        print(fmt_row(cells))
    for run in runs:
        if run.stopped_early:
            print(f"note: the {run.writer} run hit --timeout-minutes; it shows what finished.")
        if run.app_exits:
            print(
                f"WARNING: in the {run.writer} run, app process(es) exited early "
                f"(exit codes {run.app_exits}); its figures are not valid."
            )
        if run.code != runs[0].code:
            print(f"WARNING: the app's code changed between runs ({runs[0].code} -> {run.code}).")
        if run.unmatched_updates:
            print(f"note: {run.unmatched_updates} chat.update calls matched no reply.")


async def amain(opts: Options) -> None:
    if not CLI.exists():
        raise SystemExit(f"{CLI} not found: install the project (pip install -e .) first")
    if opts.database == "sqlite" and opts.replicas > 1:
        print(
            "note: the replicas share one SQLite file (WAL, 30 s busy timeout). That works at "
            "these sizes but is not how to deploy replicas: use PostgreSQL for that."
        )
    scripts = write_scripts(opts)
    replies = [t for s in scripts for t in s.turns]
    print(
        f"{len(scripts)} threads in {len({s.channel for s in scripts})} channels, "
        f"{len(replies)} replies of {sum(len(t.reply_text) for t in replies) / len(replies):.0f} "
        f"characters in {sum(t.pieces for t in replies) / len(replies):.1f} pieces on average"
    )
    runs = []
    if opts.workdir is not None:
        opts.workdir.mkdir(parents=True, exist_ok=True)
        for writer in opts.writers:
            runs.append(await run_writer(writer, opts, scripts, opts.workdir))
    else:
        with tempfile.TemporaryDirectory(prefix="amigo-bench-") as tmp:
            for writer in opts.writers:
                runs.append(await run_writer(writer, opts, scripts, Path(tmp)))
    print_report(opts, runs)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        asyncio.run(amain(parse_args(argv)))
    except KeyboardInterrupt:
        raise SystemExit("interrupted") from None


if __name__ == "__main__":
    main()
