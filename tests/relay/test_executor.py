"""The turn executor: every row of the outcome table, as the person in the thread sees it."""

from __future__ import annotations

import pytest

from slackbot.amigo.errors import (
    AmigoAuthError,
    AmigoBadRequest,
    AmigoConflict,
    AmigoError,
    AmigoHTTPError,
    AmigoNotFound,
    AmigoRateLimited,
    AmigoStreamCut,
    AmigoTransportError,
    AmigoUnavailable,
)
from slackbot.amigo.events import ErrorEvent, InteractionComplete, NewMessage
from slackbot.relay.outcomes import TABLE, Context, Effect, outcome_of
from slackbot.store.models import ConversationState, TurnState
from slackbot.ui import blocks, messages
from tests.relay.conftest import MakeCore
from tests.relay.core import OWNER, Core, all_turns

ALREADY_FINISHED = "The conversation is already finished."

# One error for each row of the table, met on a reply (interact), and whether the stream
# had begun (some rows depend on it).
CASES: list[tuple[str, AmigoError, bool]] = [
    ("stream cut", AmigoStreamCut("cut"), True),
    ("connection lost after sending", AmigoTransportError("x", request_sent=True), False),
    ("unreachable", AmigoTransportError("x", request_sent=False), False),
    ("rate limited", AmigoRateLimited(429, "x", retry_after=0.0), False),
    ("maintenance", AmigoUnavailable(503, "x"), False),
    ("finished in Amigo", AmigoConflict(409, f'{{"detail": "{ALREADY_FINISHED}"}}'), False),
    ("busy", AmigoConflict(409, '{"detail": "A related operation is in progress."}'), False),
    ("credentials", AmigoAuthError(401, "x"), False),
    ("rejected", AmigoBadRequest(400, "x"), False),
    ("unknown conversation", AmigoNotFound(404, "x"), False),
    ("anything else", AmigoHTTPError(422, "x"), False),
]


def test_every_row_a_reply_can_meet_is_exercised() -> None:
    met = {id(outcome_of(error, Context("turn", sent=sent))) for _, error, sent in CASES}
    samples = [error for _, error, _ in CASES]
    reachable = {
        id(row)
        for row in TABLE
        for error in samples
        for sent in (False, True)
        if isinstance(error, row.error) and row.when(error, Context("turn", sent=sent))
    }
    assert reachable <= met


async def started(make_core: MakeCore) -> tuple[Core, str]:
    core = await make_core(retry_attempts=2)
    root, _ = await core.say("start")
    await core.settle()
    return core, root


@pytest.mark.parametrize(("name", "error", "after_pieces"), CASES, ids=[c[0] for c in CASES])
async def test_each_amigo_outcome_ends_the_turn_as_the_table_says(
    make_core: MakeCore, name: str, error: AmigoError, after_pieces: bool
) -> None:
    core, root = await started(make_core)
    row = outcome_of(error, Context("turn", sent=after_pieces))
    steps = [NewMessage(message="Partial "), error] if after_pieces else [error]
    tries = 3 if row.turn is None else 1  # come back: the first try and two more
    for _ in range(tries):
        core.amigo.script(*steps)
    await core.say("question", thread_ts=root)
    await core.settle()

    (turn,) = [t for t in await all_turns(core.store) if t.text == "question"]
    reply = core.slack.thread(root)[-1]
    if row.turn == TurnState.UNSURE:
        # Amigo is asked, has no trace of the message, and it goes again: answered.
        assert len(core.amigo.named("interact")) == 2
        assert core.amigo.named("get_messages")
        assert (turn.state, reply.body) == (TurnState.DONE, "Echo: question")
        assert blocks.RETRY_ACTION not in reply.actions()
    else:
        assert len(core.amigo.named("interact")) == tries
        assert turn.state == (row.turn or TurnState.FAILED)
        assert reply.body.endswith(row.notice)
        assert (blocks.RETRY_ACTION in reply.actions()) == row.retry
    assert turn.shown
    conversation = await core.store.conversation(turn.conversation_id or 0)
    assert conversation is not None
    finished = row.effect in (Effect.FINISHED, Effect.GONE)
    assert (conversation.state == ConversationState.FINISHED) == finished


