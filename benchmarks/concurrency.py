"""Many Slack threads at once: how soon people see their answers, writer by writer.

Run from the repository root (the virtualenv active, the project installed)::

    python -m benchmarks.concurrency                      # 10x2 and 200x20, three writers
    python -m benchmarks.concurrency --loads 4x2 --turns 2 --ramp 2 --writer adaptive
    python -m benchmarks.concurrency --replicas 2 --database postgresql \\
        --database-url postgresql+asyncpg://user:password@127.0.0.1/postgres

Each load (``--loads``, threads x channels, default ``10x2,200x20``) runs once per reply
writer, each run on fresh fakes, a fresh database and a fresh app:

* ``adaptive``: the app as shipped, ``SLACK_REPLY_WRITER=auto`` (per reply: Slack's native
  streaming, the paced editor, or the thread's status and then the whole answer posted);
* ``paced``: the app with ``SLACK_REPLY_WRITER=edit`` (a placeholder, then paced edits);
* ``edit-per-piece``: the naive writer of ``benchmarks/naive_writer.py`` (one `chat.update`
  per piece, no budget).

What happens in one run:

1. A fresh :class:`FakeSlack` that enforces every method's documented budget
   (``enforce_documented_limits``: Tier 2 `chat.startStream`/`stopStream` 20 a minute,
   Tier 3 `chat.update` 50, Tier 4 `chat.appendStream` 100, `chat.postMessage` 60 a
   minute per channel, `assistant.threads.setStatus` 120 (Slack gives no figure; the
   app's assumption), ...) and a fresh :class:`FakeAmigo` start in this process, on
   loopback ports.
2. The real app, ``amigo-slack run`` in HTTP mode, starts as one or more child processes
   (``--replicas``: on PostgreSQL they book Slack's budgets together; on SQLite each has
   ``SLACK_RATE_LIMIT_SHARE`` = 1 / replicas) on a fresh database, so that its CPU time
   and memory are its own.
3. N simulated people (one Slack user per thread, threads spread evenly over the load's
   channels) each mention the app to start a thread, then reply in it K-1 times, each
   time after the previous answer is complete. Every Amigo answer is scripted: 300-900
   characters, streamed in pieces of 20-60 characters 50-120 ms apart after a short
   "think". Event deliveries go round-robin to the replicas.
4. Both fakes record every call with ``time.monotonic()``; the figures come from those
   records, from the timed event POSTs, and from ``/proc/<pid>`` of the app processes.

What is measured, per reply (one turn: a person's message and the app's answer to it):

* sign of life: the first successful `assistant.threads.setStatus` (a status, not a
  clear) for the thread after the message, or the first successful `chat.postMessage` /
  `chat.startStream` in the thread after it, whichever comes first;
* first visible text: the first successful write (post, update, start, append or stop of
  a stream) after which one of the reply's messages shows some of the agent's text (not
  the "Thinking…" placeholder, a status, or a notice alone);
* whole answer visible: the first successful write that ends the reply (it brings the
  menu under the answer: the final edit, the `chat.stopStream`, the post of the whole
  answer) after which the reply's messages read exactly as Amigo's answer;
* Amigo's side from the FakeAmigo's emitted events: its first piece of the answer, and
  its `interaction-complete`.

At the end (or when a run fails, or on Ctrl-C: the runs that finished), one table per
load compares the writers, with ratios (paced / adaptive, naive / adaptive) for the
latencies, and the issue's targets are checked. It measures the app against fakes on one
machine: absolute latencies include the fakes' and this driver's own work, and the
machine's cores are shared by all of it.

The scripted people are in ``benchmarks/script.py``, how calls are filed under replies in
``benchmarks/observe.py``, the figures and the report in ``benchmarks/report.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import os
import re
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlalchemy.engine import make_url

import slackbot
from benchmarks.observe import Observer, ReplyRecord, reads_as
from benchmarks.report import ADAPTIVE, NAIVE, PACED, WRITERS, RunFigures, print_report
from benchmarks.script import Load, ThreadScript, parse_loads, write_scripts
from slackbot.relay.limits import parse_limits
from slackbot.sandbox.amigo_fake import FakeAmigo, Reply
from slackbot.sandbox.slack_fake import FakeSlack, message_text
from slackbot.sandbox.slack_sender import SlackSender, new_ts

REPLY_WRITER_SETTING = {ADAPTIVE: "auto", PACED: "edit", NAIVE: "edit"}
"""SLACK_REPLY_WRITER for each writer's app (the naive writer's app does not read it)."""
DEFAULT_LOADS = "10x2,200x20"
SIGNING_SECRET = "made-up-signing-secret-for-the-benchmark"
SERVICE_ID = "0123456789abcdef01234567"

ALIVE_TIMEOUT_SECONDS = 120.0
TURN_TIMEOUT_SECONDS = 600.0
"""A thread whose message gets no sign of life within ALIVE_TIMEOUT_SECONDS, or whose
reply has not ended within TURN_TIMEOUT_SECONDS, stops there (counted as timed out)."""
CLI = Path(sys.executable).parent / "amigo-slack"

# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    loads: tuple[Load, ...]
    turns: int
    replicas: int
    database: str
    database_url: str | None
    writers: tuple[str, ...]
    seed: int
    timeout: float
    """Seconds one run (a load with a writer) may take before it stops and reports what
    finished."""
    ramp: float
    """Threads start at random moments within this many seconds."""
    workdir: Path | None
    """Where databases and app logs go (kept); None: a temporary directory."""
    limits: str = ""
    """``method=per_minute/burst,…``: budgets of the fake Slack other than Slack's documented
    ones (the app is told the same with ``SLACK_RATE_LIMITS``), to see what a figure
    depends on."""


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.concurrency",
        description="Concurrent Slack threads against the sandbox, per reply writer; "
        "prints figures.",
    )
    parser.add_argument(
        "--loads",
        default=DEFAULT_LOADS,
        help=f"threads x channels, comma-separated ({DEFAULT_LOADS})",
    )
    parser.add_argument("--turns", type=int, default=3, help="turns per thread (3)")
    parser.add_argument("--replicas", type=int, default=1, help="app processes (1)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--database-url",
        help="postgresql+asyncpg://user:password@host/db (required for postgresql; "
        "each run creates and drops its own database there, so the role needs CREATEDB)",
    )
    parser.add_argument("--writer", choices=(*WRITERS, "all"), default="all")
    parser.add_argument("--seed", type=int, default=1, help="seed of the scripted texts (1)")
    parser.add_argument(
        "--timeout-minutes",
        type=float,
        default=40.0,
        help="per run (one load, one writer); after it the run stops and reports what "
        "finished (40)",
    )
    parser.add_argument(
        "--ramp", type=float, default=10.0, help="seconds over which threads start (10)"
    )
    parser.add_argument("--workdir", type=Path, help="keep databases and app logs here")
    parser.add_argument(
        "--slack-limits",
        default="",
        help="method=per_minute/burst,...: fake Slack budgets other than the documented ones "
        "(the app is told the same), e.g. assistant.threads.setStatus=120/3",
    )
    args = parser.parse_args(argv)
    try:
        parse_limits(args.slack_limits)
    except ValueError as exc:
        parser.error(f"--slack-limits: {exc}")
    try:
        loads = parse_loads(args.loads)
    except ValueError as exc:
        parser.error(f"--loads: {exc}")
    if args.turns < 1 or args.replicas < 1:
        parser.error("--turns and --replicas must be at least 1")
    if args.database == "postgresql" and not args.database_url:
        parser.error("--database postgresql needs --database-url postgresql+asyncpg://...")
    if args.database == "sqlite" and args.database_url:
        parser.error("--database-url goes with --database postgresql")
    if args.database_url and not args.database_url.startswith("postgresql+asyncpg://"):
        parser.error("--database-url must start with postgresql+asyncpg://")
    return Options(
        loads=loads,
        turns=args.turns,
        replicas=args.replicas,
        database=args.database,
        database_url=args.database_url,
        writers=WRITERS if args.writer == "all" else (args.writer,),
        seed=args.seed,
        timeout=args.timeout_minutes * 60,
        ramp=max(0.0, args.ramp),
        workdir=args.workdir,
        limits=args.slack_limits,
    )


# --------------------------------------------------------------------------- the script


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


def app_env(
    slack: FakeSlack, amigo: FakeAmigo, database_url: str, writer: str, replicas: int
) -> dict[str, str]:
    """Settings for `amigo-slack`: the fakes, the database, the writer, and each
    replica's share of the workspace's Slack budgets (as the README says to set it); the
    rest default."""
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
            "SLACK_REPLY_WRITER": REPLY_WRITER_SETTING[writer],
            # On PostgreSQL the replicas book Slack's budgets together; on SQLite each
            # keeps its share.
            "SLACK_RATE_LIMIT_SHARE": (
                "1" if database_url.startswith("postgresql") else f"{1 / replicas:.6g}"
            ),
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
    if writer == NAIVE:
        return [sys.executable, "-m", "benchmarks.naive_writer", "run"]
    return [str(CLI), "run"]


WRITER_METRIC = re.compile(r"^amigo_slack_reply_writers_total\{([^}]*)\} (\S+)$", re.MULTILINE)


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

    async def writers_chosen(self) -> Counter[str]:
        """The app's own count of the writers it chose (`/metrics`), by writer."""
        found: Counter[str] = Counter()
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                text = (await client.get(f"{self.url}/metrics")).text
        except httpx.HTTPError:
            return found
        for match in WRITER_METRIC.finditer(text):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            found[labels.get("writer", "?")] += round(float(match.group(2)))
        return found

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
            await asyncio.wait_for(record.alive.wait(), ALIVE_TIMEOUT_SECONDS)
            await asyncio.wait_for(record.done.wait(), TURN_TIMEOUT_SECONDS)
        except TimeoutError:
            record.timed_out = True
            return
        if index == 0 and record.notice_at is not None:
            return  # the conversation could not start: the thread's later messages go nowhere
        await asyncio.sleep(turn.pause)


