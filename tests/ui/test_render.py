from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slackbot.ui.escape import escape
from slackbot.ui.render import FALLBACK_CHAR_LIMIT, fallback_text, markdown_blocks
from slackbot.ui.split import (
    MESSAGE_CHAR_LIMIT,
    ReplyChunk,
    join_chunks,
    split_reply,
    split_reply_chunks,
)

# An independent (test-side) CommonMark fence reader, to check the module's output.
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")


def open_fence_at_end(chunk: str) -> str | None:
    """The fence still open at the end of ``chunk`` (None when fences are balanced)."""
    marker: str | None = None
    for line in chunk.split("\n"):
        match = _FENCE.fullmatch(line)
        if match is None:
            continue
        run, info = match.groups()
        if marker is None:
            if not (run[0] == "`" and "`" in info):
                marker = run
        elif run[0] == marker[0] and len(run) >= len(marker) and not info.strip(" \t"):
            marker = None
    return marker


def assert_valid(text: str, chunks: list[ReplyChunk], limit: int) -> None:
    assert chunks
    assert all(len(chunk.text) <= limit for chunk in chunks)
    assert join_chunks(chunks) == text
    for chunk in chunks:
        assert chunk.text == chunk.reopen + chunk.body + chunk.close
        assert chunk.separator.strip() == ""
    if text.strip():
        assert all(chunk.body.strip() for chunk in chunks)


def assert_stable(prefix: str, text: str, limit: int) -> None:
    early = split_reply_chunks(prefix, limit)
    late = split_reply_chunks(text, limit)
    assert early[:-1] == late[: len(early) - 1]


# --------------------------------------------------------------------------------------------
# Examples
# --------------------------------------------------------------------------------------------


def prose(paragraphs: int, seed: int) -> list[str]:
    out = []
    for p in range(paragraphs):
        lines = [
            " ".join(f"word{(seed + p * 7 + line * 3 + w) % 97}" for w in range(14))
            for line in range(6)
        ]
        out.append("\n".join(lines))
    return out


SHORT_CODE = "```python\n" + "\n".join(f"value_{i} = compute({i})  # step" for i in range(20))
SHORT_CODE += "\n```"
LONG_CODE = "```python\n" + "\n".join(f"result_{i} = transform(item_{i})" for i in range(160))
LONG_CODE += "\n```"
LONG_REPLY = "\n\n".join(
    [
        "# Summary",
        *prose(4, 1),
        SHORT_CODE,
        *prose(3, 2),
        LONG_CODE,
        *prose(3, 3),
    ]
)


def test_long_reply_with_code_blocks() -> None:
    assert len(LONG_REPLY) >= 9000
    assert len(LONG_CODE) > MESSAGE_CHAR_LIMIT
    chunks = split_reply_chunks(LONG_REPLY)
    assert_valid(LONG_REPLY, chunks, MESSAGE_CHAR_LIMIT)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert open_fence_at_end(chunk.text) is None
        fence_lines = [line for line in chunk.text.split("\n") if _FENCE.fullmatch(line)]
        assert len(fence_lines) % 2 == 0
    # The short block fits, so it is never split; the long one is closed and reopened.
    assert any(SHORT_CODE in chunk.text for chunk in chunks)
    reopened = [chunk for chunk in chunks if chunk.reopen]
    assert reopened
    assert all(chunk.reopen == "```python\n" for chunk in reopened)
    assert all(chunks[i - 1].close == "\n```" for i, c in enumerate(chunks) if c.reopen)
    assert split_reply(LONG_REPLY) == [chunk.text for chunk in chunks]


def test_code_block_moves_to_next_chunk_rather_than_splitting() -> None:
    text = "intro " * 50 + "\n\n" + SHORT_CODE + "\n\ntail"
    chunks = split_reply_chunks(text, 700)
    assert_valid(text, chunks, 700)
    assert [c.reopen for c in chunks] == ["", ""]
    assert chunks[1].text.startswith(SHORT_CODE)


def test_prefers_paragraph_boundaries() -> None:
    paragraphs = prose(12, 5)
    text = "\n\n".join(paragraphs)
    chunks = split_reply_chunks(text)
    assert_valid(text, chunks, MESSAGE_CHAR_LIMIT)
    assert len(chunks) > 1
    for chunk in chunks[:-1]:
        assert chunk.separator == "\n\n"
    for chunk in chunks:
        assert chunk.body.split("\n\n")[-1] in paragraphs


def test_line_then_space_boundaries() -> None:
    lines = "\n".join(f"line {i} " + "x" * 40 for i in range(100))
    chunks = split_reply_chunks(lines, 500)
    assert_valid(lines, chunks, 500)
    assert all(chunk.separator == "\n" for chunk in chunks[:-1])
    one_line = " ".join(f"w{i}" for i in range(1000))
    chunks = split_reply_chunks(one_line, 500)
    assert_valid(one_line, chunks, 500)
    assert all(chunk.separator == " " for chunk in chunks[:-1])
    assert all(len(chunk.text) > 450 for chunk in chunks[:-1])


