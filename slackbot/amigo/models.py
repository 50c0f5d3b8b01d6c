"""Typed views of Amigo's JSON answers; fields the client does not use are ignored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ConversationInfo(_Model):
    id: str
    user_id: str
    created_at: datetime
    is_finished: bool
    num_messages: int = 0
    tags: dict[str, str | None] = Field(default_factory=dict)
    service_id: str | None = None


class ConversationPage(_Model):
    conversations: list[ConversationInfo]
    has_more: bool = False
    continuation_token: int | None = None


class MessageInfo(_Model):
    id: str
    interaction_id: str
    created_at: datetime
    sender: str
    message: str
    message_type: str
    format: str = "text"


class MessagePage(_Model):
    messages: list[MessageInfo]
    has_more: bool = False
    continuation_token: int | None = None


class SignInResponse(_Model):
    id_token: str = Field(repr=False)
    expires_at: datetime


class CreatedUser(_Model):
    user_id: str
    verify_link: str | None = None


class UserInfo(_Model):
    user_id: str
    email: str


class UserPage(_Model):
    users: list[UserInfo]
    has_more: bool = False
    continuation_token: int | None = None


class RecommendedResponses(_Model):
    recommended_responses: list[str]


class StarterPrompt(_Model):
    prompt: str
    facets: list[str] = Field(default_factory=list)


class ConversationStarters(_Model):
    prompts: list[StarterPrompt]


class ToolCall(_Model):
    """One tool call the agent made (a ``ToolCallLog``)."""

    tool_name: str
    tool_id: str
    tool_version: str = ""
    input: dict[str, Any] = Field(default_factory=dict)
    output: str | None = None
    """The tool's result; None when Amigo did not keep it (an ephemeral output)."""
    duration: float = 0.0
    """Seconds."""


class StateTransition(_Model):
    """A move of the agent from one state to the next (a ``StateTransitionLog``).

    ``type`` is the kind of the state left (``action``, ``decision``, ``recall``,
    ``jumpback``, ``annotation``, ``reflection``, ``tool-call``); the fields that
    only some kinds have are empty for the others.
    """

    type: str
    previous_state: str
    next_state: str
    exit_condition: str | None = Field(
        default=None, validation_alias="previous_state_exit_condition_description"
    )
    """Why the previous state was left (action and decision states)."""
    tool_call_rounds: list[list[ToolCall]] = Field(
        default_factory=list, validation_alias="tool_call_logs"
    )
    designated_tool_call: ToolCall | None = Field(
        default=None, validation_alias="designated_tool_call_log"
    )
    """The call a tool-call state exists to make."""
    performed_queries: list[str] = Field(default_factory=list)
    """What a recall state looked up."""

    @property
    def tool_calls(self) -> list[ToolCall]:
        calls = [call for round_ in self.tool_call_rounds for call in round_]
        if self.designated_tool_call is not None:
            calls.append(self.designated_tool_call)
        return calls


class WorkingMemory(_Model):
    content: str
    context: str = ""


class InteractionInsights(_Model):
    """Why the agent answered as it did in one interaction ("why this answer?").

    Field names follow Amigo's ``get-interaction-insights`` answer; unknown
    fields are ignored.
    """

    current_state_name: str
    """The state the agent was in when it answered."""
    current_state_action: str = ""
    current_state_objective: str = ""
    state_transitions: list[StateTransition] = Field(
        default_factory=list, validation_alias="state_transition_logs"
    )
    working_memory: list[WorkingMemory] = Field(default_factory=list)
    reflections: list[str] = Field(default_factory=list)
    dynamic_behavior_set: tuple[str, int] | None = Field(
        default=None, validation_alias="triggered_dynamic_behavior_set_version_info"
    )
    """The (id, version) of the dynamic behavior set that fired, if one did."""
    select_next_action_tool_calls: list[list[ToolCall]] = Field(
        default_factory=list, validation_alias="select_next_action_tool_call_logs"
    )
    engage_user_tool_calls: list[list[ToolCall]] = Field(
        default_factory=list, validation_alias="engage_user_tool_call_logs"
    )

    @property
    def tool_calls(self) -> list[ToolCall]:
        """Every tool call of the interaction: while moving between states, then while
        choosing the action, then while answering."""
        calls = [call for transition in self.state_transitions for call in transition.tool_calls]
        for rounds in (self.select_next_action_tool_calls, self.engage_user_tool_calls):
            calls.extend(call for round_ in rounds for call in round_)
        return calls


class MessageSourceLink(_Model):
    """Where to download the raw source (audio) of a message; the URL is signed."""

    url: str = Field(repr=False)
    expires_at: datetime | None = None
    content_type: str | None = None
