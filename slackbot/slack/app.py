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
from slackbot.relay.offboarding import Offboarding
from slackbot.relay.ports import SlackPort
from slackbot.relay.prompts import Prompts
from slackbot.relay.recovery import Recovery
from slackbot.relay.services import Services
from slackbot.relay.tasks import TaskTracker
from slackbot.slack.actions import register_actions
from slackbot.slack.agent import register_agent
from slackbot.slack.channel_services import register_channel_services
from slackbot.slack.commands import register_commands
from slackbot.slack.edge import Edge
from slackbot.slack.events import register_events
from slackbot.slack.feedback import register_feedback
from slackbot.slack.oauth import Installations
from slackbot.slack.payloads import Identity, workspace_of
from slackbot.slack.retry import register_retry
from slackbot.slack.uninstall import register_uninstall


def _quiet_bolt(record: logging.LogRecord) -> bool:
    """Bolt warns that SLACK_BOT_TOKEN goes unused when a client is given (our client is
    built from that very token), and writes a long warning with sample code for every
    request no listener handles (the edge logs those, briefly): neither helps an admin."""
    message = record.getMessage()
    if message.startswith("Although the app should be installed"):
        return False  # the refusal of an uninstalled workspace: our authorize logs it
    return "`token` will be unused" not in message and not message.startswith("Unhandled request")


def _oauth_options(installations: Installations | None) -> dict[str, Any]:
    """With OAuth, Bolt runs its install flow, and each request gets its workspace's
    token from the installs (without, the client's single token serves every request)."""
    if installations is None:
        return {}
    return {
        "authorize": installations.authorize,
        "oauth_flow": installations.flow,
        "installation_store": installations.store,
    }


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
        services: Services,
        port: SlackPort,
        tasks: TaskTracker,
        identity: Callable[[str | None, str | None], Awaitable[Identity | None]],
        metrics: Metrics,
        installations: Installations | None = None,
        offboarding: Offboarding | None = None,
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
            **_oauth_options(installations),
        )
        self.bolt.middleware(_in_workspace)
        register_events(self.bolt, inbox, port, tasks, identity, metrics)
        register_commands(self.bolt, controls, explainer, services, port, tasks)
        register_actions(self.bolt, controls, explainer, port, tasks)
        register_retry(self.bolt, recovery, port, tasks)
        register_agent(self.bolt, prompts, home, tasks)
        register_channel_services(self.bolt, services, home, port, tasks)
        register_feedback(self.bolt, votes, port, tasks)
        if installations is not None and offboarding is not None:
            store, forget = installations.store, installations.tokens.forget
            register_uninstall(self.bolt, store, forget, offboarding, tasks)
        self._edge = Edge(self.bolt, signing_secret)

    async def handle(self, request: Request) -> Response:
        """POST /slack/events: events, slash commands and interactivity."""
        return await self._edge.handle(request)
