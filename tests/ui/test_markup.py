from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slackbot.ui.markup import slack_to_plain, strip_bot_mention

BOT = "UBOT"

NAMES = {"U1": "Ada Lovelace", "U2": "Grace", "UAMP": "R&amp;D <team>"}


class Resolver:
    def __init__(self, names: dict[str, str] | None = None) -> None:
        self.names = NAMES if names is None else names
        self.calls: list[str] = []

    async def __call__(self, user_id: str) -> str | None:
        self.calls.append(user_id)
        return self.names.get(user_id)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@UBOT> hello", "hello"),
        ("<@UBOT|amigo> hello", "hello"),
        ("hello <@UBOT>", "hello"),
        ("hello <@UBOT> there", "hello there"),
        ("hello  <@UBOT>  there", "hello there"),
        ("hello\t<@UBOT> <@UBOT|amigo> there", "hello there"),
        ("hello <@UBOT>, there", "hello , there"),
        ("  <@UBOT>  ", ""),
        ("<@UBOT>", ""),
        ("<@UBOT>\nfirst line\n\nsecond", "first line\n\nsecond"),
        ("first\n<@UBOT>\nsecond", "first\nsecond"),
        ("first <@UBOT>\nsecond", "first\nsecond"),
        ("ask <@U1> and <@UBOT>", "ask <@U1> and"),
        ("<@UBOTX> is another user", "<@UBOTX> is another user"),
        ("&lt;@UBOT&gt; literal", "&lt;@UBOT&gt; literal"),
        ("", ""),
    ],
)
def test_strip_bot_mention(text: str, expected: str) -> None:
    assert strip_bot_mention(text, BOT) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi <@U1>", "hi @Ada Lovelace"),
        ("<@U1> at start", "@Ada Lovelace at start"),
        ("middle <@U2> here", "middle @Grace here"),
        ("at the end <@U2>", "at the end @Grace"),
        ("<@U1|ada>", "@Ada Lovelace"),
        ("<@U9|ghost>", "@ghost"),
        ("<@U9>", "@U9"),
        ("<@UAMP>", "@R&amp;D <team>"),
        ("<#C123|general>", "#general"),
        ("<#C123|>", "#C123"),
        ("<#C123>", "#C123"),
        ("<!here>", "@here"),
        ("<!here|here>", "@here"),
        ("<!channel> <!everyone>", "@channel @everyone"),
        ("<!subteam^S123|@team>", "@team"),
        ("<!subteam^S123>", "@S123"),
        (
            "<!date^1392734382^{date_pretty} at {time}|Feb 18, 2014 at 6:39 AM>",
            "Feb 18, 2014 at 6:39 AM",
        ),
        ("<https://x.y|label>", "label (https://x.y)"),
        ("<https://x.y>", "https://x.y"),
        ("<https://x.y|https://x.y>", "https://x.y"),
        ("<http://example.com|example.com>", "http://example.com"),
        ("<https://x.y/?a=1&amp;b=2|a &amp; b>", "a & b (https://x.y/?a=1&b=2)"),
        ("<mailto:a@b.c|a@b.c>", "a@b.c"),
        ("<mailto:a@b.c|Ann>", "Ann (a@b.c)"),
        ("<mailto:a@b.c>", "a@b.c"),
        ("a &amp; b &lt; c &gt; d", "a & b < c > d"),
        ("&amp;lt; stays escaped once", "&lt; stays escaped once"),
        ("&quot;other entities&quot; stay", "&quot;other entities&quot; stay"),
        ("&lt;@U1&gt; is literal text", "<@U1> is literal text"),
        ("&lt;https://x.y|no&gt;", "<https://x.y|no>"),
        ("unbalanced < and > raw", "unbalanced < and > raw"),
        ("<not an entity> <foo>", "<not an entity> <foo>"),
        ("", ""),
    ],
)
async def test_slack_to_plain(text: str, expected: str) -> None:
    assert await slack_to_plain(text, Resolver()) == expected


async def test_each_user_is_resolved_once() -> None:
    resolver = Resolver()
    plain = await slack_to_plain("<@U1> <@U2|g> <@U1|ada> <@U9> <@U2>", resolver)
    assert plain == "@Ada Lovelace @Grace @Ada Lovelace @U9 @Grace"
    assert sorted(resolver.calls) == ["U1", "U2", "U9"]


async def test_failing_lookup_falls_back() -> None:
    async def broken(user_id: str) -> str | None:
        raise RuntimeError("users.info failed")

    assert await slack_to_plain("<@U1|ada> and <@U2>", broken) == "@ada and @U2"


async def test_empty_name_falls_back() -> None:
    assert await slack_to_plain("<@U1|ada>", Resolver({"U1": ""})) == "@ada"


async def test_strip_then_convert() -> None:
    text = strip_bot_mention("<@UBOT> ask <@U2> about &lt;tags&gt;", BOT)
    assert await slack_to_plain(text, Resolver()) == "ask @Grace about <tags>"


slack_ish = st.text(alphabet="<>@#!^|&;:/ UCS1amplgtx.\n", max_size=200)


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=200), slack_ish), known=st.booleans())
def test_slack_to_plain_never_raises(text: str, known: bool) -> None:
    resolver = Resolver(NAMES if known else {})
    plain = asyncio.run(slack_to_plain(text, resolver))
    assert isinstance(plain, str)
    assert len(resolver.calls) == len(set(resolver.calls))
    if "<" not in text and "&" not in text:
        assert plain == text


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=200), slack_ish))
def test_strip_bot_mention_never_raises(text: str) -> None:
    stripped = strip_bot_mention(text, BOT)
    assert "<@UBOT>" not in stripped
    assert stripped == stripped.strip()
