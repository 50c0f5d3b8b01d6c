"""The writers a reply can take (native stream, edited placeholder, posted at the end)
and how one is chosen per reply from the live Slack budgets."""

from __future__ import annotations

import asyncio

import pytest

from slackbot.relay.budgets import SlackBudgets
from slackbot.relay.limits import Limit
from slackbot.relay.options import StepsShown, WriterMode
from slackbot.relay.posting import PostingReply
from slackbot.relay.stream import ReplySink
from slackbot.relay.streaming import STREAMING_OFF
from slackbot.relay.writers import ReplyWriters
from slackbot.ui.activity import describe
from tests.relay.core import MemorySlack, eventually

THREAD = "1700000000.000100"
FOOTER = [{"type": "actions", "elements": [{"type": "button", "action_id": "menu"}]}]


def writers(
    slack: MemorySlack,
    mode: WriterMode = WriterMode.AUTO,
    steps: StepsShown = StepsShown.STATUS,
    **limits: Limit,
) -> ReplyWriters:
    overrides = {k.replace("_", "."): v for k, v in limits.items()}
    return ReplyWriters(slack, SlackBudgets(overrides), mode=mode, steps=steps, edit_interval=0.01)


async def write(reply: ReplySink, pieces: list[str], footer: object = FOOTER) -> bool:
    await reply.open()
    for piece in pieces:
        await reply.append(piece)
        await asyncio.sleep(0.02)  # Amigo's pace between pieces, not a wait for a result
    return await reply.complete("".join(pieces), footer)  # type: ignore[arg-type]


def bodies(slack: MemorySlack) -> list[str]:
    return [m.body for m in slack.thread(THREAD)]


async def test_a_reply_streams_natively_and_ends_with_the_footer() -> None:
    slack = MemorySlack()
    reply = writers(slack)("C1", THREAD, None, "U1", "T1")
    assert reply.writer == "stream"
    assert await write(reply, ["Hello ", "there, ", "friend."])
    [message] = slack.thread(THREAD)
    assert message.body == "Hello there, friend."
    assert len(message.versions) >= 3  # the text grew in place
    assert message.actions() == ["menu"]
    assert reply.reply_ts == message.ts and reply.first_text_at is not None


@pytest.mark.parametrize("error", sorted(STREAMING_OFF))
async def test_a_workspace_that_refuses_streaming_gets_edited_replies_from_then_on(
    error: str,
) -> None:
    slack = MemorySlack()
    slack.refuse["chat.startStream"] = error
    chooser = writers(slack)
    reply = chooser("C1", THREAD, None, "U1", "T1")
    assert await write(reply, ["Hello ", "again."])
    assert bodies(slack) == ["Hello again."]
    assert chooser.streaming_refused == error
    assert chooser.choose("C1", None)[0] == "edit"


async def test_a_stream_slack_closed_ends_by_editing_that_message() -> None:
    slack = MemorySlack()
    reply = writers(slack)("C1", THREAD, None, "U1", "T1")
    await reply.open()
    await reply.append("First part. ")
    await eventually(lambda: slack.thread(THREAD))
    slack.refuse["chat.appendStream"] = "message_not_in_streaming_state"
    slack.refuse["chat.stopStream"] = "message_not_in_streaming_state"
    await reply.append("Second part.")
    assert await reply.complete("First part. Second part.", FOOTER)
    [message] = slack.thread(THREAD)
    assert message.body == "First part. Second part."
    assert message.actions() == ["menu"]


async def test_text_beyond_one_message_goes_on_in_a_new_one() -> None:
    slack = MemorySlack()
    reply = writers(slack)("C1", THREAD, None, "U1", "T1")
    paragraphs = [f"Paragraph {i}: " + "words " * 60 + "\n\n" for i in range(20)]
    assert await write(reply, paragraphs)
    texts = bodies(slack)
    assert len(texts) == 2
    assert "".join(texts).replace("\n", "").replace(" ", "") == "".join(paragraphs).replace(
        "\n", ""
    ).replace(" ", "")
    assert slack.thread(THREAD)[-1].actions() == ["menu"]


async def test_when_stream_budgets_are_spent_replies_are_edited_then_posted() -> None:
    slack = MemorySlack()
    chooser = writers(
        slack,
        chat_startStream=Limit(20, 2),
        chat_stopStream=Limit(20, 2),
        chat_update=Limit(50, 5),
    )
    kinds = [chooser.choose("C1", None)[0] for _ in range(4)]
    assert kinds[:1] == ["stream"]  # Slack's burst (less the app's margin) streams
    assert "edit" in kinds
    budgets = chooser._budgets
    while budgets.try_take("chat.update", "C1"):
        pass
    writer, why = chooser.choose("C1", None)
    assert writer == "post" and "edit budget is busy" in why


async def test_a_reply_that_has_a_message_is_always_edited() -> None:
    assert writers(MemorySlack()).choose("C1", "1700000000.000200")[0] == "edit"


async def test_a_posted_reply_shows_a_status_then_the_whole_answer() -> None:
    slack = MemorySlack()
    reply = writers(slack, WriterMode.POST)("C1", THREAD, None, "U1", "T1")
    await reply.open()
    await reply.append("All of it")
    await eventually(lambda: slack.statuses)
    assert bodies(slack) == []  # no placeholder, no partial text
    assert await reply.complete("All of it at once.", FOOTER)
    assert bodies(slack) == ["All of it at once."]
    assert slack.statuses[0][0] == THREAD


