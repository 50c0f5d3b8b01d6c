"""Who the bot is in its one workspace, asked of Slack at start-up (single-token mode)."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from slackbot.slack.payloads import Identity
from slackbot.slack.web_client import TOKEN_REFUSED
from slackbot.slack.web_port import WebApiPort

log = logging.getLogger("slackbot.runtime")


async def introduce_bot(port: WebApiPort, api_url: str) -> tuple[Identity | None, str | None]:
    """The bot's identity (None when Slack could not say), and Slack's error when it
    refuses the bot token; a network failure is logged, not fatal. The port learns its
    workspace and address."""
    try:
        auth = await port.client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error in TOKEN_REFUSED:
            return None, error
        log.warning("Slack: auth.test answered %s; going on", error)
        return None, None
    except Exception as exc:
        log.warning("Slack: cannot reach %s yet (%s); going on", api_url, exc)
        return None, None
    port.team_id = auth.get("team_id")
    port.workspace_url = auth.get("url") or None
    identity = Identity(
        bot_user_id=str(auth.get("user_id") or ""),
        team_id=auth.get("team_id"),
        app_id=await _app_id(port, auth.get("bot_id")),
    )
    log.info(
        "Slack: workspace %s (%s), bot user @%s",
        auth.get("team"),
        auth.get("team_id"),
        auth.get("user"),
    )
    return identity, None


async def _app_id(port: WebApiPort, bot_id: object) -> str | None:
    """The app's id, to refuse events meant for another app (None: not checked)."""
    if not isinstance(bot_id, str):
        return None
    try:
        info = await port.client.bots_info(bot=bot_id)
    except Exception as exc:
        log.warning("Slack: bots.info failed (%s); events are not checked by app", exc)
        return None
    app_id = (info.get("bot") or {}).get("app_id")
    return str(app_id) if app_id else None
