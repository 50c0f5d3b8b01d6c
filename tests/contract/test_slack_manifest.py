"""The app's manifest, as Slack's own schema checks it when an admin pastes it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from slackbot.manifest import MANIFEST, render_manifest

SCHEMA = Path(__file__).with_name("slack-manifest.schema.1.0.0.json")
REPOSITORY_MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def problems(manifest: dict[str, Any]) -> list[str]:
    validator = Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(manifest)
    ]


def test_the_schema_is_slacks_and_catches_what_slack_refuses() -> None:
    manifest = yaml.safe_load(REPOSITORY_MANIFEST.read_text(encoding="utf-8"))
    manifest["features"]["shortcuts"][0]["name"] = "Finish Amigo conversation"  # 25 characters
    assert any("shortcuts/0/name" in p for p in problems(manifest))


def test_the_shipped_manifest_is_the_repositorys() -> None:
    assert MANIFEST.read_text(encoding="utf-8") == REPOSITORY_MANIFEST.read_text(encoding="utf-8")


@pytest.mark.parametrize("url", [None, "https://bot.example.com", "https://example.com/amigo/"])
def test_manifests_validate_against_slacks_schema(url: str | None) -> None:
    manifest = yaml.safe_load(render_manifest(url))
    assert problems(manifest) == []


# The bot scopes Slack's method pages list for each Web API method the app calls
# (https://api.slack.com/methods/<method>). A method missing here fails the test
# below, so a new call cannot ship without its scope.
SCOPES_BY_METHOD: dict[str, set[str]] = {
    "apps_connections_open": set(),  # the app-level token's connections:write
    "assistant_threads_setStatus": {"chat:write"},  # or assistant:write, for now
    "assistant_threads_setSuggestedPrompts": {"assistant:write"},
    "assistant_threads_setTitle": {"assistant:write"},
    "auth_test": set(),
    "bots_info": {"users:read"},
    "chat_delete": {"chat:write"},
    "chat_getPermalink": set(),
    "chat_postEphemeral": {"chat:write"},
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "chat_startStream": {"chat:write"},
    "chat_appendStream": {"chat:write"},
    "chat_stopStream": {"chat:write"},
    "conversations_open": {"im:write"},
    "conversations_replies": {
        "channels:history",
        "groups:history",
        "im:history",
        "mpim:history",
    },
    "users_info": {"users:read", "users:read.email"},
    "users_list": {"users:read", "users:read.email"},
    "views_open": set(),  # a trigger from the person's own click is its permission
    "views_update": set(),
    "views_publish": set(),  # the app's own Home tab needs no scope
}
WEB_API_CALL = re.compile(
    r"\.((?:auth|bots|chat|conversations|users|reactions|views|apps|assistant|files)_[A-Za-z_]+)\("
)


def test_the_manifest_grants_every_scope_the_app_uses() -> None:
    product = Path(__file__).resolve().parents[2] / "slackbot"
    called = {
        match
        for path in product.rglob("*.py")
        if "sandbox" not in path.parts
        for match in WEB_API_CALL.findall(path.read_text(encoding="utf-8"))
    }
    assert "conversations_open" in called  # the scan sees the app's calls
    if any("AsyncChatStream(" in p.read_text(encoding="utf-8") for p in product.rglob("*.py")):
        called |= {"chat_startStream", "chat_appendStream", "chat_stopStream"}
    unknown = called - SCOPES_BY_METHOD.keys()
    assert not unknown, f"add the scopes Slack lists for {sorted(unknown)}"
    granted = set(
        yaml.safe_load(REPOSITORY_MANIFEST.read_text(encoding="utf-8"))["oauth_config"]["scopes"][
            "bot"
        ]
    )
    needed = set().union(*(SCOPES_BY_METHOD[m] for m in called))
    # Voice clips are fetched from their url_private_download, which takes files:read.
    if any("url_private_download" in p.read_text(encoding="utf-8") for p in product.rglob("*.py")):
        needed.add("files:read")
    assert needed - granted == set()


@pytest.mark.parametrize("url", [None, "https://bot.example.com"])
def test_the_manifest_turns_on_slacks_agent_features(url: str | None) -> None:
    manifest = yaml.safe_load(render_manifest(url))
    assert manifest["features"]["agent_view"]["agent_description"]
    assert "assistant:write" in manifest["oauth_config"]["scopes"]["bot"]
    assert problems(manifest) == []
