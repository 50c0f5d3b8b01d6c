"""Every sentence the app shows in Slack, in one place.

Short, specific, and never a stack trace or a raw API error. Text uses Slack
`mrkdwn` for notices (plain `text` fields) and Markdown inside `markdown` blocks.
"""

from __future__ import annotations

# -- the reply placeholder and its statuses ---------------------------------

THINKING = "_Thinking…_"


def agent_action(label: str) -> str:
    return f"_Thinking… ({label})_"


def waiting_for_amigo(seconds: float) -> str:
    return f"_Amigo is busy right now; trying again in {max(1, round(seconds))} s…_"


# -- endings of a reply ------------------------------------------------------

REPLY_INTERRUPTED = (
    ":warning: _The reply was interrupted before it finished. Send your message again to retry._"
)
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
MESSAGE_EMPTY = "_There was nothing to send: the message had no text._"


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


def not_owner_hint(owner_user_id: str) -> str:
    return (
        f"Only <@{owner_user_id}>'s replies in this thread go to Amigo, because they "
        "started the conversation. Mention me in a new message to start your own."
    )
