"""The Bolt app: Slack's requests in, the relay's entry points behind them.

Bolt verifies every HTTP request's signature and timestamp before a listener runs;
listeners are thin and hand their work to the relay as tracked background tasks. A
middleware first sets the workspace the request is for (:mod:`slackbot.relay.workspace`),
so that everything a listener starts talks to that workspace's Slack.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import Response

from slackbot.metrics import Metrics
from slackbot.relay import workspace
from slackbot.relay.controls import Controls
from slackbot.relay.feedback import Votes
from slackbot.relay.home import Home
from slackbot.relay.inbox import Inbox
from slackbot.relay.insights import Explainer
from slackbot.relay.ports import SlackPort
from slackbot.relay.prompts import Prompts
from slackbot.relay.recovery import Recovery
from slackbot.relay.tasks import TaskTracker
from slackbot.slack.actions import register_actions
from slackbot.slack.agent import register_agent
from slackbot.slack.commands import register_commands
from slackbot.slack.edge import Edge
from slackbot.slack.events import register_events
from slackbot.slack.feedback import register_feedback
from slackbot.slack.payloads import Identity, workspace_of
from slackbot.slack.retry import register_retry


def _quiet_bolt(record: logging.LogRecord) -> bool:
    """Bolt warns that SLACK_BOT_TOKEN goes unused when a client is given (our client is
    built from that very token), and writes a long warning with sample code for every
    request no listener handles (the edge logs those, briefly): neither helps an admin."""
    message = record.getMessage()
    return "`token` will be unused" not in message and not message.startswith("Unhandled request")


async def _in_workspace(
    body: dict[str, Any],
    context: AsyncBoltContext,
    resp: BoltResponse,
    next: Callable[[], Awaitable[None]],  # Bolt passes it by this name
) -> BoltResponse:
    """The rest of the request (its listener, and the tasks the listener starts) works for
    the request's workspace. Set, not reset: Bolt runs listeners after the middleware
    returns, in the request's own task."""
    workspace.enter(*workspace_of(body, context.team_id, context.enterprise_id))
    await next()
    return resp


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
        explainer: Explainer,
        votes: Votes,
        recovery: Recovery,
        prompts: Prompts,
        home: Home,
        port: SlackPort,
        tasks: TaskTracker,
        identity: Callable[[str | None, str | None], Awaitable[Identity | None]],
        metrics: Metrics,
    ) -> None:
        bolt_log = logging.getLogger("slackbot.bolt")
        bolt_log.addFilter(_quiet_bolt)
        self.bolt = AsyncApp(
            client=client,
            signing_secret=signing_secret,
            # Socket Mode needs no signature: the connection itself is authenticated.
            request_verification_enabled=verify_requests,
            # Slack hears back only when a listener returns: a message is saved first.
            process_before_response=True,
            logger=bolt_log,
        )
        self.bolt.middleware(_in_workspace)
        register_events(self.bolt, inbox, port, tasks, identity, metrics)
        register_commands(self.bolt, controls, explainer, port, tasks)
        register_actions(self.bolt, controls, explainer, port, tasks)
        register_retry(self.bolt, recovery, port, tasks)
        register_agent(self.bolt, prompts, home, tasks)
        register_feedback(self.bolt, votes, port, tasks)
        self._edge = Edge(self.bolt, signing_secret)

    async def handle(self, request: Request) -> Response:
        """POST /slack/events: events, slash commands and interactivity."""
        return await self._edge.handle(request)
