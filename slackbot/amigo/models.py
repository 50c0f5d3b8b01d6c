"""Typed views of Amigo's JSON answers; fields the client does not use are ignored."""

from __future__ import annotations

from datetime import datetime

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
