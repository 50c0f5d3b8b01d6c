"""Nothing a person or the agent writes becomes a live mention, while Markdown renders.

(Every test also fails if the app sends a live ``<!channel>``, ``<!here>`` or
``<!everyone>`` anywhere: see ``tests/conftest.py``.)
"""

from __future__ import annotations

import pytest

from slackbot.sandbox.amigo_fake import Reply
from slackbot.sandbox.slack_fake import markup_of
from tests.e2e.conftest import ALICE, BOB, Harness
from tests.e2e.test_relay import start_thread, wait_reply_done


def sent_by_the_app(h: Harness) -> str:
    """Everything the app asked Slack to show as markup, as sent."""
    return "\n".join(
        text
        for c in h.slack.calls
        if c.method.startswith("chat.") or c.method == "response_url"
        for text in markup_of(c.args)
    )


async def test_what_a_person_typed_comes_back_harmless(harness: Harness) -> None:
    h = harness
    # Slack delivers what a person typed with & < > escaped.
    typed = "&lt;!channel&gt; and &lt;@UBOB&gt; &amp; friends"
    ts = await h.sender.post_mention(ALICE, f"<@UBOT> {typed}")
    await h.wait_for(lambda: h.bot_texts(ts) == ["Echo: <!channel> and <@UBOB> & friends"])
    sent = sent_by_the_app(h)
    assert f"<@{BOB}>" not in sent
    assert "&lt;!channel&gt;" in sent


@pytest.mark.parametrize(
    "extra_settings", [{"slack_reply_writer": "edit"}, {"slack_reply_writer": "stream"}]
)
async def test_what_the_agent_writes_cannot_ping_anyone_and_still_renders(
    harness: Harness,
) -> None:
    h = harness
    ts = await start_thread(h)
    await wait_reply_done(h, ts)
    answer = (
        "**Bold** and `code` for <!here>, <!everyone|everyone> and <@UALICE>: a & b\n"
        "> a quote <https://example.com|link>"
    )
    h.amigo.queue_reply(Reply(text=answer, pieces=4, delay=0.05))
    h.amigo.recommendations = ["Ping <!channel>", "Ask <@UBOB>"]
    await h.sender.post_message(ALICE, "say something risky", thread_ts=ts)
    await wait_reply_done(h, ts, count=2)
    assert h.bot_texts(ts)[-1] == answer  # reads exactly as Amigo wrote it

    reply = h.bot_replies(ts)[-1]
    # An edited reply holds its text in a markdown block; a streamed one, as its text.
    markdown = next((b["text"] for b in reply.blocks or [] if b["type"] == "markdown"), reply.text)
    assert markdown.startswith("**Bold** and `code` for &lt;!here&gt;")  # Markdown intact
    assert "<" not in reply.text and "<" not in markdown

    await h.sender.slash_command("/amigo", "suggest", user=ALICE, channel=reply.channel)
    await h.wait_for(lambda: "Ping" in str(h.slack.thread(reply.channel, ts)[-1].blocks))
    suggestions = h.slack.thread(reply.channel, ts)[-1]
    assert "Ping &lt;!channel&gt;" in suggestions.text
    sent = sent_by_the_app(h)
    assert f"<@{BOB}>" not in sent
    assert "<https://example.com|link>" not in sent