def test_small_paragraph_is_not_a_cut_if_it_leaves_the_chunk_mostly_empty() -> None:
    text = "short paragraph\n\n" + "\n".join("y" * 30 for _ in range(40))
    chunks = split_reply_chunks(text, 400)
    assert_valid(text, chunks, 400)
    assert chunks[0].separator == "\n"
    assert len(chunks[0].text) > 350


def test_hard_split_of_a_long_word() -> None:
    text = "a" * 10_000
    chunks = split_reply_chunks(text)
    assert_valid(text, chunks, MESSAGE_CHAR_LIMIT)
    assert [len(c.text) for c in chunks] == [3900, 3900, 2200]
    assert all(chunk.separator == "" for chunk in chunks)


@pytest.mark.parametrize("text", ["", "hi", " \n ", "x" * MESSAGE_CHAR_LIMIT, "```\ncode"])
def test_short_text_is_returned_as_is(text: str) -> None:
    assert split_reply(text) == [text]
    assert split_reply_chunks(text) == [ReplyChunk(text)]


def test_trailing_whitespace_does_not_make_an_extra_chunk() -> None:
    text = "z" * 90 + "\n\n   \n"
    chunks = split_reply_chunks(text, 95)
    assert chunks == [ReplyChunk("z" * 90, separator="\n\n   \n")]
    assert split_reply(" " * 200, 100) == [""]


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit"):
        split_reply("abc", 0)


def test_other_fence_kinds_are_reopened_verbatim() -> None:
    body = "\n".join(["```", "not a close", "~~~"] + [f"row {i}" for i in range(80)])
    text = "  ````markdown\n" + body + "\n  ````\n\nend"
    chunks = split_reply_chunks(text, 300)
    assert_valid(text, chunks, 300)
    assert len(chunks) > 2
    for chunk in chunks:
        assert open_fence_at_end(chunk.text) is None
    assert {c.reopen for c in chunks[1:-1]} == {"  ````markdown\n"}
    assert {c.close for c in chunks[:-1]} == {"\n````"}


def test_no_cut_right_after_an_opening_fence_or_before_a_closing_one() -> None:
    text = "p " * 40 + "\n```\n" + "\n".join("c" * 20 for _ in range(30)) + "\n```\nend"
    for limit in range(60, 200, 7):
        chunks = split_reply_chunks(text, limit)
        assert_valid(text, chunks, limit)
        for chunk in chunks:
            assert open_fence_at_end(chunk.text) is None
            assert "```\n```" not in chunk.text


def test_mid_line_cut_never_starts_a_block_element() -> None:
    text = " ".join(["- item", "# no", "> quote", "1. one", "```x", "*"] * 200)
    chunks = split_reply_chunks(text, 250)
    assert_valid(text, chunks, 250)
    for chunk in chunks[1:]:
        assert chunk.text[0] not in "-#>*`" and not chunk.text[0].isdigit()


def test_streaming_growth_is_stable() -> None:
    for end in range(0, len(LONG_REPLY), 97):
        assert_stable(LONG_REPLY[:end], LONG_REPLY, MESSAGE_CHAR_LIMIT)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

short_words = st.text(alphabet="abcdefgh", min_size=1, max_size=9)
markdown_words = st.sampled_from(
    [
        "**bold**",
        "_it_",
        "`code`",
        "snake_case",
        "C#",
        "-",
        "1.",
        "~",
        "*",
        "`",
        "é",
        "👍🏽",
        "a\u0301",
    ]
)
long_words = st.text(alphabet="klmnop", min_size=40, max_size=400)
words = st.one_of(short_words, short_words, markdown_words, long_words)
lines = st.lists(words, min_size=1, max_size=14).flatmap(
    lambda ws: st.sampled_from([" ", "  ", "\t"]).map(lambda sep: sep.join(ws))
)
paragraphs = st.lists(lines, min_size=1, max_size=6).map("\n".join)


@st.composite
def code_blocks(draw: st.DrawFn) -> str:
    marker = draw(st.sampled_from(["```", "~~~", "````", "~~~~~"]))
    indent = draw(st.sampled_from(["", " ", "   "]))
    language = draw(st.sampled_from(["", "python", " js", "sh"]))
    other = "~~~" if marker[0] == "`" else "```"
    content = draw(
        st.lists(
            st.one_of(
                lines, st.just(""), st.just(other), st.just(marker[:-1] if len(marker) > 3 else "")
            ),
            max_size=25,
        )
    )
    closing = indent + marker + draw(st.sampled_from(["", " ", marker[0]]))
    return "\n".join([indent + marker + language, *content, closing])


separators = st.sampled_from(["\n", "\n\n", "\n\n\n", "\n \n", "\n\t\n\n"])


