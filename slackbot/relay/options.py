"""The choices an admin makes about the relay's behaviour (read from settings)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

ActivePolicy = Literal["finish-previous", "refuse"]
"""What a user's new thread does to their active conversation."""

SuggestionsMode = Literal["off", "on-request", "after-each-reply"]
"""When recommended replies are offered."""

InsightsMode = Literal["off", "admins", "owners"]
"""Who may see why the agent answered as it did."""


class WriterMode(StrEnum):
    AUTO = "auto"
    STREAM = "stream"
    EDIT = "edit"
    POST = "post"


class StepsShown(StrEnum):
    """How much of the agent's work people see while it answers."""

    OFF = "off"
    STATUS = "status"
    TASKS = "tasks"