async def test_agent_steps_show_as_status_and_as_tasks_in_tasks_mode() -> None:
    tool = describe({"type": "tool-call-started", "tool_round_index": 0, "tool_id": "t1"})
    done = describe({"type": "tool-call-ended", "tool_round_index": 0, "tool_id": "t1"})
    assert tool is not None and done is not None
    for steps, tasks_expected in ((StepsShown.STATUS, 0), (StepsShown.TASKS, 1)):
        slack = MemorySlack()
        reply = writers(slack, steps=steps)("C1", THREAD, None, "U1", "T1")
        await reply.open()
        await reply.activity(tool)
        # A sign of life: the status, or (tasks) the stream opening with the task.
        await eventually(lambda s=slack: s.statuses or s.tasks)
        await reply.activity(done)
        await reply.append("Done.")
        assert await reply.complete("Done.", None)
        if not tasks_expected:
            assert any("tool" in loading[0].lower() for _, _, loading in slack.statuses)
        assert len({t.id for t in slack.tasks}) == tasks_expected
        if tasks_expected:
            assert [t.state for t in slack.tasks][-1] == "complete"


async def test_a_long_think_keeps_its_status_and_it_stops_when_the_text_starts() -> None:
    slack = MemorySlack()
    reply = PostingReply(slack, "C1", THREAD, budgets=SlackBudgets(), status_refresh=0.05)
    await reply.open()
    await eventually(lambda: len(slack.statuses) >= 3)  # set again before Slack drops it
    assert await reply.complete("Done.", None)
    count = len(slack.statuses)
    await asyncio.sleep(0.15)  # three refresh periods: none may come after the answer
    assert len(slack.statuses) == count


async def test_an_edited_reply_posts_its_first_text_at_once_and_grows_by_spare_edits() -> None:
    slack = MemorySlack()
    chooser = writers(slack, chat_startStream=Limit(20, 1), chat_stopStream=Limit(20, 1))
    assert chooser.choose("C1", None)[0] == "stream"  # spends the only stream calls
    reply = chooser("C1", THREAD, None, "U1", "T1")
    assert reply.writer == "edit"
    await reply.open()
    await reply.append("First words")
    await eventually(lambda: slack.thread(THREAD))
    [message] = slack.thread(THREAD)
    assert message.body == "First words"  # no placeholder: the text itself came first
    await reply.append(" and more")
    await eventually(lambda: message.body == "First words and more")
    assert await reply.complete("First words and more, all of it.", FOOTER)
    assert bodies(slack) == ["First words and more, all of it."]
    assert message.actions() == ["menu"]


async def test_with_no_edit_to_spare_an_edited_reply_still_ends_whole() -> None:
    slack = MemorySlack()
    chooser = writers(slack, chat_update=Limit(60, 2))
    reply = chooser._growing_reply("C1", THREAD)
    await reply.open()
    await reply.append("Start")
    await eventually(lambda: slack.thread(THREAD))
    while chooser._budgets.try_take("chat.update", "C1"):
        pass  # other replies used every edit
    await reply.append(" middle")
    assert await reply.complete("Start middle end.", FOOTER)
    assert bodies(slack) == ["Start middle end."]
    assert [m.versions for m in slack.thread(THREAD)] == [["Start", "Start middle end."]]


async def test_each_reply_writing_by_edits_holds_back_one_edit_for_its_end() -> None:
    slack = MemorySlack()
    chooser = writers(
        slack,
        WriterMode.AUTO,
        chat_startStream=Limit(20, 1),
        chat_stopStream=Limit(20, 1),
        chat_update=Limit(60, 3),  # 3 free at once
    )
    chooser.choose("C1", None)  # the only stream
    threads = [f"17000000{i:02d}.000100" for i in range(5)]
    replies = [chooser("C1", t, None, "U1", "T1") for t in threads]
    for reply in replies:
        await reply.open()
        await reply.append("First words")
    await eventually(lambda: sum(1 for t in threads if slack.thread(t)) == 3)
    grew = [t for t in threads if slack.thread(t)]  # three may grow: one edit each kept
    for reply in replies:
        assert await reply.complete("First words, then the rest.", None)
    assert all(bodies_of(slack, t) == ["First words, then the rest."] for t in threads)
    assert all(
        slack.thread(t)[0].versions == ["First words", "First words, then the rest."] for t in grew
    )
    # Two waited for the end and were posted whole: one message, one version.
    assert sorted(len(slack.thread(t)[0].versions) for t in threads) == [1, 1, 2, 2, 2]


def bodies_of(slack: MemorySlack, thread: str) -> list[str]:
    return [m.body for m in slack.thread(thread)]


@pytest.mark.parametrize("mode", [WriterMode.STREAM, WriterMode.AUTO, WriterMode.POST])
async def test_no_status_is_set_after_the_text_appears(mode: WriterMode) -> None:
    """Slack clears a status when the app posts; one set later would linger for minutes."""
    slack = MemorySlack()
    slack.status_delay, slack.write_delay = 0.05, 0.2
    reply = writers(slack, mode)("C1", THREAD, None, "U1", "T1")
    await reply.open()
    step = describe({"type": "navigate-state-machine-state-transitioned"})
    assert step is not None
    await reply.activity(step)  # a step arrives while the first status is on its way
    await reply.append("Straight away.")
    assert await reply.complete("Straight away.", None)
    assert "message" in slack.events
    assert "status" not in slack.events[slack.events.index("message") :], slack.events
