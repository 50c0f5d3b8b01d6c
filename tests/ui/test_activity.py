"""Amigo's agent actions in a few plain words (the thread's status), and tool calls as
task updates."""

from __future__ import annotations

from slackbot.ui.activity import MAX_WORDS, Activity, Task, describe, placeholder


def test_a_tool_call_is_a_task_that_starts_and_completes() -> None:
    started = describe({"type": "tool-call-started", "tool_round_index": 2, "tool_id": "abc"})
    ended = describe({"type": "tool-call-ended", "tool_round_index": 2, "tool_id": "abc"})
    assert started == Activity("Using a tool…", Task("tool-2-abc", "Using a tool", "in_progress"))
    assert ended is not None and ended.task == Task("tool-2-abc", "Using a tool", "complete")


def test_steps_of_the_state_machine_read_as_words_a_person_understands() -> None:
    kinds = {
        "navigate-state-machine-state-transitioned": "Moving on to the next step…",
        "navigate-state-machine-recall-state-dynamic-queries-generated": "Recalling what it knows…",
        "select-dynamic-behavior-completed": "Choosing how to respond…",
        "extract-active-memories-completed": "Recalling what it knows…",
        "engage-user-message-fragment-generated": "Writing…",
    }
    for kind, words in kinds.items():
        found = describe({"type": kind})
        assert found is not None and found.words == words and found.task is None, kind


def test_a_filler_is_shown_as_it_is_unless_it_is_audio() -> None:
    said = describe({"type": "action-too-long", "filler": "  Still   looking that up… "})
    assert said == Activity("Still looking that up…")
    audio = describe({"type": "action-too-long", "filler": "UklGRiQAAABXQVZFZm10IBAAAAAB"})
    assert audio == Activity("Still working on it…")
    long = describe({"type": "action-too-long", "filler": "word " * 40})
    assert long is not None and len(long.words) == MAX_WORDS


def test_unknown_or_untyped_actions_show_nothing_and_words_are_escaped() -> None:
    assert describe({"type": "something-new"}) is None
    assert describe({"no": "type"}) is None
    assert placeholder(Activity("<!channel> & co")) == "_&lt;!channel&gt; &amp; co_"