# --------------------------------------------------------------------------- one run


async def run_writer(
    load: Load, writer: str, opts: Options, scripts: list[ThreadScript], workdir: Path
) -> RunFigures:
    print(
        f"\n== {load.label} ({load.threads} threads in {load.channels} channels), {writer}: "
        f"{opts.turns} turns each",
        flush=True,
    )
    label = f"{load.label}-{writer}"
    with FakeSlack() as slack, FakeAmigo() as amigo:
        slack.enforce_documented_limits()
        for method, limit in parse_limits(opts.limits).items():
            slack.set_rate_limit(
                method, limit.per_minute, limit.burst, per_channel=limit.per_channel
            )
        enforced = slack.rate_limits()
        for thread in scripts:
            name = f"Bench User{thread.index}"
            slack.add_user(thread.user_id, real_name=name, email=f"bench{thread.index}@example.com")
        database_url = await create_database(opts, workdir, label)
        env = app_env(slack, amigo, database_url, writer, opts.replicas)
        if opts.limits:
            env["SLACK_RATE_LIMITS"] = opts.limits
        apps: list[AppProcess] = []
        try:
            apps += [
                AppProcess(env, workdir, f"{label}-{n}", app_command(writer))
                for n in range(opts.replicas)
            ]
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
            chosen: Counter[str] = Counter()
            for app in apps:
                chosen += await app.writers_chosen()
            died = [
                app.proc.returncode for app in apps if app.proc and app.proc.returncode is not None
            ]
        finally:
            for app in apps:
                await app.stop()
            await drop_database(opts, database_url)
        counts = [app.log_counts() for app in apps]
        figures = summarize(
            load,
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
            writers_chosen=chosen,
            limits=enforced,
        )
    print(
        f"   done in {figures.wall_seconds:.0f} s: {figures.replies_final}/{figures.turns_sent} "
        f"replies whole, {figures.all_429s} Slack 429s",
        flush=True,
    )
    return figures


