"""OAuth's settings as an admin meets them: switched on together, with the keys that
encrypt the tokens, a clear stop when a key is missing or wrong, and key rotation."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store.models.installation import Installation

from slackbot.config import SettingsError, load_settings
from slackbot.logs import REDACTED, RedactSecrets
from slackbot.manifest import render_manifest
from slackbot.sandbox.amigo_fake import FakeAmigo
from slackbot.sandbox.slack_fake import FakeSlack
from slackbot.slack.oauth import Installations, OAuthConfig, authorize_url
from slackbot.slack.token_keys import TokenCipher, UnreadableToken
from slackbot.store.db import create_engine, migrate
from slackbot.store.installs import Installs
from tests.contract.test_slack_manifest import problems
from tests.e2e.conftest import SIGNING_SECRET, settings_overrides
from tests.test_cli import assert_clear_stop, env_for, free_port

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command line of this checkout (not of whichever one is installed)."""
    return subprocess.run(
        [sys.executable, "-m", "slackbot.cli", *args],
        cwd=cwd,
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
BOT_TOKEN = "xoxb-made-up-installed-token"


def base(slack: FakeSlack, amigo: FakeAmigo, tmp_path: Path) -> dict[str, object]:
    overrides = settings_overrides(slack, amigo, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    overrides.pop("slack_bot_token")
    return overrides


def oauth_env(slack: FakeSlack, keys: str | None) -> dict[str, str]:
    env = {
        "SLACK_CLIENT_ID": slack.oauth.client_id,
        "SLACK_CLIENT_SECRET": slack.oauth.client_secret,
        "SLACK_STATE_SECRET": "made-up-state-secret",
        "PORT": str(free_port()),
        "HOST": "127.0.0.1",
        "SLACK_BOT_TOKEN": "",
    }
    return env | ({"SLACK_TOKEN_KEYS": keys} if keys is not None else {})


def test_oauth_is_switched_on_by_its_three_settings_together(
    fakes: tuple[FakeSlack, FakeAmigo], tmp_path: Path
) -> None:
    slack, amigo = fakes
    with pytest.raises(SettingsError) as err:
        load_settings(**base(slack, amigo, tmp_path), slack_client_id="1.2")
    text = str(err.value)
    assert "SLACK_CLIENT_SECRET, SLACK_STATE_SECRET missing" in text
    assert "SLACK_TOKEN_KEYS is missing" in text

    with pytest.raises(SettingsError) as err:
        load_settings(**base(slack, amigo, tmp_path))
    assert "SLACK_BOT_TOKEN is missing" in str(err.value)

    settings = load_settings(
        **base(slack, amigo, tmp_path),
        slack_client_id="1.2",
        slack_client_secret="made-up-secret",
        slack_state_secret="made-up-state",
        slack_token_keys=f"{NEW_KEY}, {OLD_KEY}",
    )
    assert settings.oauth and settings.slack_bot_token is None
    assert {"made-up-secret", "made-up-state", NEW_KEY, OLD_KEY} <= set(settings.secrets())


def test_a_malformed_key_is_named_without_showing_it(
    fakes: tuple[FakeSlack, FakeAmigo], tmp_path: Path
) -> None:
    slack, amigo = fakes
    env = env_for(slack, amigo, tmp_path / "x.db", **oauth_env(slack, f"{NEW_KEY},not-a-key"))
    result = run_cli("run", cwd=tmp_path, env=env)
    line = assert_clear_stop(result, "SLACK_TOKEN_KEYS", "key 2 is not a Fernet key")
    assert "not-a-key" not in result.stdout + result.stderr
    assert NEW_KEY not in line


def test_oauth_without_keys_does_not_start(
    fakes: tuple[FakeSlack, FakeAmigo], tmp_path: Path
) -> None:
    slack, amigo = fakes
    env = env_for(slack, amigo, tmp_path / "x.db", **oauth_env(slack, None))
    result = run_cli("run", cwd=tmp_path, env=env)
    assert_clear_stop(result, "SLACK_TOKEN_KEYS is missing")


async def seed_install(url: str, slack: FakeSlack, key: str) -> None:
    """An install saved by an app whose tokens are encrypted with ``key``."""
    await migrate(url)
    engine = create_engine(url)
    config = OAuthConfig(
        client_id=slack.oauth.client_id,
        client_secret=slack.oauth.client_secret,
        state_secret="made-up-state-secret",
        token_keys=key,
        api_url=slack.api_url,
        scopes=("chat:write",),
    )
    try:
        installs = Installations(config, engine, holder="seed")
        await installs.store.async_save(
            Installation(
                app_id="A0TEST",
                team_id="T0NE",
                bot_token=BOT_TOKEN,
                bot_id="BBOT",
                bot_user_id="UBOT",
                user_id="UINSTALLER",
            )
        )
        found = await installs.tokens.find("T0NE")
        assert found is not None and found.token == BOT_TOKEN
    finally:
        await engine.dispose()


async def stored_tokens(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.exec_driver_sql("SELECT bot_token FROM slack_bots")
            return [str(r[0]) for r in rows]
    finally:
        await engine.dispose()


async def test_a_wrong_key_stops_start_up_and_a_rotated_key_reads_the_tokens(
    fakes: tuple[FakeSlack, FakeAmigo], tmp_path: Path
) -> None:
    slack, amigo = fakes
    db = tmp_path / "x.db"
    url = f"sqlite+aiosqlite:///{db}"
    await seed_install(url, slack, OLD_KEY)

    wrong = run_cli("run", cwd=tmp_path, env=env_for(slack, amigo, db, **oauth_env(slack, NEW_KEY)))
    assert_clear_stop(wrong, "SLACK_TOKEN_KEYS", "cannot be decrypted")
    assert NEW_KEY not in wrong.stderr and OLD_KEY not in wrong.stderr

    both = env_for(slack, amigo, db, **oauth_env(slack, f"{NEW_KEY},{OLD_KEY}"))
    rotated = run_cli("rotate-token-key", cwd=tmp_path, env=both)
    assert rotated.returncode == 0, rotated.stderr
    assert "2 install row(s)" in rotated.stdout

    (stored,) = await stored_tokens(url)
    assert TokenCipher(NEW_KEY).decrypt(stored) == BOT_TOKEN
    with pytest.raises(UnreadableToken):
        TokenCipher(OLD_KEY).decrypt(stored)


async def test_reencrypting_keeps_every_token(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    with FakeSlack() as slack:
        await seed_install(url, slack, OLD_KEY)
        engine = create_engine(url)
        try:
            installs = Installs(engine, slack.oauth.client_id)
            assert await installs.reencrypt(TokenCipher(f"{NEW_KEY},{OLD_KEY}").reencrypt) == 2
            row = await installs.bot("T0NE", None)
            assert row is not None
            assert TokenCipher(NEW_KEY).decrypt(row["bot_token"]) == BOT_TOKEN
        finally:
            await engine.dispose()


def test_the_distribution_manifest_has_the_redirect_url_and_token_rotation() -> None:
    manifest = yaml.safe_load(render_manifest("https://bot.example.com/", oauth=True))
    assert manifest["oauth_config"]["redirect_urls"] == [
        "https://bot.example.com/slack/oauth_redirect"
    ]
    assert manifest["settings"]["token_rotation_enabled"] is True
    assert manifest["settings"]["org_deploy_enabled"] is True
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert {"app_uninstalled", "tokens_revoked"} <= set(events)
    assert problems(manifest) == []  # as Slack's schema checks it
    plain = yaml.safe_load(render_manifest("https://bot.example.com/"))
    assert "redirect_urls" not in plain["oauth_config"]
    assert plain["settings"]["token_rotation_enabled"] is False


def test_the_authorize_page_follows_the_web_api_url() -> None:
    assert authorize_url("https://slack.com/api/") == "https://slack.com/oauth/v2/authorize"
    assert authorize_url("http://127.0.0.1:5000/api/") == "http://127.0.0.1:5000/oauth/v2/authorize"


def test_signing_secret_is_still_needed_in_http_mode(
    fakes: tuple[FakeSlack, FakeAmigo], tmp_path: Path
) -> None:
    slack, amigo = fakes
    overrides = base(slack, amigo, tmp_path) | {"slack_signing_secret": ""}
    overrides |= {k.lower(): v for k, v in oauth_env(slack, NEW_KEY).items()}
    with pytest.raises(SettingsError) as err:
        load_settings(**overrides)
    assert "SLACK_SIGNING_SECRET is missing" in str(err.value)
    assert SIGNING_SECRET not in str(err.value)


def test_no_slack_token_reaches_a_log_line() -> None:
    record = logging.LogRecord("slack_sdk", logging.DEBUG, __file__, 1, "body %s", ("x",), None)
    record.args = ({"refresh_token": "xoxe-1-abcdef0123", "token": "xoxe.xoxb-1-abcd-ef"},)
    RedactSecrets([]).filter(record)
    message = record.getMessage()
    assert "xoxe-1-abcdef0123" not in message and "xoxe.xoxb-1-abcd-ef" not in message
    assert message.count(REDACTED) == 2
