"""The one place that builds the app: settings in, every collaborator passed at
construction, one way in (:attr:`Runtime.slack`) and one way out (:meth:`shutdown`)."""

from __future__ import annotations

import asyncio
import logging

from slackbot.amigo.client import AmigoClient
from slackbot.config import Settings
from slackbot.installing import bot_tokens, instance_id
from slackbot.metrics import Metrics
from slackbot.relay.budgets import SlackBudgets
from slackbot.relay.controls import Controls, Permissions
from slackbot.relay.conversations import Conversations, Identities, IdentityConfig
from slackbot.relay.delivery import Delivery
from slackbot.relay.executor import ExecutorConfig, ReplyFactory, TurnExecutor
from slackbot.relay.feedback import Votes
from slackbot.relay.first_status import FirstStatus
from slackbot.relay.health import HealthCheck
from slackbot.relay.heard import Heard, HeardConfig
from slackbot.relay.home import Home, HomeConfig
from slackbot.relay.inbox import Inbox
from slackbot.relay.insights import Explainer
from slackbot.relay.limits import parse_limits
from slackbot.relay.mentions import Names
from slackbot.relay.offboarding import Offboarding
from slackbot.relay.options import StepsShown, WriterMode
from slackbot.relay.posting import STATUS, THINKING_WORDS
from slackbot.relay.prompts import Prompts, PromptsConfig
from slackbot.relay.reconcile import Reconciler
from slackbot.relay.recovery import Recovery
from slackbot.relay.replies import Replies
from slackbot.relay.services import Service, Services
from slackbot.relay.starts import Starts
from slackbot.relay.suggestions import ReplyMenu, Suggestions
from slackbot.relay.tasks import TaskTracker
from slackbot.relay.voice import Voice, VoiceConfig
from slackbot.relay.watch import Watch
from slackbot.relay.worker import ThreadWorkers, WorkerConfig
from slackbot.relay.workspace import CurrentBudgets
from slackbot.relay.writers import ReplyWriters
from slackbot.slack.app import SlackSurface
from slackbot.slack.files import SlackFiles
from slackbot.slack.introduce import introduce_bot
from slackbot.slack.payloads import Identity
from slackbot.slack.tokens import BotTokens, SingleToken
from slackbot.slack.web_client import ObservedWebClient, web_client
from slackbot.slack.workspaces import CurrentPort, SlackPorts
from slackbot.store.db import create_engine
from slackbot.store.repo import Store

log = logging.getLogger("slackbot.runtime")


RETENTION_SWEEP_SECONDS = 3600.0


