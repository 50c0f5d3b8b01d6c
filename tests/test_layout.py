"""The package layout the README promises, read from the imports of every module.

- ``amigo``, ``store`` and ``ui`` are leaves: they import no other slackbot package;
- ``relay`` imports only ``amigo``, ``store`` and ``ui``: never the Slack layer, Bolt
  or the settings (they reach it as plain constructor values);
- ``slack_bolt`` is imported only in ``slack/``;
- no product module imports the sandbox, except the `try` command that runs it;
- no module outside ``sandbox/`` is much longer than an afternoon's read allows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "slackbot"
LEAVES = ("amigo", "store", "ui")
RELAY_MAY_USE = {"amigo", "store", "ui", "relay"}
SANDBOX_ALLOWED = {("cli.py", "slackbot.sandbox.trial")}
"""(module, import): `amigo-slack try` is the one command that runs the sandbox."""
MAX_LINES = 350


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def package_of(path: Path) -> str:
    """``relay`` for slackbot/relay/x.py, ``cli.py`` for slackbot/cli.py."""
    return path.relative_to(PACKAGE).parts[0]


def slackbot_packages(names: set[str]) -> set[str]:
    return {name.split(".")[1] for name in names if name.startswith("slackbot.")}


def test_the_rules_catch_what_they_should(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import slackbot.slack.app\ndef f():\n    from slack_bolt import App\n")
    assert imported(bad) == {"slackbot.slack.app", "slack_bolt"}
    assert slackbot_packages(imported(bad)) == {"slack"}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_keeps_to_its_layer(path: Path) -> None:
    names = imported(path)
    own = package_of(path)
    used = slackbot_packages(names) - {own}
    if own in LEAVES:
        assert not used, f"{own}/ is a leaf but imports {sorted(used)}"
    if own == "relay":
        assert used <= RELAY_MAY_USE, f"relay/ imports {sorted(used - RELAY_MAY_USE)}"
        assert "slackbot.config" not in names
    if own != "slack":
        assert not any(n == "slack_bolt" or n.startswith("slack_bolt.") for n in names)
    if own != "sandbox":
        sandbox = {n for n in names if n.startswith("slackbot.sandbox")}
        allowed = {name for module, name in SANDBOX_ALLOWED if path.name == module}
        assert sandbox <= allowed, f"product code imports the sandbox: {sorted(sandbox)}"


@pytest.mark.parametrize(
    "path",
    [p for p in modules() if package_of(p) != "sandbox"],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_modules_stay_short(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{lines} lines"