async def report_progress(records: list[ReplyRecord], started: float) -> None:
    """A line every 30 s, so that a long run shows it is alive."""
    while True:
        await asyncio.sleep(30)
        sent = sum(r.sent_at is not None for r in records)
        done = sum(r.done.is_set() for r in records)
        elapsed = time.monotonic() - started
        print(f"   {elapsed:5.0f} s: {done}/{len(records)} replies done, {sent} sent", flush=True)


def _describe(record: ReplyRecord, shown: list[str]) -> str:
    how = (
        "timed out"
        if record.timed_out
        else "ending write refused"
        if record.settled
        else "ended with a notice"
        if record.notice_at is not None
        else "ended with other text"
        if record.ended_other_at is not None
        else "ended"
        if record.final_at is not None
        else "not ended"
    )
    calls = ", ".join(f"{m} {o} x{n}" for (m, o), n in sorted(record.calls.items()))
    texts = " | ".join(repr(t[:60] + ("…" if len(t) > 60 else "")) for t in shown) or "nothing"
    return (
        f"thread {record.thread.index} ({record.thread.channel}) turn {record.turn}: {how}, "
        f"{record.writer} writer; shows {texts}; calls: {calls or 'none'}"
    )


def summarize(
    load: Load,
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
    writers_chosen: Counter[str],
    limits: dict[str, tuple[float, int, bool]],
) -> RunFigures:
    sent = [r for r in records if r.sent_at is not None]
    wrong = 0
    examples: list[str] = []
    for r in sent:
        found = [slack.message(r.thread.channel, ts) for ts in r.messages]
        shown = [message_text(m) for m in found if m is not None]
        if not reads_as(shown, r.script.reply_text):
            wrong += 1
        if (r.final_at is None or not reads_as(shown, r.script.reply_text)) and len(examples) < 3:
            examples.append(_describe(r, shown))

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
    calls: Counter[tuple[str, str]] = Counter()
    for call in slack.calls:
        calls[(call.method, "ok" if call.ok else "429" if call.status == 429 else "error")] += 1
    return RunFigures(
        load=load,
        writer=writer,
        code=code,
        wall_seconds=wall,
        threads=len({r.thread.index for r in records}),
        turns_planned=len(records),
        turns_sent=len(sent),
        replies_final=sum(r.final_at is not None for r in sent),
        replies_notice=sum(r.notice_at is not None for r in sent),
        replies_other=sum(r.ended_other_at is not None for r in sent),
        replies_settled=sum(r.settled and r.final_at is None for r in sent),
        replies_timed_out=sum(r.timed_out for r in sent),
        starts_failed=sum(r.turn == 0 and r.notice_at is not None for r in sent),
        replies_wrong_text=wrong,
        replies_by_writer=Counter(r.writer for r in sent),
        writers_chosen=writers_chosen,
        ack_ms=[a * 1000 for r in sent for a in r.acks],
        ack_failures=sum(r.ack_failures for r in sent),
        alive_s=spans(lambda r: r.sent_at, lambda r: r.alive_at),
        amigo_open_s=spans(lambda r: r.sent_at, lambda r: r.amigo_opened_at),
        first_text_s=spans(lambda r: r.amigo_first_piece_at, lambda r: r.first_text_at),
        whole_s=spans(lambda r: r.amigo_complete_at, lambda r: r.final_at),
        reply_s=spans(lambda r: r.sent_at, lambda r: r.final_at),
        amigo_stream_s=spans(lambda r: r.amigo_first_piece_at, lambda r: r.amigo_complete_at),
        calls=calls,
        unmatched=observer.unmatched,
        all_429s=slack.rate_limited_count(),
        cpu_seconds=cpu,
        peak_rss_mb=peak,
        log_warnings=sum(w for w, _ in log_counts),
        log_errors=sum(e for _, e in log_counts),
        stopped_early=stopped_early,
        app_exits=app_exits,
        examples=examples,
        limits=limits,
    )


