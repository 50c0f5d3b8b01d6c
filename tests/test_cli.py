"""The command line as an admin uses it: a real process, real settings."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from asyncio.subprocess import PIPE, STDOUT
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from slackbot.sandbox.amigo_fake import FakeAmigo, Reply
from slackbot.sandbox.slack_fake import FakeSlack, message_text
from slackbot.sandbox.slack_sender import SlackSender
from tests.e2e.conftest import ALICE, SIGNING_SECRET, settings_overrides

CLI = str(Path(sys.executable).parent / "amigo-slack")
REQUIRED = [
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "AMIGO_ORGANIZATION_ID",
    "AMIGO_API_KEY",
    "AMIGO_API_KEY_ID",
    "AMIGO_USER_ID",
    "AMIGO_SERVICE_ID",
    "AMIGO_USER_ROLE",
]


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return env | values


def run_cli(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def env_for(
    slack: FakeSlack, amigo: FakeAmigo, database: Path | str, **extra: str
) -> dict[str, str]:
    """The environment of an app process; ``database`` is a SQLite file or a URL."""
    url = f"sqlite+aiosqlite:///{database}" if isinstance(database, Path) else database
    values = {k.upper(): str(v) for k, v in settings_overrides(slack, amigo, url).items()}
    values.pop("SLACK_APP_TOKEN")
    return clean_env(**(values | extra))


@pytest.fixture
def fakes() -> Iterator[tuple[FakeSlack, FakeAmigo]]:
    with FakeSlack() as slack, FakeAmigo() as amigo:
        slack.add_user(ALICE, name="alice", real_name="Alice Liddell", email="alice@example.com")
        yield slack, amigo


def test_run_without_settings_exits_2_naming_every_missing_variable(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path, env=clean_env())
    assert result.returncode == 2
    for name in REQUIRED:
        assert name in result.stderr, name
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "amigo-slack.db").exists()


def test_malformed_settings_are_named_without_echoing_secrets(tmp_path: Path) -> None:
    env = clean_env(
        SLACK_BOT_TOKEN="not-a-bot-token-secret",
        SLACK_SIGNING_SECRET="s3cret-signing",
        AMIGO_ORGANIZATION_ID="org",
        AMIGO_API_KEY="k",
        AMIGO_API_KEY_ID="kid",
        AMIGO_USER_ID="u",
        AMIGO_SERVICE_ID="not-hex",
        AMIGO_USER_ROLE="role",
        DATABASE_URL="sqlite:///sync.db",
    )
    result = run_cli("run", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is invalid" in result.stderr
    assert "AMIGO_SERVICE_ID is invalid" in result.stderr
    assert "DATABASE_URL is invalid" in result.stderr
    assert "not-a-bot-token-secret" not in result.stderr


def test_manifest_with_url_is_set_up_for_http_mode(tmp_path: Path) -> None:
    result = run_cli("manifest", "--url", "https://bot.example.com/", cwd=tmp_path, env=clean_env())
    assert result.returncode == 0, result.stderr
    manifest = yaml.safe_load(result.stdout)
    endpoint = "https://bot.example.com/slack/events"
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert manifest["settings"]["event_subscriptions"]["request_url"] == endpoint
    assert manifest["settings"]["interactivity"]["request_url"] == endpoint
    assert manifest["features"]["slash_commands"][0]["url"] == endpoint
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert {"app_mention", "message.channels", "message.im"} <= set(events)


def test_the_repository_manifest_is_ready_for_socket_mode(tmp_path: Path) -> None:
    result = run_cli("manifest", cwd=tmp_path, env=clean_env())
    manifest = yaml.safe_load(result.stdout)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["features"]["slash_commands"][0]["command"] == "/amigo"


def test_migrate_creates_the_database(tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo]) -> None:
    db = tmp_path / "fresh.db"
    result = run_cli("migrate", cwd=tmp_path, env=env_for(*fakes, db))
    assert result.returncode == 0, result.stderr
    assert db.exists()
    again = run_cli("migrate", cwd=tmp_path, env=env_for(*fakes, db))
    assert again.returncode == 0


def test_check_reports_what_works_and_what_does_not(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo]
) -> None:
    env = env_for(*fakes, tmp_path / "x.db")
    good = run_cli("check", cwd=tmp_path, env=env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ok   Slack" in good.stdout and "ok   Amigo" in good.stdout

    bad = run_cli("check", cwd=tmp_path, env=env | {"AMIGO_API_KEY": "wrong-key-value"})
    assert bad.returncode == 1
    assert "FAIL Amigo" in bad.stdout
    assert "wrong-key-value" not in bad.stdout + bad.stderr


def assert_clear_stop(result: subprocess.CompletedProcess[str], *names: str) -> str:
    """Exit status 2, no traceback, and one line that says why, naming ``names``."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    stops = [line for line in result.stderr.splitlines() if "cannot start" in line]
    assert len(stops) == 1, output
    for name in names:
        assert name in stops[0], stops[0]
    return stops[0]


def test_a_database_directory_that_does_not_exist_is_named(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo]
) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    for command in ("run", "migrate"):
        result = run_cli(command, cwd=tmp_path, env=env_for(*fakes, missing / "app.db"))
        assert_clear_stop(result, str(missing), "does not exist")


