"""The app's manifest, as Slack's own schema checks it when an admin pastes it."""

from __future__ import annotations

import json
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
