"""Who hears that someone's conversations changed: one started, finished or was tagged.

The parts of the relay that change a conversation tell the :class:`Watch`; the Home tab
listens, to show the change. Listeners only take note (the work happens elsewhere, in
the background), so telling costs the teller nothing and never fails it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slackbot.store.repo import Conversation

log = logging.getLogger("slackbot.watch")

Listener = Callable[[str, str], None]
"""Called with (team id, Slack user id) of the person whose conversation changed."""


class Watch:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def changed(self, team_id: str, user_id: str) -> None:
        for listener in self._listeners:
            try:
                listener(team_id, user_id)
            except Exception:
                log.exception("a listener failed to take note of a change")

    def conversation_changed(self, conversation: Conversation) -> None:
        """``conversation`` started, finished or was tagged: its owner's changed."""
        self.changed(conversation.team_id, conversation.owner_user_id)