def test_an_unreachable_postgresql_is_named_by_host_and_port(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo]
) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+asyncpg://amigo:pw-not-shown@127.0.0.1:{port}/amigo"
    for command in ("run", "migrate"):
        result = run_cli(command, cwd=tmp_path, env=env_for(*fakes, url))
        line = assert_clear_stop(result, f"127.0.0.1:{port}", "connection refused")
        assert "pw-not-shown" not in result.stdout + result.stderr, line


def test_an_unknown_log_level_is_named(tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo]) -> None:
    env = env_for(*fakes, tmp_path / "x.db", LOG_LEVEL="verbose")
    assert_clear_stop(run_cli("run", cwd=tmp_path, env=env), "LOG_LEVEL", "verbose")
    assert not (tmp_path / "x.db").exists()


def test_a_port_in_use_stops_before_anything_listens(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = env_for(*fakes, tmp_path / "x.db", PORT=str(port), HOST="127.0.0.1")
        result = run_cli("run", cwd=tmp_path, env=env)
    assert_clear_stop(result, f"port {port}", "in use")
    assert "listening" not in result.stderr


def test_a_bot_token_slack_refuses_stops_run(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo]
) -> None:
    env = env_for(*fakes, tmp_path / "x.db", SLACK_BOT_TOKEN="xoxb-not-this-one")
    result = run_cli("run", cwd=tmp_path, env=env)
    assert_clear_stop(result, "SLACK_BOT_TOKEN", "invalid_auth")


def test_migrate_needs_only_the_database(tmp_path: Path) -> None:
    db = tmp_path / "only.db"
    env = clean_env(DATABASE_URL=f"sqlite+aiosqlite:///{db}")
    result = run_cli("migrate", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert db.exists()
    assert "alembic" not in result.stderr  # Alembic's plumbing stays out of the log


def test_check_tries_the_app_level_token_and_says_which_mode(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo]
) -> None:
    slack, amigo = fakes
    env = env_for(slack, amigo, tmp_path / "x.db", SLACK_APP_TOKEN=slack.app_token)
    good = run_cli("check", cwd=tmp_path, env=env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "checked for Socket Mode" in good.stdout
    assert "ok   Slack: SLACK_APP_TOKEN" in good.stdout

    bad = run_cli("check", cwd=tmp_path, env=env | {"SLACK_APP_TOKEN": "xapp-not-this-one"})
    assert bad.returncode == 1
    failures = [line for line in bad.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failures) == 1 and "SLACK_APP_TOKEN" in failures[0], bad.stdout
    assert "xapp-not-this-one" not in bad.stdout + bad.stderr


def test_check_names_the_address_it_could_not_reach(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo]
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = env_for(*fakes, tmp_path / "x.db")
    env |= {"SLACK_API_URL": f"{nowhere}/api/", "AMIGO_BASE_URL": nowhere}
    result = run_cli("check", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "checked for HTTP mode" in result.stdout
    assert f"FAIL Slack: cannot reach {nowhere}/api/ (connection refused)" in result.stdout
    assert f"FAIL Amigo: cannot reach {nowhere} (connection refused)" in result.stdout


@pytest.mark.parametrize("url", ["https://", "http://bot.example.com", "https://x.test/?a=b"])
def test_manifest_refuses_an_address_slack_cannot_call(tmp_path: Path, url: str) -> None:
    result = run_cli("manifest", "--url", url, cwd=tmp_path, env=clean_env())
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--url" in result.stderr and "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_healthy(url: str, proc: asyncio.subprocess.Process, timeout: float) -> None:
    """Poll /healthz until it answers, the process dies, or time runs out."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(timeout=1) as client:
        while asyncio.get_running_loop().time() < deadline and proc.returncode is None:
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the app did not answer /healthz")


async def test_run_serves_http_and_lets_a_streaming_reply_finish_on_sigterm(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeAmigo]
) -> None:
    slack, amigo = fakes
    port = free_port()
    env = env_for(slack, amigo, tmp_path / "run.db", PORT=str(port), HOST="127.0.0.1")
    proc = await asyncio.create_subprocess_exec(
        CLI, "run", cwd=tmp_path, env=env, stdout=PIPE, stderr=STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(url, proc, 30)
        text = "A reply that is still streaming when the app is told to stop."
        amigo.queue_reply(Reply(text=text, pieces=6, delay=0.3))
        async with SlackSender(url, SIGNING_SECRET, team_id=slack.team_id) as sender:
            ts = await sender.post_mention(ALICE, "<@UBOT> hello")
        await slack.wait_for(lambda s: s.calls_named("chat.update"), timeout=10)
        proc.send_signal(signal.SIGTERM)
        raw, _ = await asyncio.wait_for(proc.communicate(), 30)
        output = raw.decode()
        assert proc.returncode == 0, output
        replies = slack.thread("C0CHAN", ts, include_root=False)
        assert [message_text(m) for m in replies] == [text]
        assert SIGNING_SECRET not in output
        assert amigo.api_key not in output
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
