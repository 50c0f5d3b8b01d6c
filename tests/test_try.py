"""`amigo-slack try`: a scripted terminal session against the sandbox, as a newcomer runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.test_cli import CLI, clean_env

SCRIPT = """\
hello there
/amigo tag a:b
/amigo suggest
2
/amigo why
/amigo finish
"""


def run_try(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "try"],
        input=script,
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_scripted_session_streams_replies_and_runs_commands(tmp_path: Path) -> None:
    result = run_try(tmp_path, SCRIPT)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Traceback" not in result.stderr
    lines = out.splitlines()

    # The thread's status shows the agent at work, then the reply streams in, growing,
    # ending with the whole answer.
    first = lines.index("you: hello there")
    reply = [line for line in lines[first + 1 : lines.index("you: /amigo tag a:b")]]
    assert reply[0].startswith("amigo (status): "), reply
    texts = [line for line in reply if not line.startswith("amigo (status): ")]
    assert texts[0].startswith("amigo: ") and "Echo: hello there".startswith(texts[0][7:])
    edits = [line.removeprefix("amigo (edited): ") for line in texts[1:]]
    assert len(edits) >= 2 and edits[-1] == "Echo: hello there", reply
    assert all("Echo: hello there".startswith(edit) for edit in edits), edits

    assert "(only you) 🏷 Set `a`: b." in lines
    buttons = next(line for line in lines if line.strip().startswith("[1]"))
    assert "[2] Thanks!" in buttons
    assert any(line.endswith("chose: Thanks!") for line in lines)
    assert "amigo (edited): Echo: Thanks!" in lines  # the chosen reply went to the agent
    # "Why this answer?" opens a window: first that Amigo is asked, then what it said.
    windows = [i for i, line in enumerate(lines) if line == "(window: Why this answer?)"]
    assert len(windows) == 2, lines
    assert lines[windows[1] + 1].startswith("*Where the agent was:*")
    finished = [line for line in lines if "finished this conversation" in line]
    assert len(finished) == 1
    assert any(line.startswith("(only you) 🏁 Finished the conversation") for line in lines)


def test_unknown_input_is_explained_and_the_session_goes_on(tmp_path: Path) -> None:
    result = run_try(tmp_path, "/nonsense\n/amigo frobnicate\n7\nhi\n/quit\nnot read\n")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Unknown command /nonsense; type /help." in out
    assert "I don't know `/amigo frobnicate`" in out
    assert "amigo (edited): Echo: 7" in out  # no buttons yet: a number is just a message
    assert "Echo: not read" not in out
