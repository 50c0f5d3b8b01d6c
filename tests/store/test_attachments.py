"""A shared recording is saved with its message and kept until its voice turn is sent."""

from __future__ import annotations

from slackbot.relay.voice import is_voice, voice_follows
from slackbot.store.models import TurnKind
from slackbot.store.records import Attachment
from slackbot.store.repo import IncomingMessage, Store, ThreadKey

CLIP = Attachment(
    "F1", "audio_message.m4a", "audio/mp4", 12_345, "https://files.slack.com/x", "slack_audio"
)
THREAD = ThreadKey("T1", "C1", "100.000001")


async def test_a_saved_message_keeps_its_recording(store: Store) -> None:
    message = IncomingMessage("T1", "C1", "U1", "100.000001", None, "", True, False, None, CLIP)
    assert await store.record_inbound(message) is not None
    ((_, saved),) = await store.unrouted_of(THREAD)
    assert saved.attachment == CLIP


async def test_an_owners_reply_with_a_clip_is_a_voice_turn(store: Store) -> None:
    claimed = await store.claim_start(THREAD, ts="100.000001", user_id="U1", text="hi")
    assert claimed is not None
    queued = await store.claim_owned_reply(
        THREAD, ts="100.000002", user_id="U1", text="", attachment=CLIP
    )
    assert queued is True
    voice = (await store.queue(THREAD)).turns[-1]
    assert (voice.kind, voice.text, voice.attachment) == (TurnKind.REPLY, "", CLIP)


async def voice_waiting(store: Store) -> list[tuple[str, int, TurnKind, str, Attachment | None]]:
    turns = (await store.queue(THREAD)).turns
    return [(t.ts, t.attempt, t.kind, t.text, t.attachment) for t in turns if t.state == "queued"]


async def test_a_start_with_a_clip_queues_the_clip_once_the_agent_has_spoken(store: Store) -> None:
    claimed = await store.claim_start(
        THREAD, ts="100.000001", user_id="U1", text="", attachment=CLIP
    )
    assert claimed is not None
    _, start = claimed
    assert start.attachment == CLIP and voice_follows(start)
    assert await voice_waiting(store) == [("100.000001", 0, TurnKind.START, "", CLIP)]
    await store.answer([start.id], "i1", "Hello!", voice_after=[start])
    await store.answer([start.id], "i1", "Hello!", voice_after=[start])  # again: queued once
    assert await voice_waiting(store) == [("100.000001", 1, TurnKind.REPLY, "", CLIP)]


async def test_typed_words_with_a_clip_are_answered_first_then_the_clip_waits(
    store: Store,
) -> None:
    claimed = await store.claim_start(THREAD, ts="100.000001", user_id="U1", text="hi")
    assert claimed is not None
    conversation, start = claimed
    assert not voice_follows(start)
    await store.answer([start.id], "i0", "Hello!")
    assert await voice_waiting(store) == []
    reply = await store.claim_reply(
        conversation, ts="100.000002", user_id="U1", text="about my order", attachment=CLIP
    )
    assert reply is not None and voice_follows(reply)
    await store.answer([reply.id], "i1", "Sure.", voice_after=[reply])
    assert await voice_waiting(store) == [("100.000002", 1, TurnKind.REPLY, "", CLIP)]


async def test_a_voice_turn_is_not_followed_by_another(store: Store) -> None:
    claimed = await store.claim_start(THREAD, ts="100.000001", user_id="U1", text="hi")
    assert claimed is not None
    voice = await store.claim_reply(
        claimed[0], ts="100.000002", user_id="U1", text="", attachment=CLIP
    )
    assert voice is not None and voice.attachment == CLIP
    assert is_voice(voice) and not voice_follows(voice)