async def test_an_error_event_interrupts_the_reply_and_offers_retry(make_core: MakeCore) -> None:
    core, root = await started(make_core)
    core.amigo.script(NewMessage(message="Half"), ErrorEvent(http_error_code=500))
    await core.say("question", thread_ts=root)
    await core.settle()
    reply = core.slack.thread(root)[-1]
    assert reply.body == f"Half\n\n{messages.REPLY_INTERRUPTED}"
    assert blocks.RETRY_ACTION in reply.actions()


async def test_a_complete_reply_equals_the_full_message_and_carries_the_menu(
    make_core: MakeCore,
) -> None:
    core, root = await started(make_core)
    core.amigo.script(
        NewMessage(message="pieces that"),
        InteractionComplete(message_id="m", interaction_id="i" * 24, full_message="The answer."),
    )
    await core.say("question", thread_ts=root)
    await core.settle()
    reply = core.slack.thread(root)[-1]
    assert reply.body == "The answer."
    assert blocks.REPLY_MENU_ACTION in reply.actions()
    (conversation,) = await core.store.open_conversations_of("T1", OWNER)
    progress = await core.store.progress(conversation.id)
    assert progress.latest_interaction_id == "i" * 24
    assert progress.interactions == 2


async def test_amigo_completing_the_conversation_finishes_it_and_says_so(
    make_core: MakeCore,
) -> None:
    core, root = await started(make_core)
    core.amigo.script(
        InteractionComplete(
            message_id="m",
            interaction_id="i" * 24,
            full_message="Bye!",
            conversation_completed=True,
        )
    )
    await core.say("goodbye", thread_ts=root)
    await core.settle()
    assert core.replies(root)[-2:] == ["Bye!", messages.CONVERSATION_COMPLETED]
    assert await core.store.open_conversations_of("T1", OWNER) == []
    _, routed = await core.say("anyone?", thread_ts=root)
    assert routed == "thread-finished"
    assert messages.thread_finished_hint() in core.slack.told(OWNER)


async def test_an_unfinished_conversation_elsewhere_is_finished_then_the_start_goes_again(
    make_core: MakeCore,
) -> None:
    core = await make_core()
    core.amigo.unfinished = ["f" * 24]
    core.amigo.script(AmigoBadRequest(400, "unfinished conversation"))
    root, _ = await core.say("hello")
    await core.settle()
    assert [c.name for c in core.amigo.calls if c.name != "create_user"] == [
        "create",
        "get_conversations",
        "finish",
        "create",
    ]
    assert core.replies(root)[-1] == "Echo: hello"


async def test_with_the_refuse_policy_an_unfinished_conversation_elsewhere_is_explained(
    make_core: MakeCore,
) -> None:
    core = await make_core(policy="refuse")
    core.amigo.script(AmigoBadRequest(400, "unfinished conversation"))
    root, _ = await core.say("hello")
    await core.settle()
    assert core.replies(root)[-1].endswith(messages.UNFINISHED_ELSEWHERE)
    assert core.amigo.named("finish") == []


async def test_an_answer_saved_before_a_failure_is_shown_and_not_sent_again(
    make_core: MakeCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Amigo's interaction is known once its answer is saved: a turn made unsure after
    that would look unsent to Amigo's messages, and go again."""
    core, root = await started(make_core)
    mark_shown = core.store.mark_shown
    failures = [RuntimeError("the database went away")]

    async def flaky(turn_ids: list[int], reply_ts: str | None = None) -> None:
        if failures:
            raise failures.pop()
        await mark_shown(turn_ids, reply_ts)

    monkeypatch.setattr(core.store, "mark_shown", flaky)
    await core.say("question", thread_ts=root)
    await core.settle()
    assert not failures
    assert [c.text for c in core.amigo.named("interact")] == ["question"]
    assert core.replies(root)[-1] == "Echo: question"
    assert all(t.state == TurnState.DONE and t.shown for t in await all_turns(core.store))
