"""Client for the Amigo conversation API; knows nothing about Slack."""

from slackbot.amigo.auth import Token, TokenCache
from slackbot.amigo.client import AmigoClient
from slackbot.amigo.errors import (
    AmigoAuthError,
    AmigoBadRequest,
    AmigoConflict,
    AmigoError,
    AmigoHTTPError,
    AmigoNotFound,
    AmigoProtocolError,
    AmigoRateLimited,
    AmigoStreamCut,
    AmigoTransportError,
    AmigoUnavailable,
    error_for_response,
)
from slackbot.amigo.events import (
    AmigoEvent,
    ConversationCreated,
    CurrentAgentAction,
    ErrorEvent,
    InteractionComplete,
    NewMessage,
    UnknownEvent,
    UserMessageAvailable,
    parse_event,
    read_ndjson,
)
from slackbot.amigo.models import ConversationInfo, ConversationPage, MessageInfo, MessagePage

__all__ = [
    "AmigoAuthError",
    "AmigoBadRequest",
    "AmigoClient",
    "AmigoConflict",
    "AmigoError",
    "AmigoEvent",
    "AmigoHTTPError",
    "AmigoNotFound",
    "AmigoProtocolError",
    "AmigoRateLimited",
    "AmigoStreamCut",
    "AmigoTransportError",
    "AmigoUnavailable",
    "ConversationCreated",
    "ConversationInfo",
    "ConversationPage",
    "CurrentAgentAction",
    "ErrorEvent",
    "InteractionComplete",
    "MessageInfo",
    "MessagePage",
    "NewMessage",
    "Token",
    "TokenCache",
    "UnknownEvent",
    "UserMessageAvailable",
    "error_for_response",
    "parse_event",
    "read_ndjson",
]
