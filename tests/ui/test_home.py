"""The Home tab's view: within Slack's limits however many conversations there are,
and nobody's text becomes markup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slackbot.ui.home import (
    HOME_FINISH_ACTION,
    MAX_SHOWN,
    Health,
    Row,
    finish_value,
    home_view,
    parse_finish_value,
)

START = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)


def row(i: int, **extra: object) -> Row:
    return Row(
        started=START - timedelta(hours=i),
        finished=bool(i % 2),
        link=f"https://x.slack.com/archives/C1/p{i}",
        channel_id="C1",
        finish=finish_value("C1", f"1700000000.{i:06d}"),
        **extra,  # type: ignore[arg-type]
    )


def test_many_conversations_stay_within_100_blocks_and_say_how_many_more() -> None:
    health = Health(database="disk full", slack=["chat.update: 3 call(s) waiting"])
    view = home_view([row(i) for i in range(500)], notice="Done.", health=health)
    assert len(view["blocks"]) <= 100
    buttons = [b for b in view["blocks"] if b.get("accessory")]
    assert len(buttons) == MAX_SHOWN // 2  # the active ones of those shown
    assert all(b["accessory"]["action_id"] == HOME_FINISH_ACTION for b in buttons)
    assert "and 480 older conversations" in str(view)
    more = home_view([row(0)], more=150, more_at_least=True)
    assert "and 150+ older conversations" in str(more)


def test_tags_and_reasons_are_escaped() -> None:
    tags = {"<@U1>": "<!here> & <https://evil.example|click>"}
    health = Health(amigo="said <!channel>")
    view = str(home_view([row(0, tags=tags)], health=health))
    assert "<!here>" not in view and "<@U1>" not in view and "<!channel>" not in view
    assert "&lt;!here&gt; &amp;" in view and "said &lt;!channel&gt;" in view


def test_only_our_finish_values_are_read() -> None:
    assert parse_finish_value(finish_value("C1", "1700000000.000100")) == (
        "C1",
        "1700000000.000100",
    )
    for forged in (None, "", "C1", "C1 x", "C1 1.2.3", "<@U1> 1700000000.1", " 1.2"):
        assert parse_finish_value(forged) is None
