"""Every sentence the app shows in Slack, in one place.

Short, specific, and never a stack trace or a raw API error. Text uses Slack
`mrkdwn` for notices (plain `text` fields) and Markdown inside `markdown` blocks.
"""

from __future__ import annotations

from datetime import UTC, datetime

from slackbot.ui.escape import escape

# -- the reply placeholder and its statuses ---------------------------------

THINKING = "_Thinking…_"


def waiting_for_amigo(seconds: float) -> str:
    return f"_Amigo is busy right now; trying again in {max(1, round(seconds))} s…_"


# -- endings of a reply ------------------------------------------------------

REPLY_INTERRUPTED = (
    ":warning: _The reply was interrupted before it finished. "
    "Press Retry to send your message again._"
)
REPLY_PAUSED = "_The app is restarting: this reply goes on as soon as it is back._"
RETRY_BUTTON = "Retry"
RETRY_QUEUED = "_Sending your message again…_"
RETRY_UNKNOWN = "There is nothing to retry here any more."
RETRY_NOT_NEEDED = "That message does not need a retry: it was answered or is on its way."
RETRY_ALREADY = "That message was already sent again."


def retry_not_yours(owner_user_id: str) -> str:
    return f"Only <@{owner_user_id}> can retry this message, because it is theirs."


REPLY_FAILED_BUSY = (
    ":warning: Amigo is still busy after several tries, so your message was not answered. "
    "Please send it again in a minute."
)
REPLY_FAILED_UNREACHABLE = (
    ":warning: Amigo could not be reached, so your message was not answered. "
    "Please send it again in a minute."
)
REPLY_FAILED_MISCONFIGURED = (
    ":no_entry: This app is misconfigured: Amigo refused its credentials. "
    "An admin can find the details in the app's log."
)
REPLY_FAILED_REJECTED = ":warning: Amigo could not accept this message, so it was not answered."
REPLY_FAILED_START = (
    ":warning: The conversation could not be started. Mention me again to try once more."
)
CONVERSATION_GONE = (
    ":warning: Amigo no longer knows this conversation. "
    "Mention me in a new message to start another."
)
UNFINISHED_ELSEWHERE = (
    ":no_entry: You have an unfinished Amigo conversation outside Slack, so a new one cannot "
    "start here. Finish it there first, then mention me again."
)
REPLY_BELOW = "_The reply is in the messages below._"

_CLOSED_BECAUSE = {
    "not_in_channel": "I am not a member of it: invite me with `/invite @Amigo`",
    "channel_not_found": "I cannot see it any more",
    "is_archived": "it is archived",
}


def reply_sent_by_dm(channel: str, error: str) -> str:
    why = _CLOSED_BECAUSE.get(error, "Slack does not let me")
    return f":mailbox_with_mail: I could not post my reply in <#{channel}> ({why}), so here it is:"


MESSAGE_EMPTY = "_There was nothing to send: the message had no text._"


def message_too_long(length: int, limit: int) -> str:
    return (
        f":warning: Your message is {length:,} characters long, so it was not sent to Amigo: "
        f"it can take at most {limit:,}. Please shorten it and send it again."
    )


# -- conversation lifecycle ---------------------------------------------------

CONVERSATION_COMPLETED = (
    ":checkered_flag: This conversation is finished. Mention me in a new message to start another."
)


def finished_for_new_thread(new_thread_link: str) -> str:
    return (
        ":checkered_flag: This conversation is finished because you started a new one "
        f"<{new_thread_link}|here>."
    )


def refused_active_elsewhere(active_thread_link: str) -> str:
    return (
        ":no_entry: You already have an active conversation "
        f"<{active_thread_link}|in this thread>. Finish it with `/amigo finish` "
        "before starting a new one."
    )


def thread_finished_hint() -> str:
    return (
        "This conversation has ended, so your reply was not sent to Amigo. "
        "Mention me in a new message to start a new conversation."
    )


def not_owner_hint(owner_user_id: str, *, shared: bool = False) -> str:
    heard = "Your messages here are shared with the agent, but only" if shared else "Only"
    goes = "get answers" if shared else "go to Amigo"
    return (
        f"{heard} <@{owner_user_id}>'s replies in this thread {goes}, because they started "
        "the conversation. Mention me in a new message to start your own."
    )


# -- /amigo commands, reply menu and suggested replies ------------------------


