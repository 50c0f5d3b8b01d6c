"""``app_uninstalled`` and ``tokens_revoked``: the workspace's tokens are deleted at
once (its next event is refused) and its Slack port dropped (no call goes out with the
old token), then its open conversations are finished in Amigo. For an org-wide install,
all of this for every workspace of the org it served."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore

from slackbot.relay.offboarding import Offboarding
from slackbot.relay.tasks import TaskTracker

log = logging.getLogger("slackbot.uninstall")

Forget = Callable[[str | None, str | None], None]


def register_uninstall(
    app: AsyncApp,
    store: AsyncInstallationStore,
    forget: Forget,
    offboarding: Offboarding,
    tasks: TaskTracker,
) -> None:
    async def remove(context: AsyncBoltContext, what: str) -> None:
        org_wide = bool(context.is_enterprise_install)
        team_id = None if org_wide else context.team_id
        enterprise_id = context.enterprise_id
        await store.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)
        forget(team_id, enterprise_id)
        await offboarding.forget(team_id, enterprise_id)
        log.warning(
            "%s: the tokens of %s are deleted",
            what,
            f"workspace {team_id}" if team_id else f"org {enterprise_id}",
        )
        tasks.spawn(offboarding.left(team_id, enterprise_id), name="offboarding")

    @app.event("app_uninstalled")
    async def uninstalled(context: AsyncBoltContext) -> None:
        await remove(context, "the app was uninstalled")

    @app.event("tokens_revoked")
    async def revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
        tokens = event.get("tokens") or {}
        if tokens.get("bot"):
            await remove(context, "the bot token was revoked")
        elif tokens.get("oauth"):
            # Only people's tokens (the app asks for none of its own): drop the installs
            # that carry them.
            for user_id in tokens["oauth"]:
                await store.async_delete_installation(
                    enterprise_id=context.enterprise_id, team_id=context.team_id, user_id=user_id
                )
