"""The Bolt app: Slack's requests in, the relay's entry points behind them.

Bolt verifies every HTTP request's signature and timestamp before a listener runs;
listeners are thin and hand their work to the relay as tracked background tasks.
"""

from __future__ import annotations

import logging

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import Response

from slackbot.relay.controls import Controls
from slackbot.relay.inbox import Inbox
from slackbot.relay.recovery import Recovery
from slackbot.relay.tasks import TaskTracker
from slackbot.slack.actions import register_actions
from slackbot.slack.commands import register_commands
from slackbot.slack.events import register_events
from slackbot.slack.retry import register_retry
from slackbot.slack.web_port import WebApiPort


def _skip_token_warning(record: logging.LogRecord) -> bool:
    """Bolt warns that SLACK_BOT_TOKEN goes unused when a client is given; our client
    is built from that very token, so the warning would only puzzle admins."""
    return "`token` will be unused" not in record.getMessage()


class SlackSurface:
    """The Bolt app with every listener registered, and its HTTP endpoint."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        signing_secret: str,
        verify_requests: bool,
        inbox: Inbox,
        controls: Controls,
        recovery: Recovery,
        port: WebApiPort,
        tasks: TaskTracker,
    ) -> None:
        bolt_log = logging.getLogger("slackbot.bolt")
        bolt_log.addFilter(_skip_token_warning)
        self.bolt = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            # Socket Mode needs no signature: the connection itself is authenticated.
            request_verification_enabled=verify_requests,
            logger=bolt_log,
        )
        register_events(self.bolt, inbox, port, tasks)
        register_commands(self.bolt, controls, port, tasks)
        register_actions(self.bolt, controls, port, tasks)
        register_retry(self.bolt, recovery, port, tasks)
        self._http = AsyncSlackRequestHandler(self.bolt)

    async def handle(self, request: Request) -> Response:
        """POST /slack/events: events, slash commands and interactivity."""
        return await self._http.handle(request)