@st.composite
def documents(draw: st.DrawFn) -> str:
    blocks = draw(
        st.lists(st.one_of(paragraphs, paragraphs, code_blocks()), min_size=1, max_size=12)
    )
    text = blocks[0]
    for block in blocks[1:]:
        text += draw(separators) + block
    return text + draw(st.sampled_from(["", "\n", "  \n\n"]))


limits = st.integers(min_value=60, max_value=400)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@PROPERTY_SETTINGS
@given(text=documents(), limit=limits)
def test_chunks_fit_are_balanced_and_lossless(text: str, limit: int) -> None:
    chunks = split_reply_chunks(text, limit)
    assert_valid(text, chunks, limit)
    assert open_fence_at_end(text) is None  # the generator only makes balanced documents
    for chunk in chunks:
        assert open_fence_at_end(chunk.text) is None, chunk


@PROPERTY_SETTINGS
@given(text=documents(), limit=limits, data=st.data())
def test_chunks_are_stable_as_text_grows(text: str, limit: int, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    prefix = text[:cut]
    assert_valid(prefix, split_reply_chunks(prefix, limit), limit)
    assert_stable(prefix, text, limit)


@PROPERTY_SETTINGS
@given(
    text=st.text(alphabet=" \t\n`~ab#*-1_\u0301", max_size=1200),
    limit=st.integers(min_value=1, max_value=120),
    data=st.data(),
)
def test_any_text_fits_losslessly_and_stably(text: str, limit: int, data: st.DataObject) -> None:
    chunks = split_reply_chunks(text, limit)
    assert all(len(chunk.text) <= limit for chunk in chunks)
    assert join_chunks(chunks) == text
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    assert_stable(text[:cut], text, limit)


# --------------------------------------------------------------------------------------------
# Payload pieces
# --------------------------------------------------------------------------------------------


def test_markdown_blocks() -> None:
    assert markdown_blocks("**hi**") == [{"type": "markdown", "text": "**hi**"}]
    assert markdown_blocks("") == []
    assert markdown_blocks(" \n") == []


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        ("**bold** and __strong__", "bold and strong"),
        ("*em* and _em_ and ***both***", "em and em and both"),
        ("snake_case_words and __init__.py", "snake_case_words and init.py"),
        ("2 * 3 * 4 and a*b*c", "2 * 3 * 4 and a*b*c"),
        ("**kwargs stays", "**kwargs stays"),
        ("~~gone~~ text", "gone text"),
        ("# Title", "Title"),
        ("### Closed heading ###", "Closed heading"),
        ("C# is #1", "C# is #1"),
        ("see [the docs](https://x.y/a_b_c) now", "see the docs (https://x.y/a_b_c) now"),
        ("[https://x.y](https://x.y)", "https://x.y"),
        ("![diagram](https://x.y/d.png)", "diagram (https://x.y/d.png)"),
        ('[t](https://x.y "title")', "t (https://x.y)"),
        ("<https://x.y/_a_>", "https://x.y/_a_"),
        ("_see https://x.y/_p_/q_", "see https://x.y/_p_/q"),
        ("use `a_b_` and `**x**`", "use a_b_ and **x**"),
        ("`` `tick` ``", "`tick`"),
        ("\\*not em\\*", "*not em*"),
        ("> quoted **x**", "quoted x"),
        ("- item *one*\n- item two", "- item one\n- item two"),
        ("text\n```python\n**kwargs = _x_\n```\nmore", "text\n**kwargs = _x_\nmore"),
        ("~~~\n# not a heading\n~~~", "# not a heading"),
        ("", ""),
    ],
)
def test_fallback_text(markdown: str, plain: str) -> None:
    assert fallback_text(markdown) == plain


def test_fallback_text_is_truncated() -> None:
    plain = fallback_text("word " * 2000)
    assert len(plain) == FALLBACK_CHAR_LIMIT
    assert plain.endswith("…")
    assert len(fallback_text("w" * FALLBACK_CHAR_LIMIT)) == FALLBACK_CHAR_LIMIT


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ab_*`~[]()#>\\ \n!:/.", max_size=300))
def test_fallback_text_never_raises_and_fits(text: str) -> None:
    assert len(fallback_text(text)) <= FALLBACK_CHAR_LIMIT


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="ab&<> \n", min_size=1, max_size=300), st.integers(min_value=8, max_value=40)
)
def test_a_split_never_cuts_one_of_slacks_escapes(raw: str, limit: int) -> None:
    escaped = escape(raw)
    chunks = split_reply_chunks(escaped, limit)
    assert join_chunks(chunks) == escaped
    for chunk in chunks:
        body = chunk.body
        assert re.search(r"&(a|am|amp|l|lt|g|gt)?$", body) is None, body
        assert re.match(r"^(mp|p|t)?;", body) is None, body