class Runtime:
    """Everything one process runs.

    ``replies`` replaces how a reply reaches Slack (the benchmark passes its naive
    writer); by default a reply is a placeholder edited within the workspace's budget.
    ``tokens``: the bot token of each workspace served (by default the one
    ``SLACK_BOT_TOKEN`` of the settings, for its one workspace).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        replies: ReplyFactory | None = None,
        tokens: BotTokens | None = None,
    ) -> None:
        s = self.settings = settings
        self.metrics = Metrics()
        self._sweeper: asyncio.Task[None] | None = None
        self.tasks = TaskTracker()
        self.store = Store(create_engine(s.database_url))
        built, self.installations = bot_tokens(
            s, self.store, lambda team, org: self.offboarding.returned(team, org)
        )
        self._retention: asyncio.Task[None] | None = None
        bot_token = s.slack_bot_token.get_secret_value() if s.slack_bot_token else ""
        self.amigo = AmigoClient(
            s.amigo_base_url,
            s.amigo_organization_id,
            s.amigo_api_key.get_secret_value(),
            s.amigo_api_key_id.get_secret_value(),
            stream_idle_timeout=s.amigo_stream_idle_timeout_seconds,
            on_response=self.metrics.amigo_call,
        )
        self.tokens: BotTokens = tokens if tokens is not None else built
        limits = parse_limits(s.slack_rate_limits)
        # Replicas are on PostgreSQL: they book their Slack calls in one budget there.
        shared = self.store if self.store.dialect == "postgresql" else None
        self.ports = SlackPorts(
            self.tokens,
            s.slack_api_url,
            budgets=lambda workspace: SlackBudgets(
                limits, share=s.slack_rate_limit_share, shared=shared, workspace=workspace
            ),
            metrics=self.metrics,
            single_token=bot_token if isinstance(self.tokens, SingleToken) else None,
        )
        """A Slack port per workspace; the relay gets the facades below, which speak for
        the workspace the running work is for."""
        self.port = CurrentPort(self.ports)
        self.budgets = CurrentBudgets(lambda: self.ports.port().budgets)
        single = self.ports.port().client if self.ports.single else None
        client = single or web_client(bot_token, s.slack_api_url)  # Bolt's own
        self._bolt_client = None if single else client
        self.files = SlackFiles(bot_token if single else self.ports.token, s.slack_api_url)
        # Replies that show a status first (all but edited placeholders) show it early.
        self.first_status = (
            None
            if s.slack_reply_writer == WriterMode.EDIT
            else FirstStatus(
                self.port, self.budgets, self.tasks, status=STATUS, words=THINKING_WORDS
            )
        )
        self.writers = ReplyWriters(
            self.port,
            self.budgets,
            mode=s.slack_reply_writer,
            steps=s.amigo_show_agent_steps,
            edit_interval=s.slack_edit_interval_seconds,
            meter=self.metrics,
            first_status=self.first_status,
        )
        identities = Identities(
            self.store,
            self.amigo,
            self.port,
            IdentityConfig(
                provisioning_user_id=s.amigo_user_id,
                role_name=s.amigo_user_role,
                email_template=s.amigo_user_email_template,
            ),
        )
        self.watch = Watch()
        conversations = Conversations(
            self.store, self.amigo, self.port, s.amigo_on_active_conversation, self.watch
        )
        suggestions = Suggestions(self.store, self.amigo, self.port, s.amigo_suggestions)
        self.prompts = Prompts(
            self.amigo,
            self.port,
            PromptsConfig(
                service_id=s.amigo_service_id,
                version_set=s.amigo_version_set,
                facets=s.starter_facets,
                instructions=s.amigo_starter_instructions,
                fallback=s.starter_prompts,
                expiry=s.amigo_starters_cache_seconds,
            ),
            as_user=s.amigo_user_id,
        )
        endings = Replies(
            store=self.store,
            slack=self.port,
            conversations=conversations,
            delivery=Delivery(self.port),
            extras=ReplyMenu(self.store, suggestions),
            meter=self.metrics,
        )
        names = Names(self.port)
        heard = Heard(
            self.store,
            self.port,
            self.amigo,
            names,
            HeardConfig(
                share=s.amigo_share_thread,
                max_messages=s.amigo_share_thread_messages,
                max_chars=s.amigo_share_thread_chars,
            ),
        )
        org_of = self.installations.rows.org_of if self.installations else None
        permissions = Permissions(self.port, s.admin_user_ids, org_of)
        self.services = Services(
            self.store,
            self.amigo,
            permissions,
            default=Service(s.amigo_service_id, s.amigo_version_set),
            as_user=s.amigo_user_id,
        )
        executor = TurnExecutor(
            store=self.store,
            amigo=self.amigo,
            slack=self.port,
            conversations=conversations,
            starts=Starts(self.store, identities, conversations, self.services),
            names=names,
            prompts=self.prompts,
            replies=replies or self.writers,
            endings=endings,
            reconciler=Reconciler(self.store, self.amigo, s.amigo_service_id),
            config=ExecutorConfig(
                service_id=s.amigo_service_id,
                version_set=s.amigo_version_set,
                retry_attempts=s.amigo_retry_attempts,
                retry_max_wait=s.amigo_retry_max_wait_seconds,
                show_steps=s.amigo_show_agent_steps != StepsShown.OFF,
            ),
            meter=self.metrics,
            heard=heard,
            voice=Voice(
                self.files,
                VoiceConfig(
                    enabled=s.amigo_voice,
                    max_bytes=int(s.amigo_voice_max_mb * 1_000_000),
                    max_seconds=s.amigo_voice_max_seconds,
                ),
            ),
        )
        self.workers = ThreadWorkers(
            self.store,
            executor,
            self.tasks,
            WorkerConfig(
                holder=instance_id(),
                lease_seconds=s.thread_lease_seconds,
                coalesce_replies=s.amigo_coalesce_replies,
            ),
        )
        self.inbox = Inbox(self.store, self.port, self.workers, heard, self.first_status)
        self.controls = Controls(
            store=self.store,
            amigo=self.amigo,
            slack=self.port,
            conversations=conversations,
            suggestions=suggestions,
            permissions=permissions,
            inbox=self.inbox,
        )
        self.explainer = Explainer(self.store, self.amigo, self.port, permissions, s.amigo_insights)
        self.home = Home(
            store=self.store,
            amigo=self.amigo,
            slack=self.port,
            controls=self.controls,
            permissions=permissions,
            health=HealthCheck(
                self.store,
                self.amigo,
                self.budgets,
                as_user=s.amigo_user_id,
                service_id=s.amigo_service_id,
            ),
            tasks=self.tasks,
            watch=self.watch,
            config=HomeConfig(service_id=s.amigo_service_id),
            workspace_url=lambda: self.port.workspace_url,
            services=self.services,
        )
        self.offboarding = Offboarding(
            self.store, conversations, s.uninstalled_retention_days, self.ports.forget
        )
        self.recovery = Recovery(
            self.store, self.port, self.inbox, self.workers, permissions.may_act, self.metrics
        )
        self.identity = Identity()
        """Who the app is in Slack; learned from Slack at start-up (:meth:`introduce`)."""
        secret = s.slack_signing_secret
        self.slack = SlackSurface(
            client,
            signing_secret=secret.get_secret_value() if secret else "",
            verify_requests=not s.socket_mode,
            inbox=self.inbox,
            controls=self.controls,
            explainer=self.explainer,
            votes=Votes(self.store, self.amigo, self.metrics, self.watch),
            recovery=self.recovery,
            prompts=self.prompts,
            home=self.home,
            services=self.services,
            port=self.port,
            tasks=self.tasks,
            identity=self._identity,
            metrics=self.metrics,
            installations=self.installations,
            offboarding=self.offboarding,
        )

    async def _identity(self, team_id: str | None, enterprise_id: str | None) -> Identity | None:
        """Who the app is in a workspace an event came from (None: not installed there)."""
        if self.ports.single:
            return self.identity  # its team: the one workspace; others' events are refused
        return await self.ports.identity(team_id, enterprise_id, self.identity.app_id)

    async def introduce(self) -> str | None:
        """Ask Slack who the bot is and log where it runs; Slack's error when it
        refuses the bot token (a network failure is logged, not fatal)."""
        s = self.settings
        refused = await self._introduce_slack() if self.ports.single else None
        if self.installations is not None:
            log.info("Slack: serving every workspace that installs the app (/slack/install)")
        elif not self.ports.single:
            log.info("Slack: serving every workspace the app is installed in")
        log.info(
            "Amigo: organization %s at %s, service %s, version set %s",
            s.amigo_organization_id,
            s.amigo_base_url,
            s.amigo_service_id,
            s.amigo_version_set,
        )
        return refused

    async def _introduce_slack(self) -> str | None:
        identity, refused = await introduce_bot(self.ports.port(), self.settings.slack_api_url)
        if identity is not None:
            self.identity = identity
        return refused

    async def start(self) -> None:
        """Pick up after the last stop (interrupted replies marked, queued turns run),
        then keep sweeping for the threads of replicas that stop."""
        await self.recovery.sweep()
        if self.installations is not None:
            self._retention = asyncio.create_task(
                self.offboarding.sweep_forever(RETENTION_SWEEP_SECONDS), name="retention"
            )
        interval = max(0.5, self.settings.thread_lease_seconds / 3)
        self._sweeper = asyncio.create_task(self.recovery.sweep_forever(interval), name="sweeper")

    async def shutdown(self) -> None:
        """Stop taking turns, let running replies finish within the grace period;
        those cut short are marked interrupted, queued ones wait for the next start."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._retention is not None:
            self._retention.cancel()
        self.workers.stop()
        cancelled = await self.tasks.drain(self.settings.shutdown_grace_seconds)
        if cancelled:
            log.warning("shutdown cut %d running task(s) short", cancelled)
        await self.amigo.aclose()
        await self.ports.aclose()
        if isinstance(self._bolt_client, ObservedWebClient):
            await self._bolt_client.aclose()
        await self.files.aclose()
        await self.store.close()
