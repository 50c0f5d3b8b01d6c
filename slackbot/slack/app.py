"""Assembles the app: settings in, a Bolt AsyncApp and the relay behind it out."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from slackbot.amigo.client import AmigoClient
from slackbot.config import Settings
from slackbot.relay.controls import Controls, ControlsConfig
from slackbot.relay.conversations import Conversations, Identities, IdentityConfig
from slackbot.relay.inbox import Inbox
from slackbot.relay.pacing import ChannelPacer, EditBudget
from slackbot.relay.recovery import Recovery
from slackbot.relay.stream import EditingReply, EditPerPieceReply, ReplySink
from slackbot.relay.tasks import TaskTracker
from slackbot.relay.turns import TurnConfig, TurnRunner
from slackbot.slack.actions import register_actions
from slackbot.slack.commands import register_commands
from slackbot.slack.events import register_events
from slackbot.slack.hooks import SlackReplyHooks
from slackbot.slack.retry import register_retry, retry_blocks
from slackbot.slack.web_port import TOKEN_REFUSED, WebApiPort, web_client
from slackbot.store.db import create_engine
from slackbot.store.repo import Store

log = logging.getLogger("slackbot.app")


def _skip_token_warning(record: logging.LogRecord) -> bool:
    """Bolt warns that SLACK_BOT_TOKEN goes unused when a client is given; our client
    is built from that very token, so the warning would only puzzle admins."""
    return "`token` will be unused" not in record.getMessage()


def instance_id() -> str:
    """Names this process in thread leases (and in logs of several replicas)."""
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Runtime:
    """Everything one process runs, with one way in (:attr:`bolt`) and one way out
    (:meth:`shutdown`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._sweeper: asyncio.Task[None] | None = None
        self.tasks = TaskTracker()
        self.store = Store(create_engine(settings.database_url))
        self.amigo = AmigoClient(
            settings.amigo_base_url,
            settings.amigo_organization_id,
            settings.amigo_api_key.get_secret_value(),
            settings.amigo_api_key_id.get_secret_value(),
            stream_idle_timeout=settings.amigo_stream_idle_timeout_seconds,
        )
        self.edit_budget = EditBudget(settings.slack_edits_per_minute, settings.slack_edit_burst)
        client = web_client(
            settings.slack_bot_token.get_secret_value(),
            settings.slack_api_url,
            on_rate_limited=self._rate_limited,
        )
        self.slack = WebApiPort(client, ChannelPacer(settings.slack_posts_per_second))
        identities = Identities(
            self.store,
            self.amigo,
            self.slack,
            IdentityConfig(
                provisioning_user_id=settings.amigo_user_id,
                role_name=settings.amigo_user_role,
                email_template=settings.amigo_user_email_template,
            ),
        )
        self.conversations = Conversations(
            self.store, self.amigo, self.slack, settings.amigo_on_active_conversation
        )
        self.runner = TurnRunner(
            store=self.store,
            amigo=self.amigo,
            slack=self.slack,
            identities=identities,
            conversations=self.conversations,
            tasks=self.tasks,
            reply_factory=self._new_reply,
            config=TurnConfig(
                service_id=settings.amigo_service_id,
                version_set=settings.amigo_version_set,
                retry_attempts=settings.amigo_retry_attempts,
                retry_max_wait=settings.amigo_retry_max_wait_seconds,
                coalesce_replies=settings.amigo_coalesce_replies,
                instance_id=instance_id(),
                lease_seconds=settings.thread_lease_seconds,
            ),
        )
        self.runner.retry_blocks = retry_blocks
        self.inbox = Inbox(self.store, self.slack, self.runner)
        self.controls = Controls(
            store=self.store,
            amigo=self.amigo,
            slack=self.slack,
            conversations=self.conversations,
            inbox=self.inbox,
            config=ControlsConfig(
                admin_user_ids=settings.admin_user_ids, suggestions=settings.amigo_suggestions
            ),
        )
        self.runner.hooks = SlackReplyHooks(self.controls)
        self.recovery = Recovery(self.store, self.slack, self.runner, self.controls.may_act)
        secret = settings.slack_signing_secret
        bolt_log = logging.getLogger("slackbot.bolt")
        bolt_log.addFilter(_skip_token_warning)
        self.bolt = AsyncApp(
            client=client,
            signing_secret=secret.get_secret_value() if secret else "",
            request_verification_enabled=not settings.socket_mode,
            logger=bolt_log,
        )
        register_events(self.bolt, self.inbox, self.slack, self.tasks)
        register_commands(self.bolt, self.controls, self.slack, self.tasks)
        register_actions(self.bolt, self.controls, self.slack, self.tasks)
        register_retry(self.bolt, self.recovery, self.slack, self.tasks)

    def _rate_limited(self, method: str, retry_after: float) -> None:
        log.warning("Slack rate-limited %s for %.0f s", method, retry_after)
        if method in ("chat.update", "chat.delete"):
            self.edit_budget.pause(retry_after)

    def _new_reply(self, channel: str, thread_ts: str) -> ReplySink:
        if self.settings.slack_reply_writer == "edit-per-piece":
            return EditPerPieceReply(self.slack, channel, thread_ts)
        return EditingReply(
            self.slack,
            channel,
            thread_ts,
            min_interval=self.settings.slack_edit_interval_seconds,
            pacer=self.edit_budget,
        )

    async def introduce(self) -> str | None:
        """Ask Slack who the bot is and log where it runs; Slack's error when it
        refuses the bot token (a network failure is logged, not fatal)."""
        try:
            auth = await self.bolt.client.auth_test()
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in TOKEN_REFUSED:
                return error
            log.warning("Slack: auth.test answered %s; going on", error)
        except Exception as exc:
            log.warning(
                "Slack: cannot reach %s yet (%s); going on",
                self.settings.slack_api_url,
                type(exc).__name__,
            )
        else:
            log.info(
                "Slack: workspace %s (%s), bot user @%s",
                auth.get("team"),
                auth.get("team_id"),
                auth.get("user"),
            )
        s = self.settings
        log.info(
            "Amigo: organization %s at %s, service %s, version set %s",
            s.amigo_organization_id,
            s.amigo_base_url,
            s.amigo_service_id,
            s.amigo_version_set,
        )
        return None

    async def start(self) -> None:
        """Pick up after the last stop (interrupted replies marked, queued turns run),
        then keep sweeping for the threads of replicas that stop."""
        await self.recovery.sweep()
        interval = max(0.5, self.settings.thread_lease_seconds / 3)
        self._sweeper = asyncio.create_task(self.recovery.sweep_forever(interval), name="sweeper")

    async def shutdown(self) -> None:
        """Stop taking turns, let running replies finish within the grace period;
        those cut short are marked interrupted, queued ones wait for the next start."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        self.runner.stop()
        cancelled = await self.tasks.drain(self.settings.shutdown_grace_seconds)
        if cancelled:
            log.warning("shutdown cut %d running task(s) short", cancelled)
        await self.amigo.aclose()
        await self.store.close()