def shown(text: str, limit: int = 40) -> str:
    """User input quoted back safely: escaped for mrkdwn, no backticks, kept short."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return escape(flat).replace("`", "'")


def _listed(items: list[str], limit: int = 5) -> str:
    names = ", ".join(f"`{shown(i)}`" if i.strip() else "an empty name" for i in items[:limit])
    return names + (f" and {len(items) - limit} more" if len(items) > limit else "")


HELP = (
    "*`/amigo`* acts on your active Amigo conversation, or on the thread whose link you add "
    "(slash commands cannot be typed inside threads):\n"
    "• `/amigo status`: where your conversation is, how many turns, its tags\n"
    "• `/amigo finish [thread link]`: finish the conversation\n"
    "• `/amigo tag key:value …`: set tags; quote spaces, as in "
    '`/amigo tag "support tier":"gold plus"`; a bare `key` sets a tag without a value\n'
    "• `/amigo untag key …`: remove tags\n"
    "• `/amigo tags`: list the conversation's tags\n"
    "• `/amigo suggest`: suggested replies, as buttons in the thread\n"
    "• `/amigo why [thread link]`: why the agent gave its latest answer\n"
    "• `/amigo config`: (admins) which Amigo service each channel's conversations use\n"
    "• `/amigo help`: this help\n"
    "Inside a thread, use the ⋯ menu on my latest reply, or the message shortcuts "
    "*Finish conversation*, *Suggest replies* and *Why this answer?*."
)


def unknown_command(word: str) -> str:
    return f"I don't know `/amigo {shown(word)}`. Here is what I can do:\n{HELP}"


NOTHING_TO_TAG = "Which tags should I set? For example: `/amigo tag team:sales priority:high`."
NOTHING_TO_UNTAG = "Which tags should I remove? For example: `/amigo untag team`."
TOO_MANY_LINKS = ":warning: Give at most one thread link."


def unclosed_quote(fragment: str) -> str:
    return f':warning: A quote is not closed in `{shown(fragment)}`; close it with `"`.'


def not_a_thread_link(link: str) -> str:
    return (
        f":warning: `{shown(link, 80)}` is not a link to a Slack thread. Use *Copy link* on a "
        "message of the thread."
    )


def unexpected_arguments(command: str, words: list[str]) -> str:
    return (
        f":warning: `/amigo {command}` takes nothing but an optional thread link; "
        f"I did not understand {_listed(words)}."
    )


TAG_RULE_KEY = "Tag names may contain only letters, digits, underscores and spaces"
TAG_RULE_VALUE = "Tag values may contain only letters, digits, underscores and spaces"
TAG_RULE_VALUE_LENGTH = "Tag values may be at most 100 characters long"
TAG_RULE_COUNT = "A conversation may have at most 20 tags"


def tag_rule_broken(rule: str, culprits: list[str]) -> str:
    return f"{rule}: {_listed(culprits)}." if culprits else f"{rule}."


def tag_count_broken(total: int) -> str:
    return f"{TAG_RULE_COUNT}; with this change it would have {total}."


def tags_refused(problems: list[str]) -> str:
    lines = "\n".join(f"• {p}" for p in problems)
    return f":warning: No tags were changed, because:\n{lines}"


# Which conversation, and who may act on it.

NO_ACTIVE_CONVERSATION = (
    "You have no active Amigo conversation. Mention me in a channel (or send me a direct "
    "message) to start one, or add the link of a thread to the command."
)
NO_CONVERSATION_IN_THREAD = (
    "There is no Amigo conversation in that thread. Mention me in a message to start one."
)
CONVERSATION_STARTING = "The conversation is still starting. Try again in a moment."
CONVERSATION_BUSY = "Amigo is still answering in that thread. Try again when the reply is complete."


def not_allowed(owner_user_id: str) -> str:
    return (
        f":no_entry: Only <@{owner_user_id}>, who started this conversation, or a workspace "
        "admin can do that."
    )


def already_finished(thread_link: str) -> str:
    return f"The conversation <{thread_link}|in that thread> is already finished."


def finished_confirmed(thread_link: str) -> str:
    return f":checkered_flag: Finished the conversation <{thread_link}|in this thread>."


def finished_by(user_id: str) -> str:
    return (
        f":checkered_flag: <@{user_id}> finished this conversation. "
        "Mention me in a new message to start another."
    )


NO_TAGS = "The conversation has no tags."


def _tag(key: str, value: str | None) -> str:
    return f"`{shown(key)}`" + (f": {shown(value, 100)}" if value is not None else "")


def tag_list(tags: dict[str, str | None]) -> str:
    return ", ".join(_tag(k, v) for k, v in sorted(tags.items())) if tags else "none"


def tags_listed(tags: dict[str, str | None]) -> str:
    return f"Tags: {tag_list(tags)}." if tags else NO_TAGS


def tags_set(updates: dict[str, str | None]) -> str:
    return f":label: Set {tag_list(updates)}."


def tags_removed(keys: list[str]) -> str:
    return f":label: Removed {_listed(keys, 20)}."


TAGS_UNREADABLE = "could not be read right now"


def status(
    owner_user_id: str,
    thread_link: str,
    amigo_conversation_id: str | None,
    started: datetime,
    turns: int,
    state: str,
    tags: str,
) -> str:
    epoch = int(started.timestamp())
    fallback = started.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    when = f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"
    return (
        f"*Amigo conversation of <@{owner_user_id}>* <{thread_link}|in this thread> ({state})\n"
        f"• Amigo conversation id: `{amigo_conversation_id or 'not created yet'}`\n"
        f"• Started: {when}\n"
        f"• Turns: {turns}\n"
        f"• Tags: {tags}"
    )


# Suggested replies.

SUGGESTIONS_OFF = "Suggested replies are turned off in this workspace."
NOTHING_TO_SUGGEST = "There is nothing to suggest yet: wait for Amigo's first reply."
NO_SUGGESTIONS = "Amigo has no suggested replies right now."
SUGGESTIONS_NOT_LATEST = (
    "Amigo can only suggest replies to its latest completed answer. Try again once it has "
    "finished answering."
)
SUGGESTION_USED = "A suggested reply was already chosen from these buttons; nothing was sent."
SUGGESTION_STALE = (
    "These suggestions belong to an earlier reply, so nothing was sent. Use the menu on the "
    "latest reply to get fresh ones."
)
SUGGESTION_FINISHED = "This conversation is finished, so nothing was sent."


def suggestion_not_owner(owner_user_id: str) -> str:
    return f"Only <@{owner_user_id}> can choose these replies; nothing was sent."


def suggestions_intro(owner_user_id: str) -> str:
    return f":bulb: Suggested replies for <@{owner_user_id}>. Click one to send it:"


def suggestions_fallback(suggestions: list[str]) -> str:
    return "Suggested replies: " + " · ".join(escape(s) for s in suggestions)


def suggestions_posted(thread_link: str) -> str:
    return f":bulb: Suggested replies are waiting for you <{thread_link}|in the thread>."


def suggestion_chosen(user_id: str, text: str) -> str:
    return f"<@{user_id}> chose: {escape(text)}"


def suggestion_chosen_note(user_id: str, text: str) -> str:
    return f":white_check_mark: <@{user_id}> chose “{shown(text, 200)}”"


# Amigo failures of the conversation controls.

COMMAND_UNREADABLE = (
    ":warning: Slack sent that command in a form I could not read, so nothing happened."
)
COMMAND_FAILED = ":warning: Something went wrong on my side, so that did not happen. Try again."
AMIGO_TOO_MANY_TAGS = ":warning: Amigo refused: a conversation cannot have more than 20 tags."
AMIGO_UNAVAILABLE = (
    ":warning: Amigo is down for maintenance right now, so that did not happen. "
    "Try again in a few minutes."
)
AMIGO_UNREACHABLE = ":warning: Amigo could not be reached, so that did not happen. Try again."
FEEDBACK_QUESTION = "What was wrong with the answer? It helps the agent's makers."
FEEDBACK_MAX_CHARS = 1000
FEEDBACK_UNKNOWN = "That answer is no longer known here, so the vote was not kept."
NO_INSIGHTS = "Amigo keeps no explanation for that answer."
AMIGO_REFUSED = ":warning: Amigo refused that request, so it did not happen."


def amigo_busy(seconds: float | None) -> str:
    wait = f"in {max(1, round(seconds))} s" if seconds is not None else "in a minute"
    return f":hourglass: Amigo is busy, so that did not happen. Try again {wait}."