# --------------------------------------------------------------------------- main


async def amain(opts: Options) -> None:
    if not CLI.exists():
        raise SystemExit(f"{CLI.name} not found next to this Python: install the project first")
    if opts.database == "sqlite" and opts.replicas > 1:
        print(
            "note: the replicas share one SQLite file (WAL, 30 s busy timeout). That works at "
            "these sizes but is not how to deploy replicas: use PostgreSQL for that."
        )
    runs = []

    async def run_all(workdir: Path) -> None:
        for load in opts.loads:
            scripts = write_scripts(load, turns=opts.turns, seed=opts.seed, ramp=opts.ramp)
            replies = [t for s in scripts for t in s.turns]
            print(
                f"\n{load.label}: {len(scripts)} threads in "
                f"{len({s.channel for s in scripts})} channels, {len(replies)} replies of "
                f"{sum(len(t.reply_text) for t in replies) / len(replies):.0f} characters in "
                f"{sum(t.pieces for t in replies) / len(replies):.1f} pieces on average",
                flush=True,
            )
            for writer in opts.writers:
                runs.append(await run_writer(load, writer, opts, scripts, workdir))

    parameters = (
        f"loads={','.join(load.label for load in opts.loads)} turns={opts.turns} "
        f"ramp={opts.ramp:g}s replicas={opts.replicas} database={opts.database} "
        f"seed={opts.seed} writers={','.join(opts.writers)}"
    )
    try:
        if opts.workdir is not None:
            opts.workdir.mkdir(parents=True, exist_ok=True)
            await run_all(opts.workdir)
        else:
            with tempfile.TemporaryDirectory(prefix="amigo-bench-") as tmp:
                await run_all(Path(tmp))
    finally:  # also when a run fails or on Ctrl-C: the runs that finished
        if runs:
            print_report(parameters, opts.loads, opts.turns, runs)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        asyncio.run(amain(parse_args(argv)))
    except KeyboardInterrupt:
        raise SystemExit("interrupted") from None


if __name__ == "__main__":
    main()
