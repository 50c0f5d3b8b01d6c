"""`SLACK_ADMIN_USER_IDS` as an admin writes it: plain user ids for every workspace,
ids qualified by a workspace or Grid org for that one only, and a clear stop at start-up
for an entry that is neither."""

from __future__ import annotations

from pathlib import Path

import pytest

from slackbot.relay.admins import Admins
from slackbot.sandbox.amigo_fake import FakeAmigo
from slackbot.sandbox.slack_fake import FakeSlack
from tests.test_cli import assert_clear_stop, env_for
from tests.test_oauth_settings import run_cli


def test_plain_ids_are_admins_everywhere_qualified_ones_only_in_their_workspace_or_org() -> None:
    admins = Admins.parse(" U0ALL, T0ONE:U0ONE ,E0ORG:W0ORG,, ")
    assert admins.covers("U0ALL", "T0ANY") and admins.covers("U0ALL", None)
    assert admins.covers("U0ONE", "T0ONE") and not admins.covers("U0ONE", "T0TWO")
    assert admins.covers("W0ORG", "T0GRID", "E0ORG")
    assert not admins.covers("W0ORG", "T0GRID") and not admins.covers("W0ORG", "T0X", "E0THER")
    assert not admins.covers("U0NOBODY", "T0ONE", "E0ORG")
    assert Admins.parse("") == Admins()


@pytest.mark.parametrize("entry", ["alice", "T0ONE:", "T0ONE:alice", "X0ONE:U0ONE", "U0A:T0B"])
def test_a_malformed_entry_is_refused_naming_it(entry: str) -> None:
    with pytest.raises(ValueError, match=f"'{entry}' is not a Slack user id"):
        Admins.parse(f"U0FINE, {entry}")


def test_run_stops_with_one_line_naming_a_malformed_admin_entry(
    fakes: tuple[FakeSlack, FakeAmigo], tmp_path: Path
) -> None:
    slack, amigo = fakes
    env = env_for(slack, amigo, tmp_path / "x.db", SLACK_ADMIN_USER_IDS="U0FINE, T0ONE/U0TWO")
    result = run_cli("run", cwd=tmp_path, env=env)
    assert_clear_stop(result, "SLACK_ADMIN_USER_IDS is invalid", "'T0ONE/U0TWO'")
