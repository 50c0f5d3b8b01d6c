"""Security properties that hold for the code as a whole."""

from __future__ import annotations

import ast
from pathlib import Path

import slackbot

PACKAGE = Path(slackbot.__file__).parent
RAW_SQL_CALLS = {"text", "exec_driver_sql", "execute"}


def _string_built_at_runtime(node: ast.expr) -> bool:
    """An f-string, a concatenation or a %/format call: SQL built from values."""
    if isinstance(node, ast.JoinedStr | ast.BinOp):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    )


def test_every_database_access_uses_bound_parameters() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "sandbox" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in RAW_SQL_CALLS and _string_built_at_runtime(node.args[0]):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_the_check_itself_catches_sql_built_from_values() -> None:
    bad = ast.parse('conn.execute(f"SELECT * FROM turns WHERE text = {value}")').body[0]
    assert isinstance(bad, ast.Expr) and isinstance(bad.value, ast.Call)
    assert _string_built_at_runtime(bad.value.args[0])
