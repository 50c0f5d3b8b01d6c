"""What the relay needs from Slack, as a protocol.

The relay speaks to Slack only through :class:`SlackPort`; `slackbot.slack.web_port`
implements it with slack_sdk's Web API client, and tests may pass anything that fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

Blocks = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Profile:
    """What the relay uses of a Slack user's profile."""

    user_id: str
    first_name: str
    last_name: str
    display_name: str
    email: str | None
    is_admin: bool = False
    is_owner: bool = False


class SlackPort(Protocol):
    async def post_message(
        self, channel: str, thread_ts: str | None, text: str, blocks: Blocks | None = None
    ) -> str:
        """Post in a thread (or top level when thread_ts is None); returns the message ts."""
        ...

    async def update_message(
        self, channel: str, ts: str, text: str, blocks: Blocks | None = None
    ) -> None: ...

    async def delete_message(self, channel: str, ts: str) -> None: ...

    async def post_ephemeral(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> None: ...

    async def permalink(self, channel: str, ts: str) -> str: ...

    async def message_text(self, channel: str, thread_ts: str, ts: str) -> str | None:
        """The visible text of one message in a thread, or None if it is gone."""
        ...

    async def profile(self, user_id: str) -> Profile: ...
