"""The `/amigo` command parser: every input parses or yields a user-facing error."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slackbot.amigo.models import ConversationInfo, ConversationPage
from slackbot.relay.admins import Admins
from slackbot.relay.commands import (
    MAX_TAGS,
    CommandError,
    Finish,
    Help,
    RemoveTags,
    ResetChannelService,
    SetChannelService,
    SetTags,
    ShowConfig,
    ShowTags,
    Status,
    Suggest,
    ThreadRef,
    Why,
    help_text,
    parse_command,
    parse_thread_link,
)
from slackbot.relay.controls import Caller, Controls, Permissions
from slackbot.relay.ports import Profile
from slackbot.relay.suggestions import Suggestions
from slackbot.relay.watch import Watch
from slackbot.store.models import ConversationState
from slackbot.store.records import Conversation, Progress
from tests.contract.amigo_spec import AmigoSpec, is_valid

MODIFY_TAGS = "src__app__endpoints__conversation__modify_tags_of_conversation__Request"
LINK = "https://acme.slack.com/archives/C123ABC/p1700000000000100"
SERVICE_B = "0123456789abcdef0123456b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("   ", Help()),
        ("help", Help()),
        ("HELP me please", Help()),
        ("nonsense", Help(unknown="nonsense")),
        ("finish", Finish()),
        ("Finish", Finish()),
        ("status", Status()),
        ("tags", ShowTags()),
        ("suggest", Suggest()),
        ("why", Why()),
        (
            "why https://x.slack.com/archives/C0CHAN/p1700000000000100",
            Why(ThreadRef("C0CHAN", "1700000000.000100")),
        ),
        (
            "tag team:sales priority:high",
            SetTags((("team", "sales"), ("priority", "high"))),
        ),
        (
            'tag "support tier":"gold plus"',
            SetTags((("support tier", "gold plus"),)),
        ),
        ("tag vip", SetTags((("vip", None),))),
        ("tag vip:", SetTags((("vip", None),))),
        ("tag “support tier”:“gold”", SetTags((("support tier", "gold"),))),
        ("tag a:1 a:2", SetTags((("a", "2"),))),
        ("untag team", RemoveTags(("team",))),
        ("untag team team priority", RemoveTags(("team", "priority"))),
        ('untag "support tier"', RemoveTags(("support tier",))),
    ],
)
def test_commands_parse(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("link", "channel", "thread_ts"),
    [
        (LINK, "C123ABC", "1700000000.000100"),
        (f"<{LINK}>", "C123ABC", "1700000000.000100"),
        (f"<{LINK}|the thread>", "C123ABC", "1700000000.000100"),
        (
            "https://acme.slack.com/archives/C123ABC/p1700000005000200"
            "?thread_ts=1700000000.000100&cid=C123ABC",
            "C123ABC",
            "1700000000.000100",
        ),
        (
            "<https://fake.slack.test/archives/C0CHAN/p1700000005000200"
            "?thread_ts=1700000000.000100&amp;cid=C0CHAN>",
            "C0CHAN",
            "1700000000.000100",
        ),
    ],
)
def test_every_command_takes_a_thread_link(link: str, channel: str, thread_ts: str) -> None:
    ref = ThreadRef(channel, thread_ts)
    assert parse_command(f"finish {link}") == Finish(ref)
    assert parse_command(f"status {link}") == Status(ref)
    assert parse_command(f"tag {link} team:sales") == SetTags((("team", "sales"),), ref)
    assert parse_command(f"untag team {link}") == RemoveTags(("team",), ref)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("tag", "Which tags should I set"),
        ("untag", "Which tags should I remove"),
        ("tag bad-key!:x", "Tag names may contain only letters, digits, underscores and spaces"),
        ("untag bad-key!", "Tag names may contain only letters"),
        ("tag team:sales-east", "Tag values may contain only letters"),
        ("tag note:" + "x" * 101, "at most 100 characters"),
        ("tag :x", "an empty name"),
        ('tag "open:x', "A quote is not closed"),
        ("finish https://example.com/a/b", "is not a link to a Slack thread"),
        (f"finish {LINK} {LINK}", "at most one thread link"),
        ("status please", "takes nothing but an optional thread link"),
    ],
)
def test_bad_input_yields_a_precise_error(text: str, says: str) -> None:
    result = parse_command(text)
    assert isinstance(result, CommandError)
    assert says in result.message


def test_an_invalid_request_is_refused_as_a_whole_naming_each_rule() -> None:
    result = parse_command("tag good:ok bad-key!:x other:" + "y" * 120 + " more:a-b")
    assert isinstance(result, CommandError)
    assert "No tags were changed" in result.message
    assert "`bad-key!`" in result.message
    assert "at most 100 characters long: `other`" in result.message
    assert "Tag values may contain only letters" in result.message
    assert "good" not in result.message


def test_more_than_twenty_tags_in_one_command_are_refused() -> None:
    result = parse_command("tag " + " ".join(f"k{i}:v" for i in range(MAX_TAGS + 1)))
    assert isinstance(result, CommandError)
    assert "at most 20 tags; with this change it would have 21" in result.message


def test_a_thread_link_without_thread_ts_uses_its_own_ts() -> None:
    assert parse_thread_link("https://x.slack.com/archives/D0AB/p1700000000123456") == ThreadRef(
        "D0AB", "1700000000.123456"
    )
    assert parse_thread_link("https://x.slack.com/messages/C1/p1700000000123456") is None
    assert parse_thread_link("ftp://x.slack.com/archives/C1/p1700000000123456") is None


def test_ten_kilobytes_of_text_get_a_short_answer() -> None:
    unknown = parse_command("x" * 10_240)
    assert isinstance(unknown, Help)
    assert unknown.unknown is not None
    assert len(help_text(unknown)) < len(help_text(Help())) + 200
    many = " ".join(f"k{i}:v" for i in range(2_000))
    for text in ("tag " + many, "tag " + "a" * 10_240 + ":-", "untag " + "a-" * 5_000):
        result = parse_command(text)
        assert isinstance(result, CommandError)
        assert len(result.message) < 1_000


# -- /amigo config ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("config", ShowConfig()),
        ("CONFIG list", ShowConfig()),
        (
            f"config channel <#C0SUPPORT|support> service {SERVICE_B}",
            SetChannelService("C0SUPPORT", SERVICE_B, "release"),
        ),
        (
            f"config channel <#C0SUPPORT> service {SERVICE_B.upper()} beta",
            SetChannelService("C0SUPPORT", SERVICE_B, "beta"),
        ),
        (
            f"config Channel <#G0PRIVATE|secret> SERVICE {SERVICE_B} v2.1-rc_1",
            SetChannelService("G0PRIVATE", SERVICE_B, "v2.1-rc_1"),
        ),
        (
            f"config channel C0SUPPORT service {SERVICE_B}",
            SetChannelService("C0SUPPORT", SERVICE_B, "release"),
        ),
        (
            f"config channel https://acme.slack.com/archives/C0SUPPORT service {SERVICE_B}",
            SetChannelService("C0SUPPORT", SERVICE_B, "release"),
        ),
        (
            f"config channel <https://acme.slack.com/archives/C0SUPPORT> service {SERVICE_B} x",
            SetChannelService("C0SUPPORT", SERVICE_B, "x"),
        ),
        ("config channel <#C0SUPPORT|support> default", ResetChannelService("C0SUPPORT")),
        (
            "config channel https://acme.slack.com/archives/C0SUPPORT default",
            ResetChannelService("C0SUPPORT"),
        ),
    ],
)
def test_config_commands_parse(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("config channel", "Which channel?"),
        ("config channel <#C0SUPPORT|support>", "Which service?"),
        ("config channel <#C0SUPPORT|support> service", "Which service?"),
        (f"config channel #support service {SERVICE_B}", "Slack sent `#support` as plain text"),
        (f"config channel support service {SERVICE_B}", "`support` is not a channel"),
        (f"config channel <#D0ALICE> service {SERVICE_B}", "DMs always use the default"),
        ("config channel <#C0SUPPORT> service 0123", "`0123` is not an Amigo service id"),
        ("config channel <#C0SUPPORT> service " + "g" * 24, "is not an Amigo service id"),
        (f"config channel <#C0SUPPORT> service {SERVICE_B} be/ta", "not a version set name"),
        (f"config channel <#C0SUPPORT> service {SERVICE_B} a b", "I did not understand"),
        ("config channel <#C0SUPPORT> default now", "I did not understand"),
        ("config channel <#C0SUPPORT> mapped", "I did not understand"),
        ("config everything", "I did not understand `/amigo config everything`"),
        (f"config channel http://[oops service {SERVICE_B}", "is not a channel"),
        (
            f"config channel <#C0SUPPORT> https://x.slack.com/archives/C1 service {SERVICE_B}",
            "I did not understand",
        ),
    ],
)
def test_bad_config_yields_a_precise_error(text: str, says: str) -> None:
    result = parse_command(text)
    assert isinstance(result, CommandError)
    assert says in result.message


def test_config_errors_quote_what_was_typed_safely() -> None:
    result = parse_command("config channel &lt;!channel&gt; service x")
    assert isinstance(result, CommandError)
    assert "<!channel>" not in result.message
    assert "&lt;!channel&gt;" in result.message


# -- properties ----------------------------------------------------------------

_SPEC = AmigoSpec()
_MODIFY_TAGS = _SPEC.component(MODIFY_TAGS)

_pieces = st.sampled_from(
    [
        "tag",
        "untag",
        "tags",
        "finish",
        "status",
        "suggest",
        "help",
        ":",
        '"',
        "“",
        "”",
        " ",
        "\n",
        "\t",
        "team",
        "sales",
        "support tier",
        "-",
        "!",
        "é",
        "日本",
        "_",
        "&amp;",
        "&lt;",
        "<",
        ">",
        "|",
        "<@U123>",
        LINK,
        f"<{LINK}|x>",
        "https://example.com",
        "x" * 101,
        "config",
        "channel",
        "service",
        "default",
        "<#C0SUPPORT|support>",
        "#support",
        SERVICE_B,
        "beta",
    ]
)
_command_texts = st.one_of(
    st.text(max_size=300),
    st.lists(_pieces, max_size=30).map("".join),
    st.lists(st.one_of(_pieces, st.text(max_size=8)), max_size=30).map(" ".join),
)


def _tags_request(updates: dict[str, str | None]) -> dict[str, Any]:
    return {"updates": updates, "deletes": []}


@settings(max_examples=400, deadline=None)
@given(_command_texts)
def test_any_input_parses_or_yields_a_user_facing_error(text: str) -> None:
    result = parse_command(text)
    if isinstance(result, CommandError):
        assert result.message.strip()
        assert len(result.message) < 2_000
        assert "Traceback" not in result.message
        return
    assert isinstance(
        result,
        Help
        | Finish
        | SetTags
        | RemoveTags
        | ShowTags
        | Suggest
        | Status
        | ShowConfig
        | SetChannelService
        | ResetChannelService,
    )
    if isinstance(result, SetChannelService):
        assert re.fullmatch(r"[a-f0-9]{24}", result.service_id)
        assert re.fullmatch(r"[CG][A-Z0-9]+", result.channel_id)
    if isinstance(result, SetTags):
        updates = result.as_dict
        assert 0 < len(updates) <= MAX_TAGS
        assert is_valid(_MODIFY_TAGS, _tags_request(updates)), updates
        assert all(v is None or len(v) <= 100 for v in updates.values())
    if isinstance(result, RemoveTags):
        assert result.keys
        assert is_valid(_MODIFY_TAGS, {"updates": {}, "deletes": list(result.keys)})


_tag_text = st.text(
    alphabet=st.characters(categories=("L", "Nd"), include_characters="_ "), min_size=1
).filter(lambda s: s.strip() != "" and re.fullmatch(r"[\w\s]+", s.strip()) is not None)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_tag_text.map(str.strip), _tag_text.map(str.strip), max_size=MAX_TAGS))
def test_valid_tags_survive_quoting_exactly(tags: dict[str, str]) -> None:
    text = "tag " + " ".join(f'"{k}":"{v}"' for k, v in tags.items())
    result = parse_command(text)
    if not tags:
        assert isinstance(result, CommandError)
        return
    if any(len(v) > 100 for v in tags.values()):
        assert isinstance(result, CommandError)
    else:
        assert isinstance(result, SetTags)
        assert result.as_dict == tags


# -- no Amigo call from invalid input, through the controls -----------------------


class RecordingAmigo:
    """Just enough of AmigoClient for the tag controls; records modifying calls."""

    def __init__(self, existing: dict[str, str | None]) -> None:
        self.tags = dict(existing)
        self.modified: list[dict[str, Any]] = []

    async def get_conversations(self, as_user: str, **_: Any) -> ConversationPage:
        info = ConversationInfo(
            id="a" * 24,
            user_id=as_user,
            created_at=datetime.now(UTC),
            is_finished=False,
            tags=dict(self.tags),
        )
        return ConversationPage(conversations=[info])

    async def modify_tags(
        self,
        as_user: str,
        conversation_id: str,
        *,
        updates: dict[str, str | None] | None = None,
        deletes: list[str] | tuple[str, ...] = (),
    ) -> None:
        body = {"updates": dict(updates or {}), "deletes": list(deletes)}
        self.modified.append(body)
        self.tags.update(body["updates"])
        for key in body["deletes"]:
            self.tags.pop(key, None)

    async def finish_conversation(self, as_user: str, conversation_id: str) -> None:
        raise AssertionError("not expected here")

    async def recommend_responses(self, *args: Any, **kwargs: Any) -> list[str]:
        return []


class OneConversationStore:
    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation

    async def open_conversations_of(self, team_id: str, user_id: str) -> list[Conversation]:
        return [self.conversation] if user_id == self.conversation.owner_user_id else []

    async def open_conversation(self, thread: object) -> Conversation | None:
        return self.conversation

    async def latest_conversation(self, thread: object) -> Conversation | None:
        return self.conversation

    async def turn_in_progress(self, conversation_id: int) -> bool:
        return False

    async def progress(self, conversation_id: int) -> Progress:
        return Progress("c" * 24, "1.000000", 1)


class QuietSlack:
    async def profile(self, user_id: str) -> Profile:
        return Profile(user_id, "", "", user_id, None)

    async def permalink(self, channel: str, ts: str) -> str:
        return f"https://fake.slack.test/archives/{channel}/p{ts.replace('.', '')}"

    async def post_message(self, *args: Any, **kwargs: Any) -> str:
        return "1.000000"


class NoAmigoConversations:
    watch = Watch()

    async def thread_link(self, thread: Any) -> str:
        return "https://fake.slack.test/archives/C/p1"

    async def finish(self, conversation: Conversation, **_: Any) -> bool:
        return True


def _controls(amigo: RecordingAmigo) -> Controls:
    conversation = Conversation(
        id=1,
        team_id="T1",
        channel_id="C1",
        thread_ts="1700000000.000100",
        owner_user_id="U1",
        amigo_user_id="b" * 24,
        amigo_conversation_id="a" * 24,
        state=ConversationState.ACTIVE,
        created_at=datetime.now(UTC),
    )
    store = OneConversationStore(conversation)
    slack = QuietSlack()
    return Controls(
        store=store,  # type: ignore[arg-type]
        amigo=amigo,  # type: ignore[arg-type]
        slack=slack,  # type: ignore[arg-type]
        conversations=NoAmigoConversations(),  # type: ignore[arg-type]
        suggestions=Suggestions(store, amigo, slack, "on-request"),  # type: ignore[arg-type]
        permissions=Permissions(slack, Admins()),  # type: ignore[arg-type]
        inbox=None,  # type: ignore[arg-type]
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _command_texts,
    st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.none(), max_size=MAX_TAGS),
)
def test_invalid_input_never_becomes_an_amigo_call(
    text: str, existing: dict[str, str | None]
) -> None:
    amigo = RecordingAmigo(existing)
    parsed = parse_command(text)
    if isinstance(parsed, CommandError):
        return  # the slash command answers with the error and calls nothing
    if isinstance(parsed, ShowConfig | SetChannelService | ResetChannelService):
        return  # answered by Services, not Controls (tests/relay/test_services.py)
    answer = asyncio.run(_controls(amigo).run(parsed, Caller("T1", "U1")))
    assert answer is None or answer.strip()
    for body in amigo.modified:
        assert is_valid(_MODIFY_TAGS, body), body
    assert len(amigo.tags) <= MAX_TAGS
