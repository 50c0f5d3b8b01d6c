"""Every setting is documented where an admin looks: `.env.example` and the README."""

from __future__ import annotations

import re
from pathlib import Path

from slackbot.config import Settings

ROOT = Path(__file__).resolve().parents[1]
UNDOCUMENTED: set[str] = set()
"""Settings that are deliberately not offered to admins (none)."""


def documented_names(text: str, pattern: str) -> set[str]:
    return {name.lower() for name in re.findall(pattern, text, flags=re.MULTILINE)}


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    names = documented_names(text, r"^#? ?([A-Z][A-Z0-9_]+)=")
    assert set(Settings.model_fields) - UNDOCUMENTED <= names
    assert names <= set(Settings.model_fields)


def test_the_readme_lists_every_setting() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    names = documented_names(text, r"^\| `([A-Z][A-Z0-9_]+)`")
    names |= documented_names(text, r"^\| `[A-Z][A-Z0-9_]+`, `([A-Z][A-Z0-9_]+)`")
    assert set(Settings.model_fields) - UNDOCUMENTED <= names
